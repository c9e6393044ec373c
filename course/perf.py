"""Lesson 09, performance: bytes moved, the roofline, recorded and live benchmarks, the block sweep.
"""
from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import torch

import kernels
from kernels import bench as _bench

from .kit import plural

H100_SXM_TBPS = 3.35  # NVIDIA H100 SXM datasheet HBM3 bandwidth (TB/s)


def bytes_moved(M: int, N: int, kernel: str = "colmajor") -> dict:
    """Bytes each launch must read and write (the floor any implementation pays): the benchmark's count."""
    return _bench.bytes_moved(kernel, M, N)


def roofline_us(total_bytes: int, tbps: float) -> float:
    return total_bytes / (tbps * 1e12) * 1e6


def bench_records(rec: dict | None) -> list[dict]:
    """Normalize a recorded bench file to [{"name","M","N","us","tbps"}]; tolerant of its schema.

    Accepts records as a list of dicts, or a dict name -> dict/number. Field aliases: time_us /
    us / ms (converted), TB/s / tbps / bandwidth_tbps; tbps is derived from "bytes" when missing.
    """
    if not rec:
        return []
    raw = rec.get("records", rec)
    if isinstance(raw, dict):
        raw = [({"name": k, **v} if isinstance(v, dict) else {"name": k, "us": v}) for k, v in raw.items()]
    out = []
    for r in raw if isinstance(raw, list) else []:
        if not isinstance(r, dict):
            continue
        us = r.get("us", r.get("time_us"))
        if us is None and r.get("ms") is not None:
            us = float(r["ms"]) * 1e3
        tbps = r.get("tbps", r.get("TB/s", r.get("bandwidth_tbps")))
        if tbps is None and us and r.get("bytes"):
            tbps = r["bytes"] / (float(us) * 1e-6) / 1e12
        out.append({**r, "name": str(r.get("name", r.get("what", "?"))), "M": r.get("M"),
                    "N": r.get("N"), "us": None if us is None else float(us),
                    "tbps": None if tbps is None else float(tbps)})
    return out


def bench_table(rows: list[dict]) -> str:
    lines = [f"{'what':<48} {'M':>9} {'N':>6} {'time (µs)':>11} {'TB/s':>6}"]
    for r in rows:
        m = f"{r['M']:,}" if isinstance(r.get("M"), int) else str(r.get("M", "-"))
        n = f"{r['N']:,}" if isinstance(r.get("N"), int) else str(r.get("N", "-"))
        us = f"{r['us']:,.1f}" if r.get("us") is not None else "-"
        tb = f"{r['tbps']:.2f}" if r.get("tbps") is not None else "-"
        lines.append(f"{r['name'][:48]:<48} {m:>9} {n:>6} {us:>11} {tb:>6}")
    return "\n".join(lines)


def plot_bench(rows: list[dict], device: str = "", peak_tbps: float | None = None):
    """Horizontal bar chart of TB/s, one bar per measurement, labelled with its shape."""
    rows = [r for r in rows if r.get("tbps") is not None]
    rows = sorted(rows, key=lambda r: r["tbps"])
    fig, ax = plt.subplots(figsize=(8, 0.45 * max(len(rows), 2) + 1.2))
    labels = [f"{r['name']}  (M={r['M']:,})" if isinstance(r.get("M"), int) else r["name"] for r in rows]
    colors = ["#999999" if "copy" in r["name"].lower() else
              "#c44e52" if ("eager" in r["name"].lower() or "compile" in r["name"].lower()) else
              "#4c72b0" for r in rows]
    ax.barh(range(len(rows)), [r["tbps"] for r in rows], color=colors)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    for i, r in enumerate(rows):
        ax.text(r["tbps"], i, f" {r['tbps']:.2f}", va="center", fontsize=8)
    if peak_tbps:
        ax.axvline(peak_tbps, color="black", ls="--", lw=1)
        ax.text(peak_tbps, len(rows) - 0.5, f" datasheet {peak_tbps} TB/s", fontsize=8, va="bottom")
    ax.set_xlabel("effective bandwidth (TB/s) = bytes read + written / time")
    ax.set_title(f"memory-bound kernels against the same bytes{': ' + device if device else ''}", fontsize=10)
    fig.tight_layout()
    return fig


def live_bench(M: int = 262_144, N: int = 8_192) -> list[dict]:
    """GPU only: time the course kernels, eager and compiled PyTorch, and a device copy."""
    import triton.testing
    x = torch.randn(M, N, device="cuda", dtype=torch.bfloat16)
    b_col, b_pack = bytes_moved(M, N, "colmajor")["total"], bytes_moved(M, N, "packed")["total"]
    src = torch.empty(b_col // 2, device="cuda", dtype=torch.uint8)
    dst = torch.empty_like(src)
    compiled = torch.compile(kernels.silu_mul_fp8_colmajor_ref)
    cases = [
        ("device copy of the same bytes", lambda: dst.copy_(src), b_col),
        ("course colmajor (int64)", lambda: kernels.silu_mul_fp8_colmajor(x, check_finite=False), b_col),
        ("course colmajor (int32 offsets)", lambda: kernels.silu_mul_fp8_colmajor(
            x, index="int32", check_finite=False, unsafe_skip_launch_checks=True), b_col),
        ("course packed (int64, rows on axis 0)", lambda: kernels.silu_mul_fp8_packed(x, check_finite=False), b_pack),
        ("torch.compile of the reference", lambda: compiled(x), b_col),
        ("eager PyTorch reference", lambda: kernels.silu_mul_fp8_colmajor_ref(x), b_col),
    ]
    out = []
    for name, fn, nbytes in cases:
        if "int32" in name and not kernels.analyze("colmajor", M, N, index="int32").safe:
            continue
        us = triton.testing.do_bench(fn) * 1e3
        out.append({"name": name, "M": M, "N": N, "us": us, "tbps": nbytes / (us * 1e-6) / 1e12})
    return out


def parse_sweep(rows: list[dict]) -> list[dict]:
    """Records named like 'sweep-colmajor-bm8-g2-w4' / 'sweep-packed-bm8-w4' -> with kernel/bm/g/w fields.

    Explicit fields (kernel, block_m, groups_per_program, num_warps) win over the name when present.
    """
    out = []
    for r in rows:
        m = re.match(r"sweep-(\w+?)-bm(\d+)(?:-g(\d+))?-w(\d+)$", r["name"])
        if not m and not {"block_m", "num_warps"} <= set(r):
            continue
        kern = r.get("kernel", m.group(1) if m else "?")
        bm = int(r.get("block_m", m.group(2) if m else 0))
        g = int(r.get("groups_per_program", (m.group(3) if m and m.group(3) else 1)))
        w = int(r.get("num_warps", m.group(4) if m else 0))
        out.append({**r, "kernel": kern, "bm": bm, "g": g, "w": w})
    return out


def plot_sweep(rows: list[dict], kernel: str, copy_tbps: float | None = None):
    """Heat map of TB/s: one row per (BLOCK_M, groups per program), one column per num_warps."""
    rows = [r for r in parse_sweep(rows) if r["kernel"] == kernel and r.get("tbps") is not None]
    ys = sorted({(r["bm"], r["g"]) for r in rows})
    xs = sorted({r["w"] for r in rows})
    grid = np.full((len(ys), len(xs)), np.nan)
    for r in rows:
        grid[ys.index((r["bm"], r["g"])), xs.index(r["w"])] = r["tbps"]
    fig, ax = plt.subplots(figsize=(1.3 * len(xs) + 2.5, 0.35 * len(ys) + 1.4))
    im = ax.imshow(grid, cmap="viridis", aspect="auto")
    for i in range(len(ys)):
        for j in range(len(xs)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if grid[i, j] < np.nanmax(grid) * 0.8 else "black")
    ax.set_xticks(range(len(xs)), [plural(w, "warp") for w in xs], fontsize=8)
    ax.set_yticks(range(len(ys)), [f"BLOCK_M {b}, {plural(g, 'group')}" for b, g in ys], fontsize=8)
    fig.colorbar(im, ax=ax, label="TB/s")
    ttl = f"{kernel}: block-size sweep"
    if copy_tbps:
        ttl += f" (copy of the same bytes: {copy_tbps:.2f} TB/s)"
    ax.set_title(ttl, fontsize=9)
    fig.tight_layout()
    return fig
