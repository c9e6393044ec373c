"""Lesson 04, the scale layout: row-major against MN-major (TMA-aligned) positions in memory.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

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
