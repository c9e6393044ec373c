"""On a GPU: kernels.gpu_math's two spellings against the plain ones, over every fp32 bit pattern.

    python scripts/gpu_spelling_proof.py OUTDIR     -> OUTDIR/gpu_spelling.json (and a summary)

For each of the 2**32 fp32 patterns g (generated inside the kernel from the program id, so no input
memory), one Triton kernel counts:

1. exp: ``tl.exp(-g)`` against ``gpu_math.exp_neg(g)``, bit for bit. They differ where the plain
   spelling returns a subnormal and the short one flushes it to zero (g above about 87.34): kept as
   a count with the smallest such g, because the lessons claim identity for silu, not for exp.
2. silu: ``g / (1 + tl.exp(-g))`` against ``g / (1 + gpu_math.exp_neg(g))``, bit for bit, a NaN
   equal to a NaN (the kernels' contract excludes non-finite input; silu of a finite g is finite).
3. the fp8 cast: ``clamp(g, -448, 448)`` cast to e4m3 against ``gpu_math.clamp_e4m3(g)`` cast
   (on a GPU: no clamp, the saturating cast alone), bytes compared, counted apart for NaN and
   non-NaN patterns (a clamped NaN becomes -448 through max.f32; the unclamped cast keeps it NaN).
4. the bf16 rounding: ``g.to(tl.bfloat16).to(tl.float32)`` against ``gpu_math.round_bf16(g, True)``
   (two values per cvt.rn.bf16x2.f32), bit for bit, a NaN equal to a NaN.

The counts are the result, whatever they are; exit status 0 when it ran. tests/test_gpu_spelling.py
checks the same spellings through the kernels' launchers on every bf16 and fp16 gate value.
"""
from __future__ import annotations

import datetime
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import kernels  # noqa: E402, F401  (before triton: picks the tier)
import torch  # noqa: E402
import triton  # noqa: E402
import triton.language as tl  # noqa: E402

from kernels import gpu_math  # noqa: E402

BLOCK = 4096
COUNTERS = ("exp_differs", "silu_differs", "cast_differs_not_nan", "cast_differs_nan", "nan_patterns",
            "round_bf16_differs")


@triton.jit
def _spellings(count_ptr, first_exp_ptr, start, n, BLOCK: tl.constexpr):
    # int64 before the multiply: start + pid * BLOCK runs past 2**31 (lessons 06-07)
    offs = start + tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    live = offs < n
    g = offs.to(tl.int32).to(tl.float32, bitcast=True)      # the low 32 bits, as fp32
    is_nan = g != g
    e_plain = tl.exp(-g)
    e_short = gpu_math.exp_neg(g)
    exp_diff = live & (e_plain.to(tl.int32, bitcast=True) != e_short.to(tl.int32, bitcast=True)) \
        & ~((e_plain != e_plain) & (e_short != e_short))
    s_plain = g / (1.0 + e_plain)
    s_short = g / (1.0 + e_short)
    silu_diff = live & (s_plain.to(tl.int32, bitcast=True) != s_short.to(tl.int32, bitcast=True)) \
        & ~((s_plain != s_plain) & (s_short != s_short))
    q_plain = tl.minimum(tl.maximum(g, -448.0), 448.0).to(tl.float8e4nv).to(tl.uint8, bitcast=True)
    q_short = gpu_math.clamp_e4m3(g).to(tl.float8e4nv).to(tl.uint8, bitcast=True)
    cast_diff = live & (q_plain != q_short)
    tl.atomic_add(count_ptr + 0, tl.sum(exp_diff.to(tl.int64)))
    tl.atomic_add(count_ptr + 1, tl.sum(silu_diff.to(tl.int64)))
    tl.atomic_add(count_ptr + 2, tl.sum((cast_diff & ~is_nan).to(tl.int64)))
    tl.atomic_add(count_ptr + 3, tl.sum((cast_diff & is_nan).to(tl.int64)))
    tl.atomic_add(count_ptr + 4, tl.sum((live & is_nan).to(tl.int64)))
    r_plain = g.to(tl.bfloat16).to(tl.float32)
    r_short = gpu_math.round_bf16(g, True)
    round_diff = live & (r_plain.to(tl.int32, bitcast=True) != r_short.to(tl.int32, bitcast=True)) \
        & ~((r_plain != r_plain) & (r_short != r_short))
    tl.atomic_add(count_ptr + 5, tl.sum(round_diff.to(tl.int64)))
    # the smallest positive g whose exp differs (exp(-g) is the plain spelling's subnormal there)
    big = 0x7F800000
    pos = exp_diff & (g > 0)
    tl.atomic_min(first_exp_ptr, tl.min(tl.where(pos, g.to(tl.int32, bitcast=True), big)))


def main(out: str) -> int:
    if not torch.cuda.is_available():
        sys.exit("gpu_spelling_proof.py needs a CUDA GPU")
    total = 1 << 32
    counts = torch.zeros(len(COUNTERS), dtype=torch.int64, device="cuda")
    first = torch.full((1,), 0x7F800000, dtype=torch.int32, device="cuda")
    t0 = time.time()
    chunk = 1 << 30
    for start in range(0, total, chunk):
        n = min(total, start + chunk)
        _spellings[(triton.cdiv(n - start, BLOCK),)](counts, first, start, n, BLOCK=BLOCK)
    torch.cuda.synchronize()
    c = dict(zip(COUNTERS, counts.tolist()))
    g0 = first.view(torch.float32).item()
    res = {
        "device": torch.cuda.get_device_name(), "capability": ".".join(map(str, torch.cuda.get_device_capability())),
        "torch": torch.__version__, "triton": triton.__version__,
        "date": datetime.date.today().isoformat(), "command": f"python scripts/gpu_spelling_proof.py {out}",
        "patterns": total, **c,
        "smallest_positive_g_whose_exp_differs": g0 if c["exp_differs"] else None,
        "seconds": round(time.time() - t0, 2),
    }
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "gpu_spelling.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
