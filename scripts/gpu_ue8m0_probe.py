"""On a GPU: what the kernels' `tl.exp2(tl.ceil(tl.log2(s)))` gives near powers of two.

    python scripts/gpu_ue8m0_probe.py OUTDIR      -> OUTDIR/ue8m0_probe.json (and a summary on stdout)

Lesson 05 shows, on the CPU, that the log2 route rounds a scale just above a power of two *down*
(fp32 log2 returns exactly the integer) where DeepGEMM's bit route (`ceil_to_ue8m0`) rounds it up.
The GPU tests compare the kernels' UE8M0 scales with the CPU reference bit for bit, but their random
inputs almost never land just above a power of two. This script measures exactly those values on
the GPU, with the kernels' own expression in a tiny Triton kernel:

1. near: every fp32 bit pattern within 64 ulps (either side) of every normal power of two, 2**-126
   to 2**127 (32,766 values);
2. binade: every fp32 value in [2**-10, 2**-9), the binade of the lesson's example (8,388,608);
3. random: 16,777,216 bit patterns drawn uniformly from the positive normal floats (seed 0).

For each set it counts, against PyTorch's fp32 log2 on the CPU (what the course's reference uses):
raw log2 values that differ, exponents ceil(log2 s) that differ, and scales that differ; and it
counts where the GPU's log2 route and the exact bit route disagree (with the first examples).
It also checks that `tl.exp2` returns exactly 2**e for every integer e in [-126, 127], and records
which PTX instructions the kernel was compiled to (Triton 3.6 lowers `tl.log2` to libdevice's
`__nv_log2f`, `tl.exp2` to `ex2.approx.ftz.f32`: tests/test_gpu_math_ptx.py checks that without
a GPU). Exit status 0 when it ran; the counts are the result, whatever they are.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import kernels  # noqa: E402  (before triton: picks the tier)
import torch  # noqa: E402
import triton  # noqa: E402
import triton.language as tl  # noqa: E402

DEVICE = kernels.tier.DEVICE   # "cuda"; "cpu" only when the script is tried on the CPU tier
BLOCK = 1024


@triton.jit
def _log2_route(s_ptr, log2_ptr, e_ptr, scale_ptr, n, BLOCK: tl.constexpr):
    i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    ok = i < n
    s = tl.load(s_ptr + i, mask=ok, other=1.0)
    lg = tl.log2(s)
    e = tl.ceil(lg)                      # the kernels' expression, as in kernels/colmajor.py
    tl.store(log2_ptr + i, lg, mask=ok)
    tl.store(e_ptr + i, e, mask=ok)
    tl.store(scale_ptr + i, tl.exp2(e), mask=ok)


def gpu_route(s: torch.Tensor):
    """(log2, ceil, exp2) of s computed by the Triton kernel on DEVICE; the compiled kernel."""
    s = s.to(DEVICE)
    lg, e, sc = (torch.empty_like(s) for _ in range(3))
    compiled = _log2_route[(triton.cdiv(s.numel(), BLOCK),)](s, lg, e, sc, s.numel(), BLOCK=BLOCK)
    return lg.cpu(), e.cpu(), sc.cpu(), compiled


def bit_route(s: torch.Tensor) -> torch.Tensor:
    """The exact power of two at or above s: exponent field + (mantissa != 0), as a scale."""
    b = s.contiguous().view(torch.int32)
    field = ((b >> 23) & 0xFF) + ((b & 0x7FFFFF) != 0).to(torch.int32)
    return (field << 23).view(torch.float32)


def values() -> dict[str, torch.Tensor]:
    powers = torch.arange(1, 255, dtype=torch.int32) << 23            # 2**-126 .. 2**127
    d = torch.arange(-64, 65, dtype=torch.int32)
    d = d[d != 0]
    near = (powers[:, None] + d[None, :]).flatten()
    near = near[(near >= 0x00800000) & (near < 0x7F800000)]
    lo = torch.tensor(2.0**-10).view(torch.int32).item()
    binade = torch.arange(lo, lo + (1 << 23), dtype=torch.int32)
    g = torch.Generator().manual_seed(0)
    rand = torch.randint(0x00800000, 0x7F800000, (1 << 24,), generator=g, dtype=torch.int32)
    return {k: v.view(torch.float32) for k, v in (("near", near), ("binade", binade), ("random", rand))}


def measure(s: torch.Tensor) -> tuple[dict, object]:
    lg, e, sc, compiled = gpu_route(s)
    lg_cpu = torch.log2(s)                     # the course's reference: PyTorch's fp32 log2 on the CPU
    e_cpu = torch.ceil(lg_cpu)
    sc_cpu = torch.exp2(e_cpu)
    exact = bit_route(s)
    disagree = (sc != exact).nonzero().flatten()
    res = {
        "values": s.numel(),
        "log2_differs_from_cpu": int((lg.view(torch.int32) != lg_cpu.view(torch.int32)).sum()),
        "ceil_differs_from_cpu": int((e != e_cpu).sum()),
        "scale_differs_from_cpu": int((sc.view(torch.int32) != sc_cpu.view(torch.int32)).sum()),
        "gpu_scale_below_s": int((sc < s).sum()),
        "gpu_vs_bit_route_differ": int(disagree.numel()),
        "cpu_vs_bit_route_differ": int((sc_cpu != exact).sum()),
        "first_disagreements": [
            {"s": float(s[i]), "s_hex": f"0x{int(s.view(torch.int32)[i]) & 0xFFFFFFFF:08X}",
             "gpu_log2": float(lg[i]), "gpu_scale": float(sc[i]), "bit_route_scale": float(exact[i])}
            for i in disagree[:8].tolist()],
    }
    return res, compiled


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    res = {"device": torch.cuda.get_device_name(0) if DEVICE == "cuda" else "cpu (interpreter)",
           "date": time.strftime("%Y-%m-%d"), "command": f"python scripts/gpu_ue8m0_probe.py {outdir}",
           "torch": torch.__version__, "triton": triton.__version__, "sets": {}}
    compiled = None
    for name, s in values().items():
        res["sets"][name], compiled = measure(s)
        print(f"{name}: {json.dumps(res['sets'][name])[:600]}", flush=True)
    ints = torch.arange(-126, 128, dtype=torch.float32)
    _, _, sc, _ = gpu_route(torch.exp2(ints))           # log2 of an exact power is exact: e = ints
    res["exp2_of_integers_exact"] = bool(torch.equal(sc, torch.ldexp(torch.ones(254), ints.to(torch.int32))))
    asm = getattr(compiled, "asm", {}) or {}
    ptx = asm.get("ptx", "")
    res["ptx_math"] = sorted(set(re.findall(r"\b(?:lg2|ex2|cvt\.rp[a-z]*)\.[a-z0-9.]+", ptx)))
    res["ptx_calls_nv_log2f"] = "__nv_log2f" in ptx
    print(f"exp2 of integers exact: {res['exp2_of_integers_exact']}; ptx: {res['ptx_math']}, "
          f"__nv_log2f: {res['ptx_calls_nv_log2f']}")
    with open(os.path.join(outdir, "ue8m0_probe.json"), "w") as f:
        json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
