"""Two steps of the kernels, spelled for the GPU: the same bits as the plain spelling, fewer instructions.

Both kernels call these helpers. On a GPU they take the short spelling; on the CPU tier (Triton's
interpreter) the plain one, for the reasons given below. Lesson 09 ("An instruction diet") shows the
measured effect: SASS counts in results/gpu/h200/sass_sm90.json, H200 timings beside them.

``exp_neg(g)``: silu's exp(-g).
  Plain: ``tl.exp(-g)``. Triton 3.6 lowers it, for fp32 on NVIDIA, to ``0 - g``, a multiply by
  fp32(log2 e) and ``ex2.approx.f32``. The ``0 - g`` cannot be folded into the multiply: it turns
  -0 into +0. The non-flushing ex2 becomes four SASS instructions around MUFU.EX2.
  Short: ``tl.exp2(g * -log2 e)``. The multiply gives the same fp32 argument, because negation is
  exact and round-to-nearest is symmetric. Triton lowers this ex2 to ``ex2.approx.ftz.f32``: one
  MUFU.EX2.
  The two differ only where ftz flushes a subnormal:
  - an argument below -126 gives a result below 2**-126, and 1 + that rounds to 1 either way;
  - a subnormal argument gives 2**0 = 1 either way.
  So silu has the same bits for every input. tests/test_gpu_math.py checks this on a GPU for every
  bf16 and fp16 gate value.
  On the CPU tier the interpreter computes exp and exp2 with the CPU's own functions. Those differ
  in the last bit, so only the plain spelling matches kernels.reference there.

``clamp_e4m3(q)``: the clamp to +-448 before the fp8 cast.
  On a GPU the cast saturates by itself. The hardware path uses ``cvt.rn.satfinite.e4m3x2.f32``,
  and the software encoder (kernels.fp8) saturates too. The clamp is therefore two instructions per
  element that change no finite result.
  Triton's raw interpreter does not saturate (lesson 03), so the CPU tier keeps the clamp.
  NaN is outside the contract (the launchers' check_finite): the GPU's max.f32 turns it into -448
  when clamped, while the cast keeps a NaN (0x7F).
"""
from __future__ import annotations

import triton
import triton.language as tl

from . import tier
from .reference import FP8_MAX as _FP8_MAX

# True on a GPU (and when compiling for one without it: tier "none"); False on the CPU tier.
GPU_SPELLING = tl.constexpr(not tier.INTERPRETED)
# rounds to fp32 -0x1.715476p+0 (bits 0xBFB8AA3B): minus the log2 e that Triton's tl.exp multiplies by
NEG_LOG2E = tl.constexpr(-1.4426950408889634)
FP8_MAX = tl.constexpr(_FP8_MAX)


@triton.jit
def exp_neg(g):
    """exp(-g) for fp32 g: bit-identical to tl.exp(-g) on a GPU; the short spelling there."""
    if GPU_SPELLING:
        e = tl.exp2(g * NEG_LOG2E)
    else:
        e = tl.exp(-g)
    return e


@triton.jit
def clamp_e4m3(q):
    """q clamped to [-448, 448] where the fp8 cast might not saturate (the interpreter); q on a GPU."""
    if not GPU_SPELLING:
        q = tl.minimum(tl.maximum(q, -FP8_MAX), FP8_MAX)
    return q
