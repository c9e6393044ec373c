"""A fused row softmax, one program per row: y[r] = softmax(x[r]) in fp32, in blocks of columns.

As found, the row offset is `row * stride` with both int32: for logits of an LM head (N = 128,256
columns, Llama 3's vocabulary) it wraps from row 16,745 on -- a prefill batch of 16,745 tokens.
The fix widens the program id before the multiply.
"""
from __future__ import annotations

import kernels  # noqa: F401,I001  (first: picks the tier -- GPU or interpreter -- before triton loads)
import torch
import triton
import triton.language as tl


@triton.jit
def softmax_rows(x_ptr, y_ptr, n_cols, stride, BLOCK: tl.constexpr, N_BLOCKS: tl.constexpr):
    row = tl.program_id(0)
    x_row = x_ptr + row * stride
    y_row = y_ptr + row * stride
    cols = tl.arange(0, BLOCK)
    # three passes over the row, BLOCK columns at a time: max, sum of exp, write
    m = tl.full([BLOCK], -float("inf"), tl.float32)
    for b in range(N_BLOCKS):
        c = b * BLOCK + cols
        m = tl.maximum(m, tl.load(x_row + c, mask=c < n_cols, other=-float("inf")).to(tl.float32))
    mx = tl.max(m, axis=0)
    d = tl.zeros([BLOCK], tl.float32)
    for b in range(N_BLOCKS):
        c = b * BLOCK + cols
        x = tl.load(x_row + c, mask=c < n_cols, other=-float("inf")).to(tl.float32)
        d += tl.exp(x - mx)
    den = tl.sum(d, axis=0)
    for b in range(N_BLOCKS):
        c = b * BLOCK + cols
        x = tl.load(x_row + c, mask=c < n_cols, other=-float("inf")).to(tl.float32)
        tl.store(y_row + c, tl.exp(x - mx) / den, mask=c < n_cols)


@triton.jit
def softmax_rows_fixed(x_ptr, y_ptr, n_cols, stride, BLOCK: tl.constexpr, N_BLOCKS: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)     # widen first: row * stride is computed in int64
    x_row = x_ptr + row * stride
    y_row = y_ptr + row * stride
    cols = tl.arange(0, BLOCK)
    # three passes over the row, BLOCK columns at a time: max, sum of exp, write
    m = tl.full([BLOCK], -float("inf"), tl.float32)
    for b in range(N_BLOCKS):
        c = b * BLOCK + cols
        m = tl.maximum(m, tl.load(x_row + c, mask=c < n_cols, other=-float("inf")).to(tl.float32))
    mx = tl.max(m, axis=0)
    d = tl.zeros([BLOCK], tl.float32)
    for b in range(N_BLOCKS):
        c = b * BLOCK + cols
        x = tl.load(x_row + c, mask=c < n_cols, other=-float("inf")).to(tl.float32)
        d += tl.exp(x - mx)
    den = tl.sum(d, axis=0)
    for b in range(N_BLOCKS):
        c = b * BLOCK + cols
        x = tl.load(x_row + c, mask=c < n_cols, other=-float("inf")).to(tl.float32)
        tl.store(y_row + c, tl.exp(x - mx) / den, mask=c < n_cols)


def softmax(x: torch.Tensor, fixed: bool = True, block: int = 1024) -> torch.Tensor:
    """x [M, N] float32/float16, contiguous -> softmax over the last dim, float32 [M, N]."""
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        raise ValueError("x must be a 2-D tensor")
    if x.dtype not in (torch.float32, torch.float16) or not x.is_contiguous():
        raise ValueError(f"x must be contiguous float32 or float16, got {x.dtype}")
    m, n = x.shape
    if n < 1 or n > 2**20:
        raise ValueError(f"need 1 <= N <= 1,048,576 columns, got {n}")
    if block not in (16, 32, 64, 128, 256, 512, 1024, 2048, 4096):
        raise ValueError("block must be a power of two from 16 to 4096")
    y = torch.empty(m, n, dtype=torch.float32, device=x.device)
    if m:
        kern = softmax_rows_fixed if fixed else softmax_rows
        kern[(m,)](x, y, n, n, BLOCK=block, N_BLOCKS=triton.cdiv(n, block))
    return y


def softmax_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x.float(), dim=-1)
