"""Lesson 01, the programming model: which program owns which element of a tiled matrix.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .kit import explorer

def owner_map(m: int, n: int, block_m: int, block_n: int) -> np.ndarray:
    """For every element of an [m, n] matrix, the linear id pid_m * grid_n + pid_n of its program."""
    grid_n = -(-n // block_n)
    rows = np.arange(m)[:, None] // block_m
    cols = np.arange(n)[None, :] // block_n
    return rows * grid_n + cols


def plot_tiles(m: int, n: int, block_m: int, block_n: int, owners=None, title: str | None = None):
    """The [m, n] matrix coloured by the program that owns each element; the dashed part of an
    edge tile lies outside the matrix (those lanes are masked off)."""
    from matplotlib.patches import Rectangle
    owners = owner_map(m, n, block_m, block_n) if owners is None else np.asarray(owners)
    gm, gn = -(-m // block_m), -(-n // block_n)
    fig, ax = plt.subplots(figsize=(7, 7 * min(max(m / n, 0.3), 1.5)))
    cmap = plt.get_cmap("tab20")
    ax.imshow(owners % 20, cmap=cmap, vmin=0, vmax=19, interpolation="nearest",
              extent=(0, n, m, 0))
    for pm in range(gm):
        for pn in range(gn):
            r0, c0 = pm * block_m, pn * block_n
            ax.add_patch(Rectangle((c0, r0), block_n, block_m, fill=False, lw=1.2, ls="--",
                                   ec="0.3", clip_on=False))
            if gm * gn <= 48:
                ax.text(c0 + min(block_n, n - c0) / 2, r0 + min(block_m, m - r0) / 2,
                        f"({pm},{pn})", ha="center", va="center", fontsize=8)
    hatch = dict(fill=False, hatch="//", ec="0.6", lw=0)
    if gm * block_m > m:
        ax.add_patch(Rectangle((0, m), gn * block_n, gm * block_m - m, **hatch, label="masked lanes"))
    if gn * block_n > n:
        ax.add_patch(Rectangle((n, 0), gn * block_n - n, m, **hatch,
                               label=None if gm * block_m > m else "masked lanes"))
    ax.add_patch(Rectangle((0, 0), n, m, fill=False, lw=2.5, ec="k"))
    ax.set_xlim(-0.5, gn * block_n + 0.5)
    ax.set_ylim(gm * block_m + 0.5, -0.5)
    ax.set_xlabel(f"column (N = {n})")
    ax.set_ylabel(f"row (M = {m})")
    ax.set_title(title or f"BLOCK_M = {block_m}, BLOCK_N = {block_n}: grid = ({gm}, {gn}) = "
                          f"{gm * gn} programs, labels (pid_m, pid_n)", fontsize=10)
    fig.tight_layout()
    return fig


def tile_explorer(m: int = 20, n: int = 44, block_m: int = 8, block_n: int = 16,
                  show_default: bool = True) -> None:
    """plot_tiles under controls for M, N, BLOCK_M and BLOCK_N."""
    import ipywidgets as W

    def draw(M, N, BLOCK_M, BLOCK_N):
        plot_tiles(M, N, BLOCK_M, BLOCK_N)
    explorer(draw, show_default=show_default,
             note="move a control: the picture for your choice appears below the controls.",
             M=W.IntSlider(value=m, min=1, max=64, description="M", continuous_update=False),
             N=W.IntSlider(value=n, min=1, max=128, description="N", continuous_update=False),
             BLOCK_M=W.Dropdown(value=block_m, options=[1, 2, 4, 8, 16, 32], description="BLOCK_M"),
             BLOCK_N=W.Dropdown(value=block_n, options=[4, 8, 16, 32, 64], description="BLOCK_N"))
