"""Lesson 03, fp8 e4m3: the value grid, outlier activations and the error of each scaling scheme.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from kernels.reference import FP8, FP8_MAX, GROUP, PACKED_EPS

from .kit import explorer

def plot_e4m3_grid():
    """Every positive finite e4m3 value on a log axis, and the gap to the next value."""
    codes = torch.arange(1, 127, dtype=torch.uint8)
    v = codes.view(FP8).float().numpy()
    gaps = np.diff(v)
    fig, (a0, a1) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    sub = v < 2.0**-6
    a0.semilogx(v[~sub], codes[~sub].numpy(), ".", label="normal")
    a0.semilogx(v[sub], codes[sub].numpy(), ".", color="tab:orange", label="subnormal")
    a0.set_ylabel("code (byte)")
    a0.set_title("fp8 e4m3fn: the 126 positive finite values (codes 1..126)")
    a0.axvline(FP8_MAX, color="k", ls=":")
    a0.text(FP8_MAX, 10, f" {FP8_MAX:g} = max", ha="right")
    a0.legend(loc="upper left")
    a1.loglog(v[:-1], gaps, ".-", lw=0.6)
    a1.loglog(v[:-1], gaps / v[:-1], ".-", lw=0.6, color="tab:red")
    a1.set_xlabel("value")
    a1.set_ylabel("gap to next value")
    a1.legend(["absolute gap", "relative gap (gap / value)"], loc="upper left")
    a1.axvspan(v[0], 2.0**-6, color="tab:orange", alpha=0.15)
    fig.tight_layout()
    return fig


OUTLIER_COLS = (37, 600)   # two outlier channels (real LLM activations have a handful)


LOUD_ROWS = (5, 40)        # two loud tokens


def outlier_activation(m: int = 64, n: int = 1024, outlier: float = 1000.0, seed: int = 0):
    """N(0, 1) activations [m, n] (fp32, CPU): columns OUTLIER_COLS scaled by `outlier`, rows
    LOUD_ROWS by sqrt(outlier)."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randn(m, n, generator=gen)
    y[:, list(OUTLIER_COLS)] *= outlier
    y[list(LOUD_ROWS)] *= outlier ** 0.5
    return y


def quantize_blocks(y: torch.Tensor, block_rows: int, block_cols: int):
    """fp8 quantization with one scale per [block_rows, block_cols] block (scale = amax / 448).

    Returns (dequantized y, q). block = (M, N): per tensor; (1, N): per token; (1, 128): per
    token-group, the kernels' scheme.
    """
    m, n = y.shape
    b = y.reshape(m // block_rows, block_rows, n // block_cols, block_cols)
    amax = b.abs().amax(dim=(1, 3), keepdim=True).clamp_min(PACKED_EPS)
    scale = amax / FP8_MAX
    q = (b / scale).clamp(-FP8_MAX, FP8_MAX).to(FP8)
    return (q.float() * scale).reshape(m, n), q.reshape(m, n)


SCHEMES = {"per tensor": lambda m, n: (m, n), "per token (row)": lambda m, n: (1, n),
           "per token-group (1 x 128)": lambda m, n: (1, GROUP)}


def quant_errors(y: torch.Tensor) -> dict[str, dict]:
    """Per scheme, measured on the ordinary elements (all but the outlier columns, whose own error
    is always small because they set the scale): the relative error of each row
    |deq - y| / |y|, and the fraction of ordinary elements quantized to 0."""
    keep = torch.ones(y.shape[1], dtype=torch.bool)
    keep[list(OUTLIER_COLS)] = False
    out = {}
    for name, blocks in SCHEMES.items():
        deq, q = quantize_blocks(y, *blocks(*y.shape))
        rel_rows = (deq - y)[:, keep].norm(dim=1) / y[:, keep].norm(dim=1)
        flushed = float((q.float()[:, keep] == 0).float().mean())
        out[name] = {"rel_rows": rel_rows, "flushed": flushed, "rel": float(rel_rows.median())}
    return out


def plot_quant_error(outlier: float = 1000.0, m: int = 64, n: int = 1024, seed: int = 0):
    y = outlier_activation(m, n, outlier, seed)
    errs = quant_errors(y)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [1, 1.3]})
    # One cell per bin of `pool` columns holding the bin's largest |y|: a screen cannot show 1,024
    # columns, and a resampled image could drop the outlier channels; the max of a bin cannot.
    pool = max(1, n // 128)
    binned = y.abs().view(m, n // pool, pool).amax(dim=-1)
    im = a0.imshow(binned.log10().numpy(), aspect="auto", cmap="magma", interpolation="nearest",
                   extent=(0, n, m - 0.5, -0.5))
    a0.plot(OUTLIER_COLS, [-1.5] * len(OUTLIER_COLS), "v", color="tab:cyan", ms=8, clip_on=False,
            label="outlier channels")
    a0.set_ylim(m - 0.5, -0.5)
    a0.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    a0.set_title(f"log10 |y| (outlier x{outlier:g})")
    a0.set_xlabel(f"column (each cell: the largest of {pool} columns)" if pool > 1 else "column")
    a0.set_ylabel("row (token)")
    fig.colorbar(im, ax=a0)
    for name, e in errs.items():
        a1.semilogy(e["rel_rows"].numpy(), ".-", lw=0.7,
                    label=f"{name}: median {e['rel']:.1e}, zeros {e['flushed']:.1%}")
    a1.set_xlabel("row (token)")
    a1.set_ylabel("|deq - y| / |y| of the row\n(ordinary columns)")
    a1.set_title("fp8 e4m3 quantization error per row")
    a1.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    fig.tight_layout()
    return fig


def outlier_explorer(outlier: float = 1000.0, show_default: bool = True) -> None:
    """plot_quant_error under a slider for the outlier magnitude (1 .. 10,000, log scale)."""
    import ipywidgets as W
    explorer(lambda outlier: plot_quant_error(outlier), show_default=show_default,
             note="move the slider (outlier magnitude 1 .. 10,000): the redrawn picture appears below it.",
             outlier=W.FloatLogSlider(value=outlier, base=10, min=0, max=4, description="outlier",
                                      continuous_update=False))
