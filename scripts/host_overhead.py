"""Where the host time of a small default call goes (issue "Fast on every GPU", small batch).

    python scripts/host_overhead.py OUT_DIR        (a CUDA GPU; writes OUT_DIR/host_overhead.json)

At M = 4,096, N = 7,168 the kernel runs ~25 us on an H200, so the Python path that launches it
decides the call's time. Each variant below is called back to back (no sync inside the loop) and
timed on the host with perf_counter: the per-call host cost of each layer, from a bare Triton launch
up to the course's default call, in one process. "planning every call" clears the launcher's plans
before each call: what every call cost before kernels.plan (validation, tile, analysis, JIT binding).
"""
from __future__ import annotations

import datetime
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import kernels  # noqa: E402  (picks the tier before triton loads)
import torch  # noqa: E402
import triton  # noqa: E402
from kernels import colmajor, fp8, offsets, tiles  # noqa: E402
from kernels import reference as R  # noqa: E402

M, N, CALLS, BATCH = 4_096, 7_168, 2_000, 100


def per_call_us(fn) -> float:
    """Host µs per call, in batches of BATCH calls with the GPU drained between batches (untimed):
    a batch never fills CUDA's launch queue, so a layer whose GPU work outlasts its host work is
    not charged the wait for a free queue slot."""
    for _ in range(50):
        fn()
    torch.cuda.synchronize()
    host = 0.0
    for _ in range(CALLS // BATCH):
        t0 = time.perf_counter()
        for _ in range(BATCH):
            fn()
        host += time.perf_counter() - t0
        torch.cuda.synchronize()
    return round(host / CALLS * 1e6, 2)


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else "results/tmp"
    x = torch.randn(M, N, device="cuda", dtype=torch.bfloat16)
    q = torch.empty(M, N // 2, device="cuda", dtype=R.FP8)
    g = N // 256
    s = R.mn_major(M, g, torch.float32, "cuda", zeros=False)
    bm, gpp_tile, warps, stages = tiles.fill("colmajor", x.device, M, N, (None,) * 4)
    gpp = min(gpp_tile, g & -g)
    args = colmajor.kernel_args(M, N, eps=1e-10, index="int64", block_m=bm, groups=gpp, use_ue8m0=False)
    grid = offsets.grid("colmajor", M, N, bm, 0, gpp)
    k = colmajor.silu_mul_fp8_colmajor_kernel
    q_arg, sw = fp8.kernel_output(q)
    every = dict(x_ptr=x, q_ptr=q_arg, s_ptr=s, **args, SOFTWARE_FP8=sw)
    allpos = [every[a] for a in k.arg_names]              # every parameter, in signature order
    compiled = k[grid](*allpos, num_warps=warps, num_stages=stages)
    runner = compiled[tuple(grid) + (1,) * (3 - len(grid))]
    src = torch.empty(R.round_up(M * N * 2 + M * N // 2 + M * g * 4, 2) // 2, device="cuda",
                      dtype=torch.uint8)
    dst = torch.empty_like(src)
    variants = {
        "copy_ (torch, same bytes)": lambda: dst.copy_(src),
        "two torch.empty": lambda: (torch.empty(M, N // 2, device="cuda", dtype=R.FP8),
                                    R.mn_major(M, g, torch.float32, "cuda", zeros=False)),
        "Triton launch, positional": lambda: k[grid](*allpos, num_warps=warps, num_stages=stages),
        "Triton launch, keywords": lambda: k[grid](**every, num_warps=warps, num_stages=stages),
        "Triton compiled-kernel launcher": lambda: runner(*allpos),
        "launcher, planning every call": lambda: (colmajor._PLANS.clear(),
                                                  kernels.silu_mul_fp8_colmajor(x)),
        "launcher, default call": lambda: kernels.silu_mul_fp8_colmajor(x),
        "colmajor UE8M0 launcher, default call": lambda: kernels.silu_mul_fp8_colmajor(x, use_ue8m0=True),
        "packed launcher, default call": lambda: kernels.silu_mul_fp8_packed(x),
    }
    res = {name: per_call_us(fn) for name, fn in variants.items()}
    for name, us in res.items():
        print(f"{name:<34} {us:8.2f} us per call (host)")
    rec = {"device": torch.cuda.get_device_name(), "date": datetime.date.today().isoformat(),
           "torch": torch.__version__, "triton": triton.__version__, "python": sys.version.split()[0],
           "command": "python scripts/host_overhead.py " + out, "M": M, "N": N, "calls": CALLS,
           "batch": BATCH,
           "tile": {"block_m": bm, "groups_per_program": gpp, "num_warps": warps, "num_stages": stages},
           "host_us_per_call": res}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "host_overhead.json"), "w") as f:
        json.dump(rec, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
