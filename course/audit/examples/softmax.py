"""A fused row softmax, one program per row: y[r] = softmax(x[r]) in fp32.

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
def softmax_rows(x_ptr, y_ptr, n_cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * stride + cols, mask=mask, other=-float("inf")).to(tl.float32)
    x = x - tl.max(x, axis=0)
    e = tl.exp(x)
    tl.store(y_ptr + row * stride + cols, e / tl.sum(e, axis=0), mask=mask)


@triton.jit
def softmax_rows_fixed(x_ptr, y_ptr, n_cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)     # widen first: row * stride is computed in int64
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * stride + cols, mask=mask, other=-float("inf")).to(tl.float32)
    x = x - tl.max(x, axis=0)
    e = tl.exp(x)
    tl.store(y_ptr + row * stride + cols, e / tl.sum(e, axis=0), mask=mask)


def softmax(x: torch.Tensor, fixed: bool = True) -> torch.Tensor:
    """x [M, N] float32/float16, contiguous -> softmax over the last dim, float32 [M, N]."""
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        raise ValueError("x must be a 2-D tensor")
    if x.dtype not in (torch.float32, torch.float16) or not x.is_contiguous():
        raise ValueError(f"x must be contiguous float32 or float16, got {x.dtype}")
    m, n = x.shape
    if n < 1 or n > 2**17:
        raise ValueError(f"need 1 <= N <= 131072 columns (one block per row), got {n}")
    y = torch.empty(m, n, dtype=torch.float32, device=x.device)
    if m:
        kern = softmax_rows_fixed if fixed else softmax_rows
        kern[(m,)](x, y, n, n, BLOCK=triton.next_power_of_2(n))
    return y


def softmax_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x.float(), dim=-1)
