"""Sweep launch configurations of both kernels at the headline shape (GPU only); prints TB/s.

    python scripts/tune.py [--M 524416] [--N 8192]
"""
import argparse

import torch
from triton.testing import do_bench

import kernels
from kernels.bench import nbytes

ap = argparse.ArgumentParser()
ap.add_argument("--M", type=int, default=524_416)
ap.add_argument("--N", type=int, default=8_192)
a = ap.parse_args()
x = torch.randn(a.M, a.N, device="cuda", dtype=torch.bfloat16)
src = torch.empty(nbytes("colmajor", a.M, a.N) // 2, dtype=torch.uint8, device="cuda")
dst = torch.empty_like(src)


def tbps(kernel, fn):
    return nbytes(kernel, a.M, a.N) / (do_bench(fn, warmup=25, rep=300, return_mode="median") * 1e9)


print(f"copy {tbps('colmajor', lambda: dst.copy_(src)):.3f}")
for bm in (4, 8, 16):
    for g in (2, 4, 8):
        for w in (4, 8):
            t = tbps("colmajor", lambda: kernels.silu_mul_fp8_colmajor(
                x, block_m=bm, groups_per_program=g, num_warps=w, check_finite=False))
            print(f"colmajor bm{bm} g{g} w{w} {t:.3f}", flush=True)
for bm in (4, 8, 16):
    for w in (2, 4, 8):
        t = tbps("packed", lambda: kernels.silu_mul_fp8_packed(x, block_m=bm, num_warps=w,
                                                                check_finite=False))
        print(f"packed bm{bm} w{w} {t:.3f}", flush=True)
