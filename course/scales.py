"""Lesson 04, the scale layout: row-major against MN-major (TMA-aligned) positions in memory.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from kernels.reference import round_up

def scale_memory_order(m: int, g: int, layout: str) -> np.ndarray:
    """Memory position of each (row, group) of an [m, g] fp32 scale matrix, padding rows included
    (as -1 rows after m for "mn-major"). layout: "row-major" or "mn-major" (stride (1, round_up(m,4)))."""
    if layout == "row-major":
        return np.arange(m * g).reshape(m, g)
    a = round_up(m, 4)
    pos = np.arange(g)[None, :] * a + np.arange(a)[:, None]
    return pos


def plot_scale_layouts(m: int = 6, g: int = 3):
    """Two pictures of one [M, G] scale matrix: the number in a cell is its position in memory."""
    a = round_up(m, 4)
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.55 * a + 1.6))
    for ax, layout in zip(axes, ("row-major", "mn-major")):
        pos = scale_memory_order(m, g, layout)
        rows = pos.shape[0]
        color = np.where(np.arange(rows)[:, None] < m, np.arange(g)[None, :] % 10, np.nan)
        ax.imshow(np.broadcast_to(color, pos.shape), cmap="Pastel1", vmin=0, vmax=9,
                  aspect="auto", extent=(0, g, rows, 0))
        for r in range(rows):
            for c in range(g):
                pad = r >= m
                ax.text(c + 0.5, r + 0.5, f"{pos[r, c]}" + (" pad" if pad else ""), ha="center",
                        va="center", fontsize=9, color="0.55" if pad else "k")
        if rows > m:
            ax.axhline(m, color="k", lw=2)
        ax.set_xticks(np.arange(g) + 0.5, [f"group {c}" for c in range(g)])
        ax.set_yticks(np.arange(rows) + 0.5, [f"row {r}" if r < m else "(pad)" for r in range(rows)])
        strides = (g, 1) if layout == "row-major" else (1, a)
        ax.set_title(f"{layout}: strides {strides}" +
                     (f"\n{a - m} padding rows per column (M = {m} -> {a})" if rows > m else "\n"),
                     fontsize=10)
    fig.suptitle(f"[M = {m}, G = {g}] scales: the number is the element's position in memory",
                 fontsize=11)
    fig.tight_layout()
    return fig


# DeepGEMM's own Python quantizer, per_token_cast_to_fp8 (deep_gemm/utils/math.py @ 54e2261, lines
# 34-37, with ceil_to_ue8m0 of lines 13-16): its arithmetic, restated here to compare bit by bit.
DEEPGEMM_AMAX_FLOOR = 1e-4


def deepgemm_cast(y, use_ue8m0: bool = False):
    """(fp8 codes, scales) as DeepGEMM's per_token_cast_to_fp8 computes them for y [M, G, 128] fp32.

    amax floored at 1e-4 (the course's kernels: 1e-10); sf = amax / 448, a division (the course's
    colmajor kernel multiplies by the fp32 reciprocal of 448); with use_ue8m0 the exact power of two
    at or above sf (exponent field + 1 if the mantissa is non-zero, field clamped to [1, 254]); then
    q = fp8(y * (1 / sf)): a rounded reciprocal, then a rounded product (the course divides), and no
    clamp before the cast.
    """
    amax = y.abs().amax(dim=-1).clamp(DEEPGEMM_AMAX_FLOOR)
    sf = amax / 448.0
    if use_ue8m0:
        b = sf.contiguous().view(torch.int32)
        field = ((b >> 23) & 0xFF) + ((b & 0x7FFFFF) != 0).to(torch.int32)
        sf = (field.clamp(1, 254) << 23).view(torch.float32)
    return (y * (1.0 / sf[..., None])).to(torch.float8_e4m3fn), sf
