"""Three steps of the kernels spelled for the GPU: fewer instructions, the same silu and codes on finite input.

Both kernels call these helpers. On a GPU they take the short spelling; on the CPU tier (Triton's
interpreter) the plain one, for the reasons given below. Lesson 09 ("Fewer instructions, the same bits") shows the
measured effect: SASS counts in results/gpu/h200/sass_sm90.json, H200 timings beside them.

``exp_neg(g)``: silu's exp(-g).
  Plain: ``tl.exp(-g)``. Triton 3.6 lowers it, for fp32 on NVIDIA, to ``0 - g``, a multiply by
  fp32(log2 e) and ``ex2.approx.f32``. The ``0 - g`` cannot be folded into the multiply: it turns
  -0 into +0. For the non-flushing ex2, ptxas adds three SASS instructions around MUFU.EX2: a range
  check and two conditional multiplies, so that results below 2**-126 come out subnormal.
  Short: ``tl.exp2(g * -log2 e)``. The multiply gives the same fp32 argument as the plain spelling,
  because negation is exact and round-to-nearest is symmetric. The one exception is g = +0, which
  gives -0 instead of +0, and ex2 of either is 1. Triton lowers this ex2 to ``ex2.approx.ftz.f32``:
  one MUFU.EX2.
  Why silu keeps its bits:
  - For every argument >= -126, and for NaN, both spellings run the same MUFU.EX2 on the same input.
    Subnormal arguments are included: the non-flushing path also passes them straight to MUFU.EX2.
  - Below -126 (g from about 87.34 to 103.97), the plain result is a subnormal and the short one is 0
    (beyond, both are 0). So exp itself differs there, but 1 + e rounds to 1 either way.
  So silu, g / (1 + e), has the same bits for every fp32 g. On an H200, scripts/gpu_spelling_proof.py
  checks all 2**32 patterns (results/gpu/h200/gpu_spelling.json), and tests/test_gpu_spelling.py
  checks the kernels on every bf16 and fp16 gate value.
  On the CPU tier the interpreter computes exp and exp2 with the CPU's own functions. There the
  argument rounding of the short spelling moves results by up to tens of ulps, so only the plain
  spelling matches kernels.reference.

``clamp_e4m3(q)``: the clamp to +-448 before the fp8 cast.
  On a GPU the cast saturates by itself. The hardware path uses ``cvt.rn.satfinite.e4m3x2.f32``,
  and the software encoder (kernels.fp8) saturates too. The clamp is therefore two instructions per
  element that change no finite result.
  Triton's raw interpreter does not saturate (lesson 03), so the CPU tier keeps the clamp.
  NaN is outside the contract (the launchers' check_finite). Upstream's clamp turns a NaN into -448
  (max.f32 returns the other operand), while the cast alone keeps it NaN (0x7F). So on NaN input the
  course's GPU kernels no longer match upstream's bytes; on finite input they do.

``round_bf16(y, PAIRED)``: the packed kernel's one rounding of silu(g) * u through bf16.
  Plain: ``y.to(tl.bfloat16).to(tl.float32)``. Triton 3.6 emits one ``cvt.rn.bf16.f32`` per value,
  and ptxas turns each into an F2F.BF16.F32: one conversion instruction per element.
  Short (a GPU with PAIRED): ``cvt.rn.bf16x2.f32`` rounds two values in one instruction (one F2FP),
  and two integer operations widen the halves back to fp32 (SASS counts: scripts/sass_counts.py).
  Both round to nearest, ties to even, and keep subnormals; on an H200 the two spellings agree on
  all 2**32 fp32 patterns, a NaN counted equal to a NaN (results/gpu/h200/gpu_spelling.json). The
  instruction needs sm_80 or newer, so the kernel asks for it only where fp8 is converted in
  hardware (sm_89+, kernels.fp8); elsewhere, and on the CPU tier (the interpreter cannot run inline
  PTX), the plain spelling.
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
    """exp(-g) for fp32 g, for silu: on a GPU the short spelling, whose silu has tl.exp(-g)'s bits."""
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


# round_bf16's paired path, two elements per asm instance (pack=2): $0, $1 are the results for
# elements i and i + 1, $2, $3 their inputs. cvt.rn.bf16x2.f32 d, a, b puts a's rounding in d's
# high half and b's in its low half; the low half widens by a shift, the high half by clearing the
# low 16 bits. tests/test_gpu_math_ptx.py runs this text through the PTX manual's rules on the CPU.
PAIRED_BF16_PTX = tl.constexpr(
    "{ .reg .b32 t; cvt.rn.bf16x2.f32 t, $3, $2; shl.b32 $0, t, 16; and.b32 $1, t, 0xffff0000; }")
PAIRED_BF16_CONSTRAINTS = tl.constexpr("=r,=r,r,r")


@triton.jit
def round_bf16(y, PAIRED: tl.constexpr):
    """fp32 y rounded to bf16 (to nearest, ties to even) and widened back to fp32."""
    if GPU_SPELLING and PAIRED:
        y = tl.inline_asm_elementwise(PAIRED_BF16_PTX, PAIRED_BF16_CONSTRAINTS, [y], dtype=tl.float32,
                                      is_pure=True, pack=2)
    else:
        y = y.to(tl.bfloat16).to(tl.float32)
    return y
