"""Offset analysis: every integer expression each kernel evaluates, its type, and where it wraps.

The kernels' index arithmetic is listed below as named expressions, in the order the kernel evaluates
them, sums included. Tags (they also mark the lines in kernels/colmajor.py and kernels/packed.py):

    C1..C9  colmajor kernel: block bases (C1, C2), the block's first row (C3), in-block offsets
            (C4, C5, C7), column / row / group indices (C6, C8, C9)
    S1, S2  colmajor kernel, scale store: group column base and the full scale offset
    P1..P9  packed kernel: row offsets (P1, P2), word column base (P3), group offsets (P5, P6, P7),
            row / group indices (P8, P9). P4 is not an expression: it is the grid-axis-1 limit of
            upstream's packed grid (65,535 row blocks), reported under "grid".

Types follow Triton's rules: ``tl.program_id`` and ``tl.arange`` are int32; a Python int argument is
int32 when it fits in int32, else int64; int32 op int32 stays int32 and wraps; int32 op int64 is int64.
With ``index="int32"`` (the bug as shipped) everything derived from the program id is int32; with
``index="int64"`` (the fix: the program id is widened *before* anything is multiplied) it is int64,
but ``rows * N`` and ``rows * half`` (``rows = tl.arange``) stay int32 in the colmajor kernel.

Order matters: ``x_ptr + a + b`` is ``(x_ptr + a) + b``: ``b`` is added to a 64-bit pointer and
cannot wrap, whereas in ``x_ptr + (a + b)`` the sum ``a + b`` is computed first, in int32 if both are.
A wrapped value is harmful only where it is used: "largest value" is taken over the lanes whose
load or store is not masked off (and, for values that feed a mask, over every lane).

Everything is exact integer arithmetic on the host (closed forms); no GPU needed.
kernels/probe.py checks these figures against the kernels' own arithmetic, run by Triton's interpreter.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from typing import Callable, Literal

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
GRID_LIMITS = (2**31 - 1, 65_535, 65_535)  # CUDA gridDim.x, .y, .z
GROUP = 128                                 # output columns per scale
GROUPS_PER_WORD = 4                         # packed kernel: UE8M0 bytes per int32 word
ALIGN = 128  # vLLM's M_sum is a multiple of DeepGEMM's alignment (128)
KERNELS = ("colmajor", "packed")
Kernel = Literal["colmajor", "packed"]
Index = Literal["int32", "int64"]


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def round_up(a: int, b: int) -> int:
    return cdiv(a, b) * b


def wrap_int32(v: int) -> int:
    """What an int32 register holds after computing v: two's complement wrap-around."""
    return (v + 2**31) % 2**32 - 2**31


def wrap_int64(v: int) -> int:
    """What an int64 register holds after computing v."""
    return (v + 2**63) % 2**64 - 2**63


def moe_workspace_rows(tokens_per_rank: int, dp_ranks: int, topk: int, local_experts: int,
                       align: int = ALIGN) -> int:
    """vLLM's worst-case M_sum (compute_aligned_M when per-expert counts are unknown).

    Every rank's tokens may be routed to this rank's experts, each token to topk of them, and every
    local expert's segment is padded up to the alignment.
    """
    return round_up(tokens_per_rank * dp_ranks * topk + local_experts * (align - 1), align)


# ------------------------------------------------------------------------------------- the grid


def row_blocks(m: int, block_m: int) -> int:
    """Row blocks of a launch. They cover the scale buffer's TMA-aligned rows, round_up(M, 4): the
    kernels write 0 into the scales of the padding rows M .. round_up(M, 4) - 1 (rows >= M are
    masked everywhere else). For block_m >= 4 this equals cdiv(M, block_m)."""
    return cdiv(round_up(m, 4), block_m)


def column_programs(kernel: str, n: int, groups_per_program: int = 1) -> int:
    """Programs per row block: colmajor, 128-column groups / groups_per_program (which must divide
    them); packed, packed words (4 groups each)."""
    g = n // 2 // GROUP
    if kernel == "packed":
        return cdiv(g, GROUPS_PER_WORD)
    if groups_per_program < 1 or g % groups_per_program:
        raise ValueError(f"groups_per_program = {groups_per_program} must divide the {g} groups of "
                         f"N = {n:,}")
    return g // groups_per_program


def grid(kernel: str, m: int, n: int, block_m: int = 8, rows_axis: int = 0,
         groups_per_program: int = 1) -> tuple[int, ...]:
    """The launch grid, exactly as the launchers compute it (they call this function).

    rows_axis=0: the course's 1-D grid of (row block, column program) tiles, column programs
    fastest; rows_axis=1 (packed only): upstream's 2-D grid (words, row blocks)."""
    rows = row_blocks(m, block_m)
    cols = column_programs(kernel, n, groups_per_program)
    return (rows * cols,) if rows_axis == 0 else (cols, rows)


# ------------------------------------------------------------------------------ the expressions


@dataclasses.dataclass(frozen=True)
class Expr:
    name: str
    text: str                               # the expression as the kernel computes it
    value: Callable[[int, int, int], int]   # largest value over the lanes that use it, f(M, N, block_m)
    widened_by_fix: bool = True             # int64 with index="int64"; False: int32 in both variants
    stride_operand: bool = False            # multiplies s_stride = round_up(M, 4) (an int64 argument
                                            # once it exceeds int32)

    def type(self, index: str, m: int) -> str:
        if self.stride_operand and round_up(m, 4) > INT32_MAX:
            return "i64"
        return "i64" if index == "int64" and self.widened_by_fix else "i32"


def _last_row0(m: int, b: int) -> int:
    """First row of the last row block that holds a row < M (the last block whose loads are live)."""
    return (cdiv(m, b) - 1) * b


def _last_row(m: int, b: int) -> int:
    """Largest row index any lane computes (every lane feeds a mask): the grid's last row."""
    return row_blocks(m, b) * b - 1


def _in_block_rows(m: int, b: int) -> int:
    """Largest live in-block row (rows = tl.arange(0, BLOCK_M) with row0 + rows < M)."""
    return min(b, m) - 1


def _groups(n: int) -> int:
    return n // 2 // GROUP


def _words(n: int) -> int:
    return cdiv(_groups(n), GROUPS_PER_WORD)


EXPRS = {
    "colmajor": (
        Expr("C3", "row0 = pid_m * BLOCK_M", lambda m, n, b: (row_blocks(m, b) - 1) * b),
        Expr("C6", "cols = pid_n * BLOCK_N + arange(BLOCK_N)", lambda m, n, b: n // 2 - 1),
        Expr("C8", "row0 + rows (the row mask)", lambda m, n, b: _last_row(m, b)),
        Expr("C1", "input block base = row0 * N", lambda m, n, b: _last_row0(m, b) * n),
        Expr("C2", "output block base = row0 * half", lambda m, n, b: _last_row0(m, b) * (n // 2)),
        Expr("C4", "rows * N", lambda m, n, b: _in_block_rows(m, b) * n, widened_by_fix=False),
        Expr("C5", "in_offs = rows * N + cols",
             lambda m, n, b: _in_block_rows(m, b) * n + n // 2 - 1),
        Expr("C7", "rows * half (output)", lambda m, n, b: _in_block_rows(m, b) * (n // 2),
             widened_by_fix=False),
        Expr("C9", "groups = pid_n * GROUPS + arange(GROUPS)", lambda m, n, b: _groups(n) - 1),
        Expr("S1", "groups * s_stride", lambda m, n, b: (_groups(n) - 1) * round_up(m, 4),
             stride_operand=True),
        Expr("S2", "s_offs = groups * s_stride + (row0 + rows)",
             lambda m, n, b: _groups(n) * round_up(m, 4) - 1, stride_operand=True),
    ),
    "packed": (
        Expr("P8", "rows = pid_m * BLOCK_M + arange(BLOCK_M)", lambda m, n, b: _last_row(m, b)),
        Expr("P1", "x_row = rows * N", lambda m, n, b: (m - 1) * n),
        Expr("P2", "q_row = rows * half", lambda m, n, b: (m - 1) * (n // 2)),
        Expr("P9", "gid = pid_p * 4 + j", lambda m, n, b: _words(n) * GROUPS_PER_WORD - 1),
        Expr("P5", "gid * 128", lambda m, n, b: (_groups(n) - 1) * GROUP),
        Expr("P6", "x_row + gid * 128", lambda m, n, b: (m - 1) * n + (_groups(n) - 1) * GROUP),
        Expr("P7", "offs = x_row + gid * 128 + k",
             lambda m, n, b: (m - 1) * n + n // 2 - 1),
        Expr("P3", "word column base = pid_p * s_stride",
             lambda m, n, b: (_words(n) - 1) * round_up(m, 4), stride_operand=True),
    ),
}
# Added to a 64-bit pointer, hence never wrapped: colmajor `x_blk + in_offs + half`, `q_blk +
# rows * half + cols`, `s_ptr + s_offs`; packed `x_ptr + offs + half`, `q_ptr + q_row + gid * 128 +
# k`, `s_ptr + pid_p * s_stride + rows`. Each term is listed above when it is itself computed in int32.


def expr(kernel: str, name: str) -> Expr:
    return next(e for e in EXPRS[kernel] if e.name == name)


def pointer_extents(kernel: str, m: int, n: int) -> dict[str, int]:
    """Largest element offset each pointer dereferences (exact; reached through 64-bit pointers).
    The scale buffer includes its padding rows (the kernels write 0 there)."""
    cols = _groups(n) if kernel == "colmajor" else _words(n)
    return {"input": m * n - 1, "output": m * (n // 2) - 1, "scales": cols * round_up(m, 4) - 1}


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


@functools.lru_cache(maxsize=4096)
def first_bad_m(kernel: str, name: str, n: int, block_m: int = 8, multiple: int = 1) -> int | None:
    """First M (among multiples of `multiple`) at which expression `name` exceeds int32 max.

    multiple=8: the first M a kernel with BLOCK_M = 8 and no row mask could run (524,296 for
    N = 4096, where the offset itself first wraps); multiple=128: the first M upstream's col-major
    launcher accepts (it asserts M % 128 == 0, vLLM 0.21.0 fp8_utils.py L390) and the first a vLLM
    workspace can have (524,416).
    Depends on N and the tile only, so it is cached: analyses of many M cost one search.
    """
    e = expr(kernel, name)
    return _first_m(lambda m: e.value(m, n, block_m) > INT32_MAX, multiple)


@functools.lru_cache(maxsize=4096)
def first_grid_m(kernel: str, n: int, block_m: int, rows_axis: int,
                 groups_per_program: int) -> int | None:
    """First M whose grid exceeds a CUDA grid limit (cached per N and tile)."""
    def fails(m: int) -> bool:
        return any(s > lim for s, lim in
                   zip(grid(kernel, m, n, block_m, rows_axis, groups_per_program), GRID_LIMITS))
    return _first_m(fails)


# ---------------------------------------------------------------------------------- the analysis


@dataclasses.dataclass
class Analysis:
    kernel: str
    M: int
    N: int
    index: str
    rows_axis: int
    block_m: int
    groups_per_program: int
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
        tile = f"BLOCK_M = {self.block_m}" + (f", {self.groups_per_program} groups per program"
                                              if self.kernel == "colmajor" else "")
        out = [f"{self.kernel} kernel, M = {self.M:,}, N = {self.N:,}, index = {self.index}, "
               f"rows on grid axis {self.rows_axis}, {tile}",
               f"int32 max = {INT32_MAX:,}", ""]
        w = max(len(e["name"] + e["text"]) for e in self.exprs) + 2
        out.append(f"{'expression':<{w}} {'type':>5} {'largest value':>16} {'fits':>5} "
                   f"{'as computed':>15} {'first bad M':>12} {'(mult. of 128)':>14}")
        for e in self.exprs:
            first = f"{e['first_bad_M']:,}" if e["first_bad_M"] else "-"
            first128 = f"{e['first_bad_M_aligned']:,}" if e["first_bad_M_aligned"] else "-"
            out.append(f"{e['name'] + ' ' + e['text']:<{w}} {e['type']:>5} {e['max']:>16,} "
                       f"{'yes' if e['fits'] else 'NO':>5} {e['as_computed']:>15,} {first:>12} "
                       f"{first128:>14}")
        out.append("")
        for name, p in self.pointers.items():
            out.append(f"largest {name} element touched {p['max']:>16,}  (64-bit pointer arithmetic; "
                       "only the expressions above can wrap)")
        g = self.grid
        axes = ", ".join(f"axis {i}: {s:,} (limit {lim:,})" for i, (s, lim)
                         in enumerate(zip(g["size"], g["limits"])))
        out.append(f"grid {axes}" + ("" if g["ok"] else
                   f"  -> TOO LARGE from M = {g['first_bad_M']:,}"))
        out.append("")
        out.append("verdict: " + ("safe" if self.safe else "UNSAFE: " + "; ".join(self.problems)))
        return "\n".join(out)


def analyze(kernel: str, m: int, n: int, index: str = "int64", rows_axis: int = 0,
            block_m: int = 8, groups_per_program: int = 1) -> Analysis:
    """Offsets and grid of one launch; the verdict is derived from exactly the rows of the table.

    groups_per_program (colmajor) must divide N/256, as in the launcher (None there picks one)."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if index not in ("int32", "int64"):
        raise ValueError(f"index must be 'int32' or 'int64', got {index!r}")
    if kernel == "colmajor" and rows_axis != 0:
        raise ValueError("the colmajor kernel always puts rows on grid axis 0")
    if rows_axis not in (0, 1):
        raise ValueError(f"rows_axis must be 0 or 1, got {rows_axis!r}")
    if m < 1 or n < 256 or n % 256:
        raise ValueError(f"need M >= 1 and N a positive multiple of 256, got M={m}, N={n}")
    if block_m < 1 or block_m & (block_m - 1):
        raise ValueError(f"block_m must be a power of two, got {block_m}")
    if kernel == "packed":
        groups_per_program = 1
    size = grid(kernel, m, n, block_m, rows_axis, groups_per_program)  # checks groups_per_program
    problems = []
    exprs = []
    for e in EXPRS[kernel]:
        typ = e.type(index, m)
        limit = INT32_MAX if typ == "i32" else INT64_MAX
        v = e.value(m, n, block_m)
        first = first_bad_m(kernel, e.name, n, block_m) if typ == "i32" else None
        exprs.append({"name": e.name, "text": e.text, "type": typ, "max": v, "fits": v <= limit,
                      "as_computed": wrap_int32(v) if typ == "i32" else wrap_int64(v),
                      "first_bad_M": first,
                      "first_bad_M_aligned": (first_bad_m(kernel, e.name, n, block_m, ALIGN)
                                              if first else None)})
    for e in exprs:
        if not e["fits"]:
            at = f" (first failing M = {e['first_bad_M']:,})" if e["first_bad_M"] else ""
            problems.append(f"{e['name']} ({e['text']}) reaches {e['max']:,} > {e['type']} max and "
                            f"wraps to {e['as_computed']:,}{at}")
    lim = GRID_LIMITS[: len(size)]
    ok = all(s <= li for s, li in zip(size, lim))
    first_grid = first_grid_m(kernel, n, block_m, rows_axis, groups_per_program)
    if not ok:
        axis = next(i for i, (s, li) in enumerate(zip(size, lim)) if s > li)
        problems.append(f"grid axis {axis} = {size[axis]:,} > CUDA's limit {lim[axis]:,}: the launch "
                        f"fails with 'invalid argument' (first failing M = {first_grid:,})")
    pointers = {k: {"max": v, "fits_int32": v <= INT32_MAX}
                for k, v in pointer_extents(kernel, m, n).items()}
    return Analysis(kernel, m, n, index, rows_axis, block_m, groups_per_program, exprs, pointers,
                    {"size": list(size), "limits": list(lim), "ok": ok,
                     "first_bad_M": first_grid}, problems)
