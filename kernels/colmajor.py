"""Fused SiLU(gate) * up + per-token-group FP8 quantization, float32 scales in MN-major layout.

The Hopper path of a DeepGEMM MoE: its output feeds the second grouped GEMM, which wants one fp32
scale per (row, 128 columns), stored column-major (the M scales of a group contiguous) with the
column stride a multiple of 4 (TMA alignment). Semantics: kernels.reference (colmajor path).
"""
from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from . import tiles, validate
from .reference import FP8, FP8_MAX, GROUP, mn_major


@triton.jit
def silu_mul_fp8_colmajor_kernel(
    x_ptr,              # *T   input [M, N], row-major; gate = columns [0, N/2), up = [N/2, N)
    q_ptr,              # *fp8 output [M, N/2], row-major
    s_ptr,              # *f32 scales; (row r, group g) lives at g * s_stride + r
    M,                  # rows; any value (rows past M are masked)
    N,                  # input columns = input row stride (multiple of 256)
    half,               # N / 2, passed (not computed) so Triton sees it is divisible by 16
    s_stride,           # scale column stride = round_up(M, 4)
    eps,                # floor for each group's absmax
    col_blocks,         # column blocks per row block = N/2 / (GROUPS * 128)
    BLOCK_M: tl.constexpr,    # rows per program
    GROUPS: tl.constexpr,     # 128-column groups per program
    USE_UE8M0: tl.constexpr,  # round each scale up to a power of two
    INDEX_64: tl.constexpr,   # False = the bug as shipped (int32 offsets), True = the fix
):
    BLOCK_N: tl.constexpr = GROUPS * 128
    # A 1-D grid of tiles, column blocks fastest: programs that run together read neighbouring
    # bytes of the same rows (H100, 2026-11-27: +3 to +7 % over upstream's (row, column) 2-D grid).
    tile = tl.program_id(0)
    if INDEX_64:
        # The fix: widen the program id *before* anything is multiplied, so every product is int64.
        tile = tile.to(tl.int64)
    pid_m = tile // col_blocks
    pid_n = tile % col_blocks
    row0 = pid_m * BLOCK_M                      # C3
    rows = tl.arange(0, BLOCK_M)
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    row_ok = (row0 + rows) < M
    x_blk = x_ptr + row0 * N                    # C1: wraps past 2**31 in int32
    q_blk = q_ptr + row0 * half                 # C2
    in_offs = rows[:, None] * N + cols[None, :]
    g = tl.load(x_blk + in_offs, mask=row_ok[:, None], other=0.0).to(tl.float32)
    u = tl.load(x_blk + in_offs + half, mask=row_ok[:, None], other=0.0).to(tl.float32)

    # Precision path: silu in fp32 rounded to T, then the product rounded to T. A T x T product is
    # exact in fp32, so rounding it once equals a T multiply -- and the interpreter never sees bf16
    # arithmetic, which it gets wrong.
    t = x_ptr.dtype.element_ty
    s = (g / (1.0 + tl.exp(-g))).to(t).to(tl.float32)
    y = tl.reshape((s * u).to(t).to(tl.float32), (BLOCK_M, GROUPS, 128))

    amax = tl.maximum(tl.max(tl.abs(y), axis=2), eps)          # [BLOCK_M, GROUPS]
    scale = amax * (1.0 / 448.0)
    if USE_UE8M0:
        e = tl.ceil(tl.log2(scale))
        scale = tl.exp2(e)
        # y / 2**e as y * 2**-e: the reciprocal of a power of two is exact, so the product has the
        # quotient's bits without an fp32 division per element (colmajor_ue8m0 vs _div in
        # results/gpu/nvidia-h200/targets.json)
        ys = y * tl.exp2(-e)[:, :, None]
    else:
        ys = y / scale[:, :, None]
    q = tl.minimum(tl.maximum(ys, -448.0), 448.0)
    q = tl.reshape(q, (BLOCK_M, BLOCK_N)).to(q_ptr.dtype.element_ty)
    tl.store(q_blk + rows[:, None] * half + cols[None, :], q, mask=row_ok[:, None])

    groups = pid_n * GROUPS + tl.arange(0, GROUPS)
    s_offs = groups[None, :] * s_stride + (row0 + rows)[:, None]   # S1: column-major
    tl.store(s_ptr + s_offs, scale, mask=row_ok[:, None])


def silu_mul_fp8_colmajor(
    x: torch.Tensor,
    *,
    use_ue8m0: bool = False,
    eps: float = 1e-10,
    out: torch.Tensor | None = None,
    index: str = "int64",
    block_m: int | None = None,
    groups_per_program: int | None = None,
    num_warps: int | None = None,
    num_stages: int | None = None,
    check_finite: bool = True,
    unsafe_skip_launch_checks: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """x [M, N] bf16/fp16 -> (q [M, N/2] fp8 e4m3fn, scales [M, N/256] fp32, strides (1, round_up(M,4))).

    index: "int64" (the fix, default) or "int32" (the bug as shipped; refused when it would wrap).
    block_m, groups_per_program (128-column groups per program, reduced to a divisor of N/256),
    num_warps, num_stages: the tile; None = this GPU's recorded tile (kernels.tiles, docs/tuning.md).
    Built-in default tile (8 rows x 8 groups, 8 warps, 1-D tile order): 3.093 TB/s on an H100 at
    M=524,416, N=8,192 (results/gpu/bench.json; a device copy of the same bytes: 3.026). Most tiles on
    the 1-D grid land within noise of it (best in the recorded sweep: 3.107), a few fall off a cliff
    (too many warps for a small tile, or too few for a large one); upstream's 2-D grid with 8 rows x
    1 group, 4 warps: 2.90.
    Everything is checked before the launch; see kernels.validate for the errors.
    """
    m, n = validate.check_input(x)
    validate.check_out(out, x)
    validate.check_choice("index", index, ("int32", "int64"))
    block_m, groups_per_program, num_warps, num_stages = tiles.fill(
        "colmajor_ue8m0" if use_ue8m0 else "colmajor", x.device, m, n,
        (block_m, groups_per_program, num_warps, num_stages), upstream=index == "int32")
    validate.check_choice("block_m", block_m, (1, 2, 4, 8, 16, 32, 64, 128))
    validate.check_choice("num_warps", num_warps, (1, 2, 4, 8, 16))
    validate.check_choice("num_stages", num_stages, (1, 2, 3, 4))
    if not (isinstance(eps, float) and math.isfinite(eps) and eps > 0):
        raise validate.KernelInputError(f"eps must be a positive finite float, got {eps!r}")
    g = n // 2 // GROUP
    gpp = math.gcd(g, groups_per_program) if groups_per_program >= 1 else 0
    if gpp & (gpp - 1) or gpp == 0:
        raise validate.KernelInputError("groups_per_program must be a power of two >= 1")
    q = out if out is not None else torch.empty(m, n // 2, dtype=FP8, device=x.device)
    scales = mn_major(m, g, torch.float32, x.device)
    if m == 0:  # defined: empty outputs, no launch (a zero-size grid is a CUDA error)
        return q, scales
    if check_finite:
        validate.check_finite(x)
    if not unsafe_skip_launch_checks:
        validate.check_launch("colmajor", m, n, index, 0, block_m, gpp)
    grid = (triton.cdiv(m, block_m) * (g // gpp),)
    silu_mul_fp8_colmajor_kernel[grid](
        x, q, scales, m, n, n // 2, scales.stride(1), eps, g // gpp,
        BLOCK_M=block_m, GROUPS=gpp, USE_UE8M0=use_ue8m0, INDEX_64=index == "int64",
        num_warps=num_warps, num_stages=num_stages)
    return q, scales
