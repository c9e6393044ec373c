"""Lesson 06, the overflow: which offset leaves int32, from which row block, in which deployment.
"""
from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np

import kernels
from course import kit
from kernels.offsets import INT32_MAX
from kernels.reference import GROUP


OVERFLOWING = {"colmajor": "C1", "packed": "P1"}  # the input offsets: the largest in each kernel


def first_wrapping_program(kernel: str, M: int, N: int, block_m: int) -> int | None:
    """Row-block id of the first program whose input offset leaves int32 (None if none does)."""
    if kernel == "colmajor":       # C1 = row0 * N, row0 = pid * block_m
        pid = INT32_MAX // (block_m * N) + 1
    else:                          # P1 = row * N for the rows of the block
        pid = (INT32_MAX // N + 1) // block_m
    return pid if pid < -(-M // block_m) else None


def offset_report(kernel: str, M: int, N: int, block_m: int = 8) -> str:
    a = kernels.analyze(kernel, M, N, index="int32", rows_axis=0, block_m=block_m)
    e = next(x for x in a.exprs if x["name"] == OVERFLOWING[kernel])
    pid = first_wrapping_program(kernel, M, N, block_m)
    lines = [f"{kernel}, M = {M:,}, N = {N:,}, {block_m} rows per program -> {-(-M // block_m):,} row blocks",
             f"largest input offset {e['name']} ({e['text']}) = {e['max']:,}",
             f"int32 max                          = {INT32_MAX:,}"]
    if e["fits"]:
        lines.append(f"fits, with {INT32_MAX - e['max']:,} to spare ✅")
    else:
        lines.append(f"does NOT fit: computed in int32 it wraps to {e['as_computed']:,} ❌")
        lines.append(f"first row block that wraps: {pid:,} (rows {pid * block_m:,}...); "
                     f"first failing M for this N: {e['first_bad_M']:,}")
        lines.append(program_ids_line(kernel, N, pid))
    return "\n".join(lines)


def tiles_per_row_block(kernel: str, N: int) -> int:
    """Programs per row block in the course's default 1-D tile grid (column blocks / packed words)."""
    g = N // 2 // GROUP
    if kernel == "colmajor":
        gpp = kernels.validate.check_groups_per_program(None, g, kernels.colmajor.DEFAULT_GROUPS_PER_PROGRAM)
        return g // gpp
    return -(-g // 4)


def program_ids_line(kernel: str, N: int, row_block: int) -> str:
    """Where row block `row_block` sits in the course's 1-D tile grid and in upstream's 2-D grid."""
    per = tiles_per_row_block(kernel, N)
    what = "column block(s)" if kernel == "colmajor" else "packed word(s)"
    up = (f"a 2-D grid (row blocks, groups) like upstream's runs it as programs "
          f"({row_block:,}, 0..{N // 2 // GROUP - 1})" if kernel == "colmajor" else
          f"a 2-D grid (words, row blocks) like upstream's runs it at program_id(1) = {row_block:,}")
    return (f"program ids: in the course's 1-D tile grid ({per} {what} per row block) that row block is "
            f"programs {row_block * per:,}..{row_block * per + per - 1:,}; {up}")


def _block_offsets(kernel: str, M: int, N: int, block_m: int, pid: np.ndarray) -> np.ndarray:
    """The largest input offset each row block computes (exact, int64)."""
    if kernel == "colmajor":
        return pid * block_m * N
    return (pid * block_m + block_m - 1).clip(max=M - 1) * N


def plot_offsets(kernel: str, M: int, N: int, block_m: int = 8):
    """Input block offset per row block, exact and as int32, against the int32 limit.

    Left: every row block (sampled). Right: a zoom on the last row blocks, where the wrap happens:
    at M = 524,416 it is the last 16 of 65,552 row blocks, too few to see at the left's scale.
    """
    blocks = -(-M // block_m)
    first = first_wrapping_program(kernel, M, N, block_m)
    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(10, 3.6), width_ratios=(3, 2))
    pid = np.unique(np.linspace(0, blocks - 1, 2000).astype(np.int64))
    exact = _block_offsets(kernel, M, N, block_m, pid)
    ax.plot(pid, exact / 1e9, label="exact offset (int64)", lw=2)
    ax.plot(pid, ((exact + 2**31) % 2**32 - 2**31) / 1e9, label="as computed in int32", lw=1.5, ls="--")
    # the zoom: 16 row blocks either side of the first wrapping one (or the last 32 if none wraps)
    lo, hi = (blocks - 32, blocks - 1) if first is None else (first - 16, first + 15)
    lo, hi = max(lo, 0), min(hi, blocks - 1)
    zpid = np.arange(lo, hi + 1, dtype=np.int64)
    zexact = _block_offsets(kernel, M, N, block_m, zpid)
    zoom.plot(zpid, zexact / 1e9, ".-", label="exact offset (int64)", lw=2, ms=4)
    zoom.plot(zpid, ((zexact + 2**31) % 2**32 - 2**31) / 1e9, "x", label="as computed in int32", ms=4)
    for a, top in ((ax, exact.max()), (zoom, zexact.max())):
        a.axhline(INT32_MAX / 1e9, color="red", lw=1, label="int32 max = 2**31 - 1")
        a.axhline(0, color="gray", lw=0.5)
        a.set_ylim(-2.5, max(2.5, top / 1e9 * 1.1))
        if first is not None:
            a.axvline(first, color="red", ls=":", lw=1)
    if first is not None:      # the label inside the axes, left of the line, so it is never clipped
        zoom.text(first, -2.3, f"row block {first:,} ", color="red", fontsize=8, ha="right")
        zoom.set_title(f"zoom on row blocks {lo:,}..{hi:,}\nfrom {first:,} on: "
                       f"{kit.plural(blocks - first, 'row block')} of {blocks:,} wrap", fontsize=9)
    else:
        zoom.set_title(f"zoom on the last row blocks {lo:,}..{hi:,}\nnone wraps", fontsize=9)
    zoom.ticklabel_format(axis="x", style="plain", useOffset=False)
    zoom.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("row block pid_m")
    zoom.set_xlabel("row block pid_m")
    ax.set_ylabel("element offset (billions)")
    ax.set_title(f"all {blocks:,} row blocks (sampled)", fontsize=9)
    fig.suptitle(f"{kernel}: input offset per row block, M = {M:,}, N = {N:,}, BLOCK_M = {block_m}",
                 fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def deployment_report(dp_ranks: int, tokens_per_rank: int, topk: int, local_experts: int,
                      align: int = 128, N: int = 4096) -> str:
    M = kernels.moe_workspace_rows(tokens_per_rank, dp_ranks, topk, local_experts, align)
    lines = [f"worst-case M_sum = round_up({tokens_per_rank:,} x {dp_ranks} x {topk} + "
             f"{local_experts} x ({align} - 1), {align}) = {M:,} rows",
             f"input [M, N] bf16 with N = {N:,}: {M * N * 2 / 1e9:,.1f} GB, largest element offset "
             f"M*N - 1 = {M * N - 1:,} ({(M * N - 1) / INT32_MAX:.2f} x int32 max)"]
    for kernel, axis in (("colmajor", 0), ("packed", 1)):
        bug = kernels.analyze(kernel, M, N, index="int32", rows_axis=axis)
        fix = kernels.analyze(kernel, M, N, index="int64", rows_axis=axis)
        after = "safe ✅" if fix.safe else f"FAILS ❌ ({fix.problems[0].split(':')[0]})"
        lines.append(f"  {kernel:<8} as shipped (int32): {'safe ✅' if bug.safe else 'FAILS ❌'}; "
                     f"after the int64 fix: {after}")
    return "\n".join(lines)
