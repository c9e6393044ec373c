"""Fused SiLU(gate) * up + FP8 quantization with UE8M0 scales packed four to an int32.

The Blackwell path of a DeepGEMM MoE: each scale is a power of two, so only its biased exponent
byte (bias 127, the fp32 exponent field) is kept; the bytes of groups 4p..4p+3 of a row share one
int32 (group 4p+j in byte j), stored MN-major with the column stride round_up(M, 4).
Semantics: kernels.reference (packed path).
"""
from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from . import tiles, validate
from .reference import FP8, GROUP, mn_major


@triton.jit
def silu_mul_fp8_packed_kernel(
    x_ptr,              # *T   input [M, N], row-major; gate = columns [0, N/2), up = [N/2, N)
    q_ptr,              # *fp8 output [M, N/2], row-major
    s_ptr,              # *i32 packed exponents; (row r, word p) lives at p * s_stride + r
    M,                  # rows; any value (rows past M are masked)
    N,                  # input columns = input row stride (multiple of 256)
    half,               # N / 2, passed (not computed) so Triton sees it is divisible by 16
    NUM_GROUPS,         # 128-column groups per row = N / 256
    s_stride,           # word column stride = round_up(M, 4)
    word_blocks,        # programs per row block = ceil(NUM_GROUPS / 4) / WORDS
    BLOCK_M: tl.constexpr,      # rows per program
    WORDS: tl.constexpr,        # packed words (4 groups each) per program
    ROWS_ON_AXIS0: tl.constexpr,  # False = upstream 2-D grid (word blocks, row blocks): axis 1 <= 65,535
    INDEX_64: tl.constexpr,     # False = the bug as shipped (int32 offsets), True = the fix
):
    if ROWS_ON_AXIS0:
        # The fixed grid is 1-D (limit 2**31 - 1), words fastest so that programs running together
        # read neighbouring bytes of the same rows.
        tile = tl.program_id(0)
        if INDEX_64:
            tile = tile.to(tl.int64)   # the fix: widen before anything is multiplied
        pid_m = tile // word_blocks
        pid_p = tile % word_blocks
    else:
        pid_p = tl.program_id(0)
        pid_m = tl.program_id(1)
        if INDEX_64:
            pid_m = pid_m.to(tl.int64)
            pid_p = pid_p.to(tl.int64)
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < M
    x_row = rows * N                 # P1: wraps past 2**31 in int32
    q_row = rows * half              # P2
    k = tl.arange(0, 128)
    # Every load of the program is issued before its first store: the compiler cannot prove that a
    # store does not alias a later load, so it keeps them in program order, and loads placed after
    # a store would start only once the group before them is done (PTX for sm_90: ld after st).
    gates = ()
    ups = ()
    for j in tl.static_range(4 * WORDS):
        gid = pid_p * 4 * WORDS + j
        mask = row_ok[:, None] & (gid < NUM_GROUPS)   # the last word may have unused lanes
        offs = x_row[:, None] + gid * 128 + k[None, :]
        gates = gates + (tl.load(x_ptr + offs, mask=mask, other=0.0),)
        ups = ups + (tl.load(x_ptr + offs + half, mask=mask, other=0.0),)
    for w in tl.static_range(WORDS):
        packed = tl.zeros([BLOCK_M], dtype=tl.int32)
        for i in tl.static_range(4):
            # j = 4 * w + i, written out: the interpreter turns every assigned name into a tensor,
            # and a tensor cannot index a tuple
            gid = pid_p * 4 * WORDS + 4 * w + i
            live = gid < NUM_GROUPS
            mask = row_ok[:, None] & live
            g = gates[4 * w + i].to(tl.float32)
            u = ups[4 * w + i].to(tl.float32)
            # Precision path: everything in fp32, then one rounding through bf16.
            y = (g / (1.0 + tl.exp(-g)) * u).to(tl.bfloat16).to(tl.float32)
            scale_raw = tl.maximum(tl.max(tl.abs(y), axis=1) / 448.0, 1e-10)
            e = tl.ceil(tl.log2(scale_raw))
            # y / 2**e, computed as y * 2**-e: a power of two's reciprocal is exact, so the product
            # has the quotient's bits, without an fp32 division per element (special-function
            # work: H200, results/gpu/nvidia-h200/targets.json, packed vs packed_div)
            q = tl.minimum(tl.maximum(y * tl.exp2(-e)[:, None], -448.0), 448.0)
            tl.store(q_ptr + q_row[:, None] + gid * 128 + k[None, :],
                     q.to(q_ptr.dtype.element_ty), mask=mask)
            byte = tl.minimum(tl.maximum(e + 127.0, 0.0), 255.0).to(tl.int32)
            packed = packed | (tl.where(live, byte, 0) << (8 * i))
        word = pid_p * WORDS + w
        tl.store(s_ptr + word * s_stride + rows, packed, mask=row_ok)   # P3


def silu_mul_fp8_packed(
    x: torch.Tensor,
    *,
    out: torch.Tensor | None = None,
    index: str = "int64",
    rows_axis: int = 0,
    block_m: int | None = None,
    words_per_program: int | None = None,
    num_warps: int | None = None,
    num_stages: int | None = None,
    check_finite: bool = True,
    unsafe_skip_launch_checks: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """x [M, N] bf16/fp16 -> (q [M, N/2] fp8 e4m3fn, packed [M, ceil(N/1024)] int32, strides (1, round_up(M,4))).

    index: "int64" (the fix, default) or "int32" (the bug as shipped).
    rows_axis: 0 (the fix, default: a 1-D grid of row-block x word tiles on axis 0, limit 2**31 - 1)
    or 1 (upstream: grid (words, row blocks), and CUDA caps axis 1 at 65,535 -> the launch fails
    from M = 524,281 with BLOCK_M = 8).
    block_m, words_per_program (packed words of 4 groups per program, reduced to a divisor of
    ceil(N/1024)), num_warps, num_stages: the tile; None = this GPU's recorded tile (kernels.tiles,
    docs/tuning.md); upstream variants (index="int32" or rows_axis=1) use upstream's BLOCK_M 8.
    """
    m, n = validate.check_input(x)
    validate.check_out(out, x)
    validate.check_choice("index", index, ("int32", "int64"))
    validate.check_choice("rows_axis", rows_axis, (0, 1))
    block_m, words_per_program, num_warps, num_stages = tiles.fill(
        "packed", x.device, m, n, (block_m, words_per_program, num_warps, num_stages),
        upstream=index == "int32" or rows_axis == 1)
    validate.check_choice("block_m", block_m, (1, 2, 4, 8, 16, 32, 64, 128))
    validate.check_choice("words_per_program", words_per_program, (1, 2, 4, 8, 16))
    validate.check_choice("num_warps", num_warps, (1, 2, 4, 8, 16))
    validate.check_choice("num_stages", num_stages, (1, 2, 3, 4))
    g = n // 2 // GROUP
    p = triton.cdiv(g, 4)
    wpp = math.gcd(p, words_per_program)   # a divisor of p: no program runs past the last word
    q = out if out is not None else torch.empty(m, n // 2, dtype=FP8, device=x.device)
    scales = mn_major(m, p, torch.int32, x.device)
    if m == 0:  # defined: empty outputs, no launch
        return q, scales
    if check_finite:
        validate.check_finite(x)
    if not unsafe_skip_launch_checks:
        validate.check_launch("packed", m, n, index, rows_axis, block_m)
    blocks = triton.cdiv(m, block_m)
    grid = (blocks * (p // wpp),) if rows_axis == 0 else (p // wpp, blocks)
    silu_mul_fp8_packed_kernel[grid](
        x, q, scales, m, n, n // 2, g, scales.stride(1), p // wpp,
        BLOCK_M=block_m, WORDS=wpp, ROWS_ON_AXIS0=rows_axis == 0, INDEX_64=index == "int64",
        num_warps=num_warps, num_stages=num_stages)
    return q, scales
