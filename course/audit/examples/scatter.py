"""Scatter-add of rows with atomics: out[idx[i], :] += src[i, :] (an MoE "combine").

One program per (source row, block of columns). As found, both row offsets are int32 products: `pid * D` for the
source (rows = tokens x top-k after expert-parallel dispatch, millions) and `dst * D` for the
destination, where `dst` is an int32 index loaded from memory -- the audit cannot bound a loaded
value by itself, so the realistic launch gives it a bound (`--bound dst=...`, the largest token
index). The fix widens both before the multiply.
"""
from __future__ import annotations

import kernels  # noqa: F401,I001  (first: picks the tier -- GPU or interpreter -- before triton loads)
import torch
import triton
import triton.language as tl


@triton.jit
def scatter_add_rows(src_ptr, idx_ptr, out_ptr, D, BLOCK_D: tl.constexpr):
    pid = tl.program_id(0)
    dst = tl.load(idx_ptr + pid)
    c = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    m = c < D
    v = tl.load(src_ptr + pid * D + c, mask=m, other=0.0)
    tl.atomic_add(out_ptr + dst * D + c, v, mask=m)


@triton.jit
def scatter_add_rows_fixed(src_ptr, idx_ptr, out_ptr, D, BLOCK_D: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)
    dst = tl.load(idx_ptr + pid).to(tl.int64)
    c = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    m = c < D
    v = tl.load(src_ptr + pid * D + c, mask=m, other=0.0)
    tl.atomic_add(out_ptr + dst * D + c, v, mask=m)


def scatter_add(src: torch.Tensor, idx: torch.Tensor, out: torch.Tensor, fixed: bool = True,
                block_d: int = 128) -> torch.Tensor:
    """out[idx[i]] += src[i] for float32 src [R, D], int32 idx [R] (0 <= idx < out rows), out [T, D]."""
    if src.ndim != 2 or out.ndim != 2 or idx.ndim != 1:
        raise ValueError("need src [R, D], idx [R], out [T, D]")
    if src.dtype != torch.float32 or out.dtype != torch.float32 or idx.dtype != torch.int32:
        raise ValueError("src and out must be float32, idx int32")
    if not (src.is_contiguous() and out.is_contiguous() and idx.is_contiguous()):
        raise ValueError("src, idx and out must be contiguous")
    if idx.shape[0] != src.shape[0] or out.shape[1] != src.shape[1]:
        raise ValueError(f"shapes do not match: src {tuple(src.shape)}, idx {tuple(idx.shape)}, "
                         f"out {tuple(out.shape)}")
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= out.shape[0]):
        raise ValueError(f"idx must lie in [0, {out.shape[0]})")
    if block_d not in (16, 32, 64, 128, 256):
        raise ValueError("block_d must be one of 16, 32, 64, 128, 256")
    if src.shape[0] >= 2**31 or triton.cdiv(src.shape[1], block_d) > 65535:
        raise ValueError("too many rows or columns for the grid (axis 0 < 2**31, axis 1 <= 65,535)")
    if src.shape[0] and src.shape[1]:
        kern = scatter_add_rows_fixed if fixed else scatter_add_rows
        kern[(src.shape[0], triton.cdiv(src.shape[1], block_d))](src, idx, out, src.shape[1], BLOCK_D=block_d)
    return out


def scatter_add_ref(src: torch.Tensor, idx: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    return out.index_add(0, idx.long(), src)
