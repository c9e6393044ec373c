"""Fused SiLU(gate) * up + FP8 quantization with UE8M0 scales packed four to an int32.

The Blackwell path of a DeepGEMM MoE: each scale is a power of two, so only its biased exponent
byte (bias 127, the fp32 exponent field) is kept; the bytes of groups 4p..4p+3 of a row share one
int32 (group 4p+j in byte j), stored MN-major with the column stride round_up(M, 4).
Semantics: kernels.reference (packed path). Measured speed: results/gpu/ and lesson 09.

Offset tags in the comments (P1..P9: the expressions kernels.offsets analyses; its module docstring
has the legend): P1/P2 row offsets, P3 word column base, P5/P6/P7 group offsets, P8/P9 row and
group indices. P4 is upstream's grid-axis-1 limit (rows_axis=1), not an expression.
"""
from __future__ import annotations

from typing import Literal

import torch
import triton
import triton.language as tl

from . import fp8, gpu_math, offsets, tiles, validate
from . import plan as plan_cache
from . import reference as R

# Compile-time constants of the kernel body, from their one source (kernels.reference): a Triton
# kernel may read a global only when it is a tl.constexpr.
FP8_MAX = tl.constexpr(R.FP8_MAX)
GROUP = tl.constexpr(R.GROUP)
PACKED_EPS = tl.constexpr(R.PACKED_EPS)
UE8M0_BIAS = tl.constexpr(float(R.UE8M0_BIAS))   # the biased exponent byte is e + 127
GROUPS_PER_WORD = tl.constexpr(offsets.GROUPS_PER_WORD)


@triton.jit
def _bitwise_or(a, b):
    return a | b


@triton.jit
def silu_mul_fp8_packed_kernel(
    x_ptr,              # *T   input [M, N], row-major; gate = columns [0, N/2), up = [N/2, N)
    q_ptr,              # *fp8 output [M, N/2], row-major
    s_ptr,              # *i32 packed exponents; (row r, word p) lives at p * s_stride + r
    M,                  # rows; any value (rows past M are masked; the grid covers round_up(M, 4))
    N,                  # input columns = input row stride (multiple of 256)
    half,               # N / 2, passed (not computed) so Triton sees it is divisible by 16
    num_groups,         # 128-column groups per row = N / 256
    s_stride,           # word column stride = round_up(M, 4)
    words,              # packed words per row = ceil(num_groups / 4)
    BLOCK_M: tl.constexpr,      # rows per program
    ROWS_ON_AXIS0: tl.constexpr,  # False = upstream 2-D grid (words, row blocks): axis 1 <= 65,535
    INDEX_64: tl.constexpr,     # False = the bug as shipped (int32 offsets), True = the fix
    SOFTWARE_FP8: tl.constexpr = False,  # integer fp8 encoder, q_ptr a uint8 view (kernels.fp8)
    clamp_limit=0.0,    # SwiGLU limit L (fp32, in [2**-126, FLT_MAX]), read only with HAS_CLAMP
    HAS_CLAMP: tl.constexpr = False,  # gate <- min(gate, L), up <- clamp(up, -L, L); default: none
):
    if ROWS_ON_AXIS0:
        # The fixed grid is 1-D (limit 2**31 - 1), words fastest so that programs running together
        # read neighbouring bytes of the same rows.
        tile = tl.program_id(0)
        if INDEX_64:
            tile = tile.to(tl.int64)   # the fix: widen before anything is multiplied
        pid_m = tile // words
        pid_p = tile % words
    else:
        pid_p = tl.program_id(0)
        pid_m = tl.program_id(1)
        if INDEX_64:
            pid_m = pid_m.to(tl.int64)
            pid_p = pid_p.to(tl.int64)
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)   # P8
    row_ok = rows < M
    x_row = rows * N                 # P1: wraps past 2**31 in int32
    q_row = rows * half              # P2
    # The word's four groups are one axis of a [BLOCK_M, 4, 128] tile, loaded at once (upstream
    # loops over them; the loop's speed: lesson 09, "The word as one tile").
    j = tl.arange(0, GROUPS_PER_WORD)
    gid = pid_p * GROUPS_PER_WORD + j   # P9
    live = gid < num_groups          # the last word may have unused lanes
    k = tl.arange(0, GROUP)
    mask = row_ok[:, None, None] & live[None, :, None]
    offs = x_row[:, None, None] + gid[None, :, None] * GROUP + k[None, None, :]   # P5, P6, P7: summed in int32 first
    g = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    u = tl.load(x_ptr + offs + half, mask=mask, other=0.0).to(tl.float32)
    # Precision path: everything in fp32, then one rounding through bf16.
    if HAS_CLAMP:
        # the SwiGLU clamp as upstream's packed kernel does it (0.20+): in fp32, not narrowed
        g = tl.minimum(g, clamp_limit)
        u = tl.clamp(u, -clamp_limit, clamp_limit)
    # silu(g) * u rounded to bf16 (gpu_math: two values per conversion where fp8 is in hardware)
    y = gpu_math.round_bf16(g / (1.0 + gpu_math.exp_neg(g)) * u, not SOFTWARE_FP8)
    scale_raw = tl.maximum(tl.max(tl.abs(y), axis=2) / FP8_MAX, PACKED_EPS)   # [BLOCK_M, 4]
    e = tl.ceil(tl.log2(scale_raw))
    # y / 2**e as y * 2**-e: the reciprocal of a power of two is exact, so the product has the
    # quotient's bits without an fp32 division per element (special-function work)
    q = gpu_math.clamp_e4m3(y * tl.exp2(-e)[:, :, None])   # +-448 where the cast won't saturate
    fp8.store_e4m3(q_ptr + q_row[:, None, None] + gid[None, :, None] * GROUP + k[None, None, :], q,
                   mask, SOFTWARE_FP8)
    byte = tl.minimum(tl.maximum(e + UE8M0_BIAS, 0.0), 255.0).to(tl.int32)
    # group 4p + j in byte j of the word: the bytes do not overlap, so or-ing them packs them
    packed = tl.reduce(tl.where(live[None, :], byte, 0) << (8 * j)[None, :], 1, _bitwise_or)
    # rows M .. s_stride - 1 are the TMA alignment padding: defined as 0, written here (no memset)
    tl.store(s_ptr + pid_p * s_stride + rows, tl.where(row_ok, packed, 0),
             mask=rows < s_stride)   # P3


def silu_mul_fp8_packed(
    x: torch.Tensor,
    *,
    out: torch.Tensor | None = None,
    clamp_limit: float | None = None,
    index: Literal["int32", "int64"] = "int64",
    rows_axis: Literal[0, 1] = 0,
    block_m: int | None = None,
    num_warps: int | None = None,
    num_stages: int | None = None,
    check_finite: bool = False,
    unsafe_skip_launch_checks: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """x [M, N] bf16/fp16 -> (q [M, N/2] fp8 e4m3fn, packed [M, ceil(N/1024)] int32, strides (1, round_up(M,4))).

    clamp_limit: None (default: no clamp, compiled out) or the SwiGLU limit L, a number in
    [2**-126, FLT_MAX] (validate.check_clamp_limit): gate = min(gate, L), up = clamp(up, -L, L),
    in fp32 and kept in fp32, as upstream's packed kernel does from vLLM 0.20 (fp8_utils.py). The
    colmajor kernel narrows the clamped values back to the input dtype, so for a limit the input
    dtype cannot represent the two kernels clamp at different values (lesson 02).
    index: "int64" (the fix, default) or "int32" (the bug as shipped).
    rows_axis: 0 (the fix, default: a 1-D grid of row-block x word tiles on axis 0, limit 2**31 - 1)
    or 1 (upstream: grid (words, row blocks), and CUDA caps axis 1 at 65,535 -> the launch fails
    from M = 524,281 with BLOCK_M = 8).
    The tile (only speed depends on it; results are bit-identical for every tile): block_m, rows
    per program, a power of two in [1, 128]; num_warps, a power of two in [1, 32]; num_stages, 1..8.
    None, the default for each: this GPU's recorded tile (kernels.tiles, docs/tuning.md); on the CPU
    tier and for the upstream variants (index="int32" or rows_axis=1) upstream's fixed tile.
    check_finite: False (default) launches without looking at x: no device->host sync, no extra
    pass. Non-finite input, or finite input whose silu(gate)*up overflows fp32/bf16, then leaves the
    codes and scales of the groups it touches undefined, as upstream's kernel (which has no check
    either) does: a NaN element gives a NaN code, and whether its group's scale byte changes depends
    on how the max treats NaN (the CPU interpreter's ignores it; the reference propagates it). True
    rejects both before the launch (one extra pass over x and a device->host sync).
    The scales' padding rows M .. round_up(M, 4) - 1 hold 0 (the kernel writes them). Every check
    runs before the launch, once per shape and configuration (a launch plan: kernels.plan); one
    kernel launch per call. Speed: results/gpu/ and lesson 09.
    """
    # everything the launch depends on but x and out; the kernel too (a benchmark variant or a
    # test may swap it)
    options = (silu_mul_fp8_packed_kernel, clamp_limit, index, rows_axis, block_m, num_warps,
               num_stages, unsafe_skip_launch_checks)
    plan = _PLANS.lookup(x, out, options, _plan)   # every check once per configuration
    if check_finite is not False and validate.check_flag("check_finite", check_finite):
        limit = validate.check_clamp_limit(clamp_limit)
        validate.check_finite(x, lambda x, slack: R.packed_y(x, slack, limit), "packed")
    return plan.run(x, out)


_PLANS = plan_cache.Plans()


def _plan(x, out, kernel, clamp_limit, index, rows_axis, block_m, num_warps, num_stages,
          unsafe_skip_launch_checks) -> plan_cache.Plan:
    """Every check and decision of one (shape, configuration), made once: kernels.plan."""
    m, n = validate.check_input(x)
    validate.check_out(out, x, R.FP8)
    index = validate.check_index(index)
    rows_axis = validate.check_rows_axis(rows_axis)
    clamp_limit = validate.check_clamp_limit(clamp_limit)
    unsafe = validate.check_flag("unsafe_skip_launch_checks", unsafe_skip_launch_checks)
    tile = (validate.check_block_m(block_m) if block_m is not None else None,
            validate.check_num_warps(num_warps) if num_warps is not None else None,
            validate.check_num_stages(num_stages) if num_stages is not None else None)
    block_m, num_warps, num_stages = tiles.fill("packed", x.device, m, n, tile,
                                                upstream=index == "int32" or rows_axis == 1)
    g = n // 2 // R.GROUP
    # m == 0 is defined: empty outputs, no launch
    if m and not unsafe:
        validate.check_launch("packed", m, n, index, rows_axis, block_m)
    return plan_cache.Plan(
        kernel,
        offsets.grid("packed", m, n, block_m, rows_axis) if m else None,
        kernel_args(m, n, index=index, rows_axis=rows_axis, block_m=block_m,
                    clamp_limit=clamp_limit),
        dict(num_warps=num_warps, num_stages=num_stages),
        m=m, q_shape=(m, n // 2), s_cols=triton.cdiv(g, offsets.GROUPS_PER_WORD),
        s_dtype=torch.int32, software_fp8=fp8.uses_software(x.device))  # fp8 path (kernels.fp8)


def kernel_args(m: int, n: int, *, index: str, rows_axis: int, block_m: int,
                clamp_limit: float | None = None) -> dict:
    """The kernel's scalar and compile-time arguments for one launch (after validation).

    One source: the launcher passes exactly these, and kernels.probe replays them. clamp_limit None
    compiles the clamp out (HAS_CLAMP=False; the 0.0 passed for it is never read)."""
    g = n // 2 // R.GROUP
    return dict(M=m, N=n, half=n // 2, num_groups=g, s_stride=R.round_up(m, 4),
                words=triton.cdiv(g, offsets.GROUPS_PER_WORD), BLOCK_M=block_m,
                ROWS_ON_AXIS0=rows_axis == 0, INDEX_64=index == "int64",
                clamp_limit=0.0 if clamp_limit is None else clamp_limit,
                HAS_CLAMP=clamp_limit is not None)
