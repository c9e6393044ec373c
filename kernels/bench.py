"""Benchmark (GPU only): the course kernels against eager PyTorch, torch.compile of the reference and
a device-to-device copy of the same number of bytes (the practical roofline).

``python -m kernels bench [--quick] [--sweep] [--out results/gpu]`` writes bench.json and bench.png.
Bandwidth counts every byte read and written once: input M*N*2, fp8 output M*N/2, scales.
Timings are medians of triton.testing.do_bench; compare implementations inside one run only.
"""
from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import torch

SHAPES_FULL = [(524_416, 8_192), (524_416, 4_096), (1_048_704, 4_096), (262_144, 8_192)]
SHAPES_QUICK = [(524_416, 8_192)]
INT_COST_SHAPE = (200_000, 8_192)  # int32 still safe here: C1 max = 199,992 * 8,192 < 2**31


def bytes_moved(kernel: str, m: int, n: int) -> dict[str, int]:
    """Bytes one launch must read and write at least once: the floor any implementation pays."""
    g = n // 256
    scale_cols = g if kernel == "colmajor" else -(-g // 4)
    parts = {"read": m * n * 2, "write_q": m * (n // 2), "write_scales": m * scale_cols * 4}
    return parts | {"total": sum(parts.values())}


def nbytes(kernel: str, m: int, n: int) -> int:
    return bytes_moved(kernel, m, n)["total"]


def _bench(fn) -> float:
    from triton.testing import do_bench
    return do_bench(fn, warmup=25, rep=200, return_mode="median") * 1e3  # microseconds


def run(quick: bool = False, sweep: bool = False, out_dir: str = "results/gpu",
        with_compile: bool = True) -> dict:
    import triton
    from tqdm import tqdm

    import kernels
    from kernels import reference as R

    assert torch.cuda.is_available(), "the benchmark needs a CUDA GPU"
    shapes = SHAPES_QUICK if quick else SHAPES_FULL
    dev = torch.cuda.get_device_name(0)
    rows = []
    tasks = []
    for m, n in shapes:
        tasks += [("copy", m, n), ("colmajor", m, n), ("colmajor-ue8m0", m, n), ("packed", m, n)]
        if (m, n) == shapes[0]:
            tasks += [("eager-ref", m, n)] + ([("compile-ref", m, n)] if with_compile else [])
    tasks += [("colmajor-int32", *INT_COST_SHAPE), ("colmajor-int64", *INT_COST_SHAPE),
              ("packed-int32", *INT_COST_SHAPE), ("packed-int64", *INT_COST_SHAPE)]
    if sweep:
        m, n = shapes[0]
        for bm in (4, 8, 16, 32):
            for gpp in (1, 2, 4):
                for w in (2, 4, 8):
                    tasks.append((f"sweep-colmajor-bm{bm}-g{gpp}-w{w}", m, n))
            for w in (1, 2, 4, 8):
                tasks.append((f"sweep-packed-bm{bm}-w{w}", m, n))
    x = None
    shape = None
    compiled = None
    for name, m, n in tqdm(tasks, desc="bench", unit="case"):
        if shape != (m, n):
            x = None
            torch.cuda.empty_cache()
            x = torch.randn(m, n, device="cuda", dtype=torch.bfloat16)
            shape = (m, n)
        kw = dict(check_finite=False)
        kind = "packed" if name.startswith(("packed", "sweep-packed")) else "colmajor"
        if name == "copy":
            src = torch.empty(nbytes("colmajor", m, n) // 2, dtype=torch.uint8, device="cuda")
            dst = torch.empty_like(src)
            fn = lambda: dst.copy_(src)  # noqa: E731
        elif name == "colmajor":
            fn = lambda: kernels.silu_mul_fp8_colmajor(x, **kw)  # noqa: E731
        elif name == "colmajor-ue8m0":
            fn = lambda: kernels.silu_mul_fp8_colmajor(x, use_ue8m0=True, **kw)  # noqa: E731
        elif name == "packed":
            fn = lambda: kernels.silu_mul_fp8_packed(x, **kw)  # noqa: E731
        elif name == "eager-ref":
            fn = lambda: R.silu_mul_fp8_colmajor_ref(x)  # noqa: E731
        elif name == "compile-ref":
            compiled = compiled or torch.compile(R.silu_mul_fp8_colmajor_ref)
            fn = lambda: compiled(x)  # noqa: E731
        elif name.startswith(("colmajor-int", "packed-int")):
            idx = name.split("-")[1]
            f = kernels.silu_mul_fp8_colmajor if kind == "colmajor" else kernels.silu_mul_fp8_packed
            fn = lambda f=f, idx=idx: f(x, index=idx, **kw)  # noqa: E731
        elif name.startswith("sweep-colmajor"):
            _, _, bm, g, w = name.split("-")
            fn = lambda bm=int(bm[2:]), g=int(g[1:]), w=int(w[1:]): kernels.silu_mul_fp8_colmajor(  # noqa: E731
                x, block_m=bm, groups_per_program=g, num_warps=w, **kw)
        else:
            _, _, bm, w = name.split("-")
            fn = lambda bm=int(bm[2:]), w=int(w[1:]): kernels.silu_mul_fp8_packed(  # noqa: E731
                x, block_m=bm, num_warps=w, **kw)
        try:
            us = _bench(fn)
        except Exception as e:  # noqa: BLE001 -- a config that cannot compile is reported, not fatal
            rows.append({"name": name, "M": m, "N": n, "error": f"{type(e).__name__}: {e}"[:200]})
            continue
        b = nbytes(kind, m, n)
        rows.append({"name": name, "M": m, "N": n, "bytes": b, "us": round(us, 1),
                     "tbps": round(b / us / 1e6, 3)})
        if name == "copy":
            del src, dst
    res = {"device": dev, "date": datetime.date.today().isoformat(), "torch": torch.__version__,
           "triton": triton.__version__, "command": "python -m kernels bench"
           + (" --quick" if quick else "") + (" --sweep" if sweep else ""),
           "bytes_rule": "input M*N*2 + fp8 output M*N/2 + scales (fp32 M*N/256*4 or int32 M*ceil(N/1024)*4)",
           "records": rows}
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    Path(out_dir, "bench.json").write_text(json.dumps(res, indent=1))
    plot(res, os.path.join(out_dir, "bench.png"))
    return res


def plot(res: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [r for r in res["records"] if "tbps" in r and not r["name"].startswith("sweep")
            and r["M"] == res["records"][0]["M"] and r["N"] == res["records"][0]["N"]]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.barh([r["name"] for r in recs], [r["tbps"] for r in recs], color="tab:blue")
    copy = next((r["tbps"] for r in recs if r["name"] == "copy"), None)
    if copy:
        ax.axvline(copy, color="tab:red", ls="--", label=f"device copy {copy:.2f} TB/s")
        ax.legend(loc="lower right")
    ax.set_xlabel("TB/s (bytes read + written)")
    m, n = recs[0]["M"], recs[0]["N"]
    ax.set_title(f"M={m:,} N={n:,} on {res['device']} ({res['date']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
