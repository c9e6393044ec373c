"""Offset analysis: which index expression of which kernel leaves int32, and at which M.

Each kernel's index arithmetic is listed below as named expressions (the names follow the course's
upstream analysis: C = colmajor, P = packed). With ``index="int32"`` (the bug as shipped) the expressions
marked ``i32`` are computed in 32-bit and wrap; with ``index="int64"`` (the fix: the program id is
widened *before* the multiply) every expression is 64-bit. Pointer arithmetic itself is 64-bit: a
pointer only goes wrong through a wrapped offset added to it.

Everything here is exact integer arithmetic on the host; no GPU needed.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Callable

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
GRID_LIMITS = (2**31 - 1, 65_535, 65_535)  # CUDA gridDim.x, .y, .z
GROUP = 128
ALIGN = 128  # vLLM's M_sum is a multiple of DeepGEMM's alignment (128)
KERNELS = ("colmajor", "packed")


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def round_up(a: int, b: int) -> int:
    return cdiv(a, b) * b


def wrap_int32(v: int) -> int:
    """What an int32 register holds after computing v: two's complement wrap-around."""
    return (v + 2**31) % 2**32 - 2**31


def moe_workspace_rows(tokens_per_rank: int, dp_ranks: int, topk: int, local_experts: int,
                       align: int = ALIGN) -> int:
    """vLLM's worst-case M_sum (compute_aligned_M when per-expert counts are unknown).

    Every rank's tokens may be routed to this rank's experts, each token to topk of them, and every
    local expert's segment is padded up to the alignment.
    """
    return round_up(tokens_per_rank * dp_ranks * topk + local_experts * (align - 1), align)


@dataclasses.dataclass(frozen=True)
class Expr:
    name: str
    text: str                      # the expression as the kernel computes it
    value: Callable[[int, int, int], int]  # largest value reached, f(M, N, block_m)
    i32_when_int32: bool = True    # computed in int32 by the int32 variant


def _last_row0(m: int, b: int) -> int:
    return (cdiv(m, b) - 1) * b


EXPRS = {
    "colmajor": (
        Expr("C3", "row0 = (tile // col_blocks) * BLOCK_M", lambda m, n, b: _last_row0(m, b)),
        Expr("C1", "input block base = row0 * N", lambda m, n, b: _last_row0(m, b) * n),
        Expr("C2", "output block base = row0 * N/2", lambda m, n, b: _last_row0(m, b) * (n // 2)),
        Expr("S1", "scale column base = group * round_up(M,4)",
             lambda m, n, b: (n // 2 // GROUP - 1) * round_up(m, 4)),
    ),
    "packed": (
        Expr("P1", "input row offset = row * N", lambda m, n, b: (m - 1) * n),
        Expr("P2", "output row offset = row * N/2", lambda m, n, b: (m - 1) * (n // 2)),
        Expr("P3", "scale column base = pid_pack * round_up(M,4)",
             lambda m, n, b: (cdiv(n // 2 // GROUP, 4) - 1) * round_up(m, 4)),
    ),
}


def pointer_extents(kernel: str, m: int, n: int) -> dict[str, int]:
    """Largest element offset each pointer dereferences (exact, 64-bit)."""
    g = n // 2 // GROUP
    cols = g if kernel == "colmajor" else cdiv(g, 4)
    return {"input": m * n - 1, "output": m * (n // 2) - 1,
            "scales": (cols - 1) * round_up(m, 4) + m - 1}


def grid(kernel: str, m: int, n: int, block_m: int = 8, rows_axis: int = 0,
         groups_per_program: int = 1) -> tuple[int, ...]:
    """The launch grid. rows_axis=0: the course's 1-D grid of (row block, column block) tiles;
    rows_axis=1: upstream's packed grid (words, row blocks)."""
    g = n // 2 // GROUP
    row_blocks = cdiv(m, block_m)
    cols = g // groups_per_program if kernel == "colmajor" else cdiv(g, 4)
    return (row_blocks * cols,) if rows_axis == 0 else (cols, row_blocks)


def _first_m(fails: Callable[[int], bool], multiple: int = 1, hi: int = 2**44) -> int | None:
    """Smallest M (a multiple of `multiple`) with fails(M), for fails monotone in M; None below hi."""
    lo, hi = 1, hi // multiple
    if not fails(hi * multiple):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if fails(mid * multiple):
            hi = mid
        else:
            lo = mid + 1
    return lo * multiple


def first_bad_m(kernel: str, name: str, n: int, block_m: int = 8, multiple: int = 1) -> int | None:
    """First M (among multiples of `multiple`) at which expression `name` leaves int32.

    multiple=8 gives the figure for the upstream colmajor kernel, which only accepts
    M % 8 == 0 (524,296 for N = 4096); multiple=128 the first M a vLLM workspace can have.
    """
    e = next(e for e in EXPRS[kernel] if e.name == name)
    return _first_m(lambda m: e.value(m, n, block_m) > INT32_MAX, multiple)


@dataclasses.dataclass
class Analysis:
    kernel: str
    M: int
    N: int
    index: str
    rows_axis: int
    block_m: int
    exprs: list[dict]
    pointers: dict[str, dict]
    grid: dict
    problems: list[str]

    @property
    def safe(self) -> bool:
        return not self.problems

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self) | {"safe": self.safe}, indent=2)

    def table(self) -> str:
        out = [f"{self.kernel} kernel, M = {self.M:,}, N = {self.N:,}, index = {self.index}, "
               f"rows on grid axis {self.rows_axis}, BLOCK_M = {self.block_m}",
               f"int32 max = {INT32_MAX:,}", ""]
        w = max(len(e["text"]) for e in self.exprs) + 5
        out.append(f"{'expression':<{w}} {'type':>5} {'largest value':>16} {'fits':>5} "
                   f"{'as int32':>15} {'first bad M':>12} {'(mult. of 128)':>14}")
        for e in self.exprs:
            first = f"{e['first_bad_M']:,}" if e["first_bad_M"] else "-"
            first128 = f"{e['first_bad_M_aligned']:,}" if e["first_bad_M_aligned"] else "-"
            out.append(f"{e['name'] + ' ' + e['text']:<{w}} {e['type']:>5} {e['max']:>16,} "
                       f"{'yes' if e['fits'] else 'NO':>5} {e['as_computed']:>15,} {first:>12} "
                       f"{first128:>14}")
        out.append("")
        for name, p in self.pointers.items():
            out.append(f"largest {name} offset {p['max']:>16,}  "
                       f"({'within' if p['fits_int32'] else 'beyond'} int32)")
        g = self.grid
        axes = ", ".join(f"axis {i}: {s:,} (limit {lim:,})" for i, (s, lim)
                         in enumerate(zip(g["size"], g["limits"])))
        out.append(f"grid {axes}" + ("" if g["ok"] else
                   f"  -> TOO LARGE from M = {g['first_bad_M']:,}"))
        out.append("")
        out.append("verdict: " + ("safe" if self.safe else "; ".join(self.problems)))
        return "\n".join(out)


def analyze(kernel: str, m: int, n: int, index: str = "int64", rows_axis: int = 0,
            block_m: int = 8, groups_per_program: int = 1) -> Analysis:
    """Offsets and grid of one launch. See the module docstring for what 'type' means."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if index not in ("int32", "int64"):
        raise ValueError(f"index must be 'int32' or 'int64', got {index!r}")
    if kernel == "colmajor" and rows_axis != 0:
        raise ValueError("the colmajor kernel always puts rows on grid axis 0")
    if m < 1 or n < 256 or n % 256:
        raise ValueError(f"need M >= 1 and N a positive multiple of 256, got M={m}, N={n}")
    problems = []
    exprs = []
    for e in EXPRS[kernel]:
        typ = "i32" if index == "int32" and e.i32_when_int32 else "i64"
        limit = INT32_MAX if typ == "i32" else INT64_MAX
        v = e.value(m, n, block_m)
        first = first_bad_m(kernel, e.name, n, block_m) if typ == "i32" else None
        exprs.append({"name": e.name, "text": e.text, "type": typ, "max": v, "fits": v <= limit,
                      "as_computed": wrap_int32(v) if typ == "i32" else v,
                      "first_bad_M": first,
                      "first_bad_M_aligned": (first_bad_m(kernel, e.name, n, block_m, ALIGN)
                                              if first else None)})
        if v > limit:
            problems.append(f"{e.name} ({e.text}) reaches {v:,} > int32 max and wraps to "
                            f"{wrap_int32(v):,} (first failing M = {first:,})")
    size = grid(kernel, m, n, block_m, rows_axis, groups_per_program)
    lim = GRID_LIMITS[: len(size)]
    ok = all(s <= l for s, l in zip(size, lim))
    first_grid = _first_m(lambda mm: any(
        s > l for s, l in zip(grid(kernel, mm, n, block_m, rows_axis, groups_per_program), lim)))
    if not ok:
        axis = next(i for i, (s, l) in enumerate(zip(size, lim)) if s > l)
        problems.append(f"grid axis {axis} = {size[axis]:,} > CUDA's limit {lim[axis]:,}: the launch "
                        f"fails with 'invalid argument' (first failing M = {first_grid:,})")
    pointers = {k: {"max": v, "fits_int32": v <= INT32_MAX}
                for k, v in pointer_extents(kernel, m, n).items()}
    return Analysis(kernel, m, n, index, rows_axis, block_m, exprs, pointers,
                    {"size": list(size), "limits": list(lim), "ok": ok,
                     "first_bad_M": first_grid}, problems)
