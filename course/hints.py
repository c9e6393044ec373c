"""Hints in tiers, from one table: ``hint("group_scale")`` shows the next tier, ``hint(id, 2)`` tier 2.

Tier 1 points at the idea, tier 2 at the Triton/PyTorch tool, tier 3 is nearly the code. Which tier a
learner has seen is kept in the progress file (course.exercises), so ``hint(id)`` moves on each call.
"""
from __future__ import annotations

from . import exercises

HINTS: dict[str, tuple[str, ...]] = {
    "silu_mul_kernel": (
        "Each program owns BLOCK_M rows (program_id(0)) and one 128-column group (program_id(1)). "
        "Gate is x[r, c], up is x[r, c + N/2]; mask rows >= M.",
        "Load both halves and convert to fp32 at once (.to(tl.float32)): the interpreter cannot do bf16 "
        "arithmetic. T = y_ptr.dtype.element_ty is the input dtype.",
        "s = (g / (1.0 + tl.exp(-g))).to(T).to(tl.float32); y = (s * u).to(T); store y at "
        "y_ptr + rows[:, None] * (N // 2) + cols[None, :] with mask=rows[:, None] < M.",
    ),
    "silu_mul_launch": (
        "One program per (block of BLOCK_M rows, 128-column group): how many blocks for M rows when M "
        "is not a multiple of BLOCK_M?",
        "triton.cdiv(M, BLOCK_M) rounds up; the number of groups is (N // 2) // 128.",
        "silu_mul_kernel[(triton.cdiv(M, BLOCK_M), N // 256)](x, y, M, N, BLOCK_M=BLOCK_M)",
    ),
    "group_scale": (
        "Reduce over the 128 columns (axis 1) of |y|; an all-zero group must still get a positive scale.",
        "tl.max(tl.abs(y), axis=1) gives the absmax per row; tl.maximum(amax, eps) floors it.",
        "return tl.maximum(tl.max(tl.abs(y), axis=1), eps) * (1.0 / 448.0)",
    ),
    "fp8_quantize": (
        "Quantizing divides by the scale (x ~= q * scale). Keep the result inside fp8 e4m3fn's finite "
        "range before the cast.",
        "scale is [BLOCK_M]: broadcast it with scale[:, None]. tl.minimum / tl.maximum (or tl.clamp) "
        "clamp; .to(tl.float8e4nv) casts to e4m3fn.",
        "v = tl.minimum(tl.maximum(y / scale[:, None], -448.0), 448.0); return v, v.to(tl.float8e4nv)",
    ),
    "scale_offsets": (
        "MN-major: walking down the M rows of one group moves 1 element; moving to the next group "
        "jumps a whole (padded) column.",
        "Offsets are groups[None, :] * column_stride + rows[:, None] * row_stride with strides "
        "(1, s_stride).",
        "return groups[None, :] * s_stride + rows[:, None]",
    ),
    "scale_alloc": (
        "Allocate the transposed shape contiguously, then transpose the view: its strides become "
        "(1, rows of the buffer).",
        "The buffer's row count must be round_up(M, 4) (TMA alignment), then keep the first M rows.",
        "torch.zeros(G, (M + 3) // 4 * 4, dtype=torch.float32, device=DEV).t()[:M]",
    ),
    "ue8m0_round": (
        "A power of two at or above s: its exponent is the smallest integer e with 2**e >= s.",
        "tl.log2, tl.ceil and tl.exp2 all work on fp32 tensors.",
        "return tl.exp2(tl.ceil(tl.log2(scale)))",
    ),
    "pack_exponents": (
        "Byte = biased exponent e + 127, clamped to [0, 255]; group 4p+j goes to byte j "
        "(group 4p in the lowest byte).",
        "Convert each byte to tl.int32 after clamping in fp32, then shift left by 8 * j and OR the four "
        "together.",
        "b = lambda e: tl.minimum(tl.maximum(e + 127.0, 0.0), 255.0).to(tl.int32) (write it out four "
        "times); return b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)",
    ),
    "largest_offset": (
        "The kernel computes row0 * N with row0 = pid_m * block_m; the largest is for the last program.",
        "There are cdiv(M, block_m) programs along M, so the last row0 is (cdiv(M, block_m) - 1) * "
        "block_m. Python ints never overflow.",
        "return (-(-M // block_m) - 1) * block_m * N",
    ),
    "first_failing_m": (
        "Find the smallest M (a multiple of `multiple`) with largest_offset(M, N, block_m) > 2**31 - 1.",
        "The offset only grows with M: step through multiples, or binary-search, or solve "
        "row0 * N > INT32_MAX for row0 and go back to M.",
        "M = multiple; while largest_offset(M, N, block_m) <= 2**31 - 1: M += multiple (or a binary "
        "search over M // multiple); return M",
    ),
    "fix_offsets": (
        "pid is int32 and stride < 2**31 arrives as int32, so pid * BLOCK_M * stride is multiplied in "
        "32 bits and wraps.",
        "Widening the *result* is too late: the product already wrapped. Widen an operand before the "
        "first multiply.",
        "off = pid.to(tl.int64) * BLOCK_M * stride",
    ),
    "packed_grid": (
        "CUDA caps grid axes 1 and 2 at 65,535 but axis 0 at 2**31 - 1. Which dimension can be huge?",
        "The row blocks, cdiv(M, block_m), grow with M; the packed words, cdiv(N / 256, 4), are few.",
        "return (triton.cdiv(M, block_m), triton.cdiv(N // 256, 4))",
    ),
    "precheck": (
        "Two ways to fail: an int32 offset (row * N for the last row, M - 1) above 2**31 - 1, or a grid "
        "axis above its limit (rows_axis=1 puts cdiv(M, block_m) on axis 1, limit 65,535).",
        "Compute both with Python ints before any launch; raise ValueError (or "
        "kernels.KernelInputError) with M, the value and the limit in the message.",
        "if (M - 1) * N > 2**31 - 1: raise ValueError(f'M = {M}: offset {(M-1)*N} overflows int32'); "
        "if rows_axis == 1 and cdiv(M, block_m) > 65535: raise ValueError(f'M = {M}: grid axis 1 ...')",
    ),
}


def hint(ex_id: str, tier: int | None = None) -> None:
    """Print the next hint tier for `ex_id` (or tier `tier`, without moving on)."""
    tiers = HINTS.get(ex_id)
    if tiers is None:
        raise exercises.ExerciseError(f"no hints for {ex_id!r}; exercises: {', '.join(HINTS)}")
    n = len(tiers)
    if tier is None:
        state = exercises.load_state()
        tier = min(state["hints"].get(ex_id, 0) + 1, n)
        state["hints"][ex_id] = tier
        exercises.save_state(state)
    if not 1 <= tier <= n:
        raise exercises.ExerciseError(f"{ex_id} has hints 1 to {n}, not {tier}")
    e = exercises.get(ex_id)
    more = (f"hint(\"{ex_id}\") again for tier {tier + 1}" if tier < n else
            f"that was the last one; `python -m course reveal {e.notebook} {ex_id} --print` shows the solution")
    print(f"💡 {ex_id} hint {tier}/{n}: {tiers[tier - 1]}\n   ({more})")
