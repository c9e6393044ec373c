"""The lesson plots stored in the notebooks are the pictures the course's code draws today.

nbval does not compare images, so a stale or swapped plot would pass it. Each figure below is drawn
again the way the notebook's inline backend draws it (IPython's print_figure, bbox tight) and must
equal the stored PNG byte for byte (same matplotlib, same inputs: every one is deterministic). Where
it differs, the width/height and colour count say how, and re-executing the notebook fixes it.
"""
from __future__ import annotations

import base64
import io
import struct
from pathlib import Path

import pytest

import kernels  # noqa: F401  (first: picks the tier)

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("matplotlib_inline")

import matplotlib  # noqa: E402

matplotlib.use("module://matplotlib_inline.backend_inline")
import matplotlib.pyplot as plt  # noqa: E402
from IPython.core.pylabtools import print_figure  # noqa: E402

import torch  # noqa: E402

from course import fp8, kit, overflow, scales, silu, tiles, ue8m0  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# (notebook, the first line of the cell that shows the figure, how to draw it again)
FIGURES = [
    ("01_triton_programming_model", "M, N, BLOCK_M, BLOCK_N = 20, 44, 8, 16",
     lambda: tiles.plot_tiles(20, 44, 8, 16)),
    ("02_silu_mul_fused", "x_small = kit.randn(16, 512, seed=0)",
     lambda: silu.plot_gate_up(kit.randn(16, 512, seed=0))),
    ("03_fp8_e4m3", "fp8.plot_e4m3_grid()", fp8.plot_e4m3_grid),
    ("03_fp8_e4m3", "fp8.plot_quant_error(3000.0)", lambda: fp8.plot_quant_error(3000.0)),
    ("04_colmajor_scales", "scales.plot_scale_layouts(6, 3)", lambda: scales.plot_scale_layouts(6, 3)),
    ("05_ue8m0_packing", "e = torch.tensor([[127, 120, 94, 140]])",
     lambda: ue8m0.plot_word(kernels.pack_exponents(torch.tensor([[127, 120, 94, 140]])).item())),
    ("06_the_overflow", "import ipywidgets as W", lambda: overflow.plot_offsets("colmajor", 524_416, 4096, 8)),
]


def _stored_png(notebook: str, first_line: str) -> bytes:
    nb = nbformat.read(ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(first_line)]
    assert len(cells) == 1, f"{notebook}: no single cell starts with {first_line!r}"
    pngs = [o["data"]["image/png"] for o in cells[0].outputs if "image/png" in o.get("data", {})]
    assert pngs, f"{notebook}: the cell {first_line!r} stores no picture (execute the notebook)"
    return base64.b64decode(pngs[0])


def _describe(png: bytes) -> str:
    w, h = struct.unpack(">II", png[16:24])
    img = plt.imread(io.BytesIO(png))
    colours = len({tuple(px) for px in img.reshape(-1, img.shape[-1])[::7].tolist()})
    return f"{w}x{h} px, about {colours} colours"


@pytest.mark.parametrize("notebook,first_line,draw", FIGURES, ids=[f"{n}:{c[:24]}" for n, c, _ in FIGURES])
def test_stored_lesson_plot_is_what_the_code_draws(notebook, first_line, draw):
    stored = _stored_png(notebook, first_line)
    fig = draw()
    try:
        fresh = print_figure(fig, "png", bbox_inches="tight")
    finally:
        plt.close(fig)
    w, h = struct.unpack(">II", fresh[16:24])
    assert w > 200 and h > 100 and len(fresh) > 5_000, "a blank or tiny figure"
    assert fresh == stored, (f"notebooks/{notebook}.ipynb stores a different picture ({_describe(stored)}) "
                             f"than the code draws ({_describe(fresh)}): re-execute the notebook "
                             f"(python -m course nb execute notebooks/{notebook}.ipynb)")


def test_the_image_check_can_fail():
    a = print_figure(tiles.plot_tiles(20, 44, 8, 16), "png", bbox_inches="tight")
    b = print_figure(tiles.plot_tiles(20, 44, 8, 8), "png", bbox_inches="tight")
    plt.close("all")
    assert a != b
