"""Fused SiLU(gate) * up + per-token-group FP8 quantization, float32 scales in MN-major layout.

The Hopper path of a DeepGEMM MoE: its output feeds the second grouped GEMM, which wants one fp32
scale per (row, 128 columns), stored column-major (the M scales of a group contiguous) with the
column stride a multiple of 4 (TMA alignment). Semantics: kernels.reference (colmajor path).
Measured speed: results/gpu/ (bench*.json), explained in lesson 09.

Offset tags in the comments (C1..C9, S1, S2: the expressions kernels.offsets analyses; its module
docstring has the legend): C1/C2 block bases, C3 first row of the block, C4/C5/C7 in-block offsets,
C6/C8/C9 column, row and group indices, S1/S2 the scale store's column base and offset.
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
# the CPU tier's (and the upstream variant's) groups per program; None picks the largest power of
# two <= the tile's value that divides N/256
DEFAULT_GROUPS_PER_PROGRAM = tiles.CPU_TILES["colmajor"]["groups_per_program"]


@triton.jit
def silu_mul_fp8_colmajor_kernel(
    x_ptr,              # *T   input [M, N], row-major; gate = columns [0, N/2), up = [N/2, N)
    q_ptr,              # *fp8 output [M, N/2], row-major
    s_ptr,              # *f32 scales; (row r, group g) lives at g * s_stride + r
    M,                  # rows; any value (rows past M are masked; the grid covers round_up(M, 4))
    N,                  # input columns = input row stride (multiple of 256)
    half,               # N / 2, passed (not computed) so Triton sees it is divisible by 16
    s_stride,           # scale column stride = round_up(M, 4)
    eps,                # floor for each group's absmax (fp32)
    col_blocks,         # column programs per row block = N/2 / (GROUPS * 128)
    BLOCK_M: tl.constexpr,    # rows per program
    GROUPS: tl.constexpr,     # 128-column groups per program
    USE_UE8M0: tl.constexpr,  # round each scale up to a power of two
    INDEX_64: tl.constexpr,   # False = the bug as shipped (int32 offsets), True = the fix
    SOFTWARE_FP8: tl.constexpr = False,  # integer fp8 encoder, q_ptr a uint8 view (kernels.fp8)
    clamp_limit=0.0,    # SwiGLU limit L (fp32, in [2**-126, FLT_MAX]), read only with HAS_CLAMP
    HAS_CLAMP: tl.constexpr = False,  # gate <- min(gate, L), up <- clamp(up, -L, L); default: none
):
    BLOCK_N: tl.constexpr = GROUPS * GROUP
    # A 1-D grid of tiles, column programs fastest: programs that run together read neighbouring
    # bytes of the same rows (measured against upstream's (row, column) 2-D grid: results/gpu/).
    tile = tl.program_id(0)
    if INDEX_64:
        # The fix: widen the program id *before* anything is multiplied, so every product is int64.
        tile = tile.to(tl.int64)
    pid_m = tile // col_blocks
    pid_n = tile % col_blocks
    row0 = pid_m * BLOCK_M                      # C3
    rows = tl.arange(0, BLOCK_M)
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)     # C6
    row_ok = (row0 + rows) < M                  # C8
    x_blk = x_ptr + row0 * N                    # C1: wraps past 2**31 in int32
    q_blk = q_ptr + row0 * half                 # C2
    in_offs = rows[:, None] * N + cols[None, :]  # C4 (rows * N, int32 in both variants), C5
    g = tl.load(x_blk + in_offs, mask=row_ok[:, None], other=0.0).to(tl.float32)
    u = tl.load(x_blk + in_offs + half, mask=row_ok[:, None], other=0.0).to(tl.float32)

    # Precision path: silu in fp32 rounded to T, then the product rounded to T. A T x T product is
    # exact in fp32, so rounding it once equals a T multiply -- and the interpreter never sees bf16
    # arithmetic, which it gets wrong.
    t = x_ptr.dtype.element_ty
    if HAS_CLAMP:
        # the SwiGLU clamp as upstream's colmajor kernel does it (0.21+): in fp32, then narrowed
        # back to T, so silu and the product see T values (a limit T cannot hold acts rounded to T)
        g = tl.minimum(g, clamp_limit).to(t).to(tl.float32)
        u = tl.clamp(u, -clamp_limit, clamp_limit).to(t).to(tl.float32)
    s = (g / (1.0 + gpu_math.exp_neg(g))).to(t).to(tl.float32)   # exp(-g): kernels.gpu_math
    y = tl.reshape((s * u).to(t).to(tl.float32), (BLOCK_M, GROUPS, GROUP))

    amax = tl.maximum(tl.max(tl.abs(y), axis=2), eps)          # [BLOCK_M, GROUPS]
    scale = amax * (1.0 / FP8_MAX)
    if USE_UE8M0:
        e = tl.ceil(tl.log2(scale))
        scale = tl.exp2(e)
        # y / 2**e as y * 2**-e: the reciprocal of a power of two is exact, so the product has the
        # quotient's bits without an fp32 division per element (special-function work)
        ys = y * tl.exp2(-e)[:, :, None]
    else:
        ys = y / scale[:, :, None]
    # clamped to +-448 only where the fp8 cast does not saturate by itself (kernels.gpu_math)
    q = tl.reshape(gpu_math.clamp_e4m3(ys), (BLOCK_M, BLOCK_N))
    fp8.store_e4m3(q_blk + rows[:, None] * half + cols[None, :], q, row_ok[:, None], SOFTWARE_FP8)  # C7

    groups = pid_n * GROUPS + tl.arange(0, GROUPS)                   # C9
    s_offs = groups[None, :] * s_stride + (row0 + rows)[:, None]   # S1, S2: column-major
    # rows M .. s_stride - 1 are the TMA alignment padding: defined as 0, written here (no memset)
    pad_ok = (row0 + rows) < s_stride
    tl.store(s_ptr + s_offs, tl.where(row_ok[:, None], scale, 0.0), mask=pad_ok[:, None])


def silu_mul_fp8_colmajor(
    x: torch.Tensor,
    *,
    use_ue8m0: bool = False,
    eps: float = R.COLMAJOR_EPS,
    clamp_limit: float | None = None,
    out: torch.Tensor | None = None,
    index: Literal["int32", "int64"] = "int64",
    block_m: int | None = None,
    groups_per_program: int | None = None,
    num_warps: int | None = None,
    num_stages: int | None = None,
    check_finite: bool = False,
    unsafe_skip_launch_checks: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """x [M, N] bf16/fp16 -> (q [M, N/2] fp8 e4m3fn, scales [M, N/256] fp32, strides (1, round_up(M,4))).

    index: "int64" (the fix, default) or "int32" (the bug as shipped; refused when it would wrap).
    The tile (only speed depends on it; results are bit-identical for every tile):
    block_m: rows per program, a power of two in [1, 128]. num_warps: a power of two in [1, 32].
    num_stages: software-pipelining depth, 1..8. groups_per_program: 128-column groups per program,
    a power of two that divides N/256 (an explicit value is never silently reduced). None, the
    default for each: this GPU's recorded tile (kernels.tiles, docs/tuning.md); on the CPU tier and
    for index="int32" a fixed tile; a tile's groups_per_program is reduced to the largest power of
    two that divides N/256.
    eps: floor of each group's absmax, in [kernels.validate.EPS_MIN, FLT_MAX] (see validate.check_eps).
    clamp_limit: None (default: no clamp, compiled out) or the SwiGLU limit L, a number in
    [2**-126, FLT_MAX] (validate.check_clamp_limit): gate = min(gate, L), up = clamp(up, -L, L),
    in fp32 and then narrowed back to the input dtype T before silu and the product, as upstream's
    colmajor kernel does from vLLM 0.21 (fp8_utils.py). A limit T cannot represent therefore acts
    as its T rounding (7.01 clamps bf16 input at 7.0); the packed kernel keeps the clamped values in
    fp32 instead (lesson 02).
    check_finite: False (default) launches without looking at x: no device->host sync, no extra
    pass. Non-finite input, or finite input whose silu(gate)*up overflows the input dtype, then
    leaves the codes and scales of the groups it touches undefined, as upstream's kernel (which has
    no check either) does: a NaN element gives a NaN code, and whether its group's scale becomes NaN
    depends on how the max treats NaN (the CPU interpreter's ignores it; the reference propagates it).
    True rejects both before the launch (one extra pass over x and a device->host sync).
    The scales' padding rows M .. round_up(M, 4) - 1 hold 0 (the kernel writes them). Every check
    runs before the launch, once per shape and configuration (a launch plan: kernels.plan); one
    kernel launch per call. Speed: results/gpu/ and lesson 09.
    """
    # everything the launch depends on but x and out; the kernel too (a benchmark variant or a
    # test may swap it)
    options = (silu_mul_fp8_colmajor_kernel, use_ue8m0, eps, clamp_limit, index, block_m,
               groups_per_program, num_warps, num_stages, unsafe_skip_launch_checks)
    plan = _PLANS.lookup(x, out, options, _plan)   # every check once per configuration
    if check_finite is not False and validate.check_flag("check_finite", check_finite):
        limit = validate.check_clamp_limit(clamp_limit)
        validate.check_finite(x, lambda x, slack: R.colmajor_y(x, slack, limit), "colmajor")
    return plan.run(x, out)


_PLANS = plan_cache.Plans()


def _plan(x, out, kernel, use_ue8m0, eps, clamp_limit, index, block_m, groups_per_program,
          num_warps, num_stages, unsafe_skip_launch_checks) -> plan_cache.Plan:
    """Every check and decision of one (shape, configuration), made once: kernels.plan."""
    m, n = validate.check_input(x)
    validate.check_out(out, x, R.FP8)
    index = validate.check_index(index)
    use_ue8m0 = validate.check_flag("use_ue8m0", use_ue8m0)
    unsafe = validate.check_flag("unsafe_skip_launch_checks", unsafe_skip_launch_checks)
    eps = validate.check_eps(eps)
    clamp_limit = validate.check_clamp_limit(clamp_limit)
    tile = (validate.check_block_m(block_m) if block_m is not None else None, groups_per_program,
            validate.check_num_warps(num_warps) if num_warps is not None else None,
            validate.check_num_stages(num_stages) if num_stages is not None else None)
    block_m, tile_gpp, num_warps, num_stages = tiles.fill(
        "colmajor_ue8m0" if use_ue8m0 else "colmajor", x.device, m, n, tile, upstream=index == "int32")
    g = n // 2 // R.GROUP
    gpp = validate.check_groups_per_program(groups_per_program, g, tile_gpp)
    # m == 0 is defined: empty outputs, no launch (Triton skips an empty grid; nothing to do)
    if m and not unsafe:
        validate.check_launch("colmajor", m, n, index, 0, block_m, gpp)
    return plan_cache.Plan(
        kernel,
        offsets.grid("colmajor", m, n, block_m, 0, gpp) if m else None,
        kernel_args(m, n, eps=eps, index=index, block_m=block_m, groups=gpp, use_ue8m0=use_ue8m0,
                    clamp_limit=clamp_limit),
        dict(num_warps=num_warps, num_stages=num_stages),
        m=m, q_shape=(m, n // 2), s_cols=g, s_dtype=torch.float32,
        software_fp8=fp8.uses_software(x.device))  # fp8 path for this GPU (kernels.fp8)


def kernel_args(m: int, n: int, *, eps: float, index: str, block_m: int, groups: int,
                use_ue8m0: bool, clamp_limit: float | None = None) -> dict:
    """The kernel's scalar and compile-time arguments for one launch (after validation).

    One source: the launcher passes exactly these, and kernels.probe replays them. clamp_limit None
    compiles the clamp out (HAS_CLAMP=False; the 0.0 passed for it is never read)."""
    return dict(M=m, N=n, half=n // 2, s_stride=R.round_up(m, 4), eps=eps,
                col_blocks=n // 2 // R.GROUP // groups, BLOCK_M=block_m, GROUPS=groups,
                USE_UE8M0=use_ue8m0, INDEX_64=index == "int64",
                clamp_limit=0.0 if clamp_limit is None else clamp_limit,
                HAS_CLAMP=clamp_limit is not None)
