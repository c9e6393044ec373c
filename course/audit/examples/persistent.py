"""A persistent RMS norm: a fixed number of programs walk the rows with a grid-stride loop.

y[r] = x[r] / sqrt(mean(x[r]^2) + eps), fp32. The program id is widened before the loop, so the
loop variable and every row offset are int64: this one is correct, and the audit says so.
"""
from __future__ import annotations

import kernels  # noqa: F401,I001  (first: picks the tier -- GPU or interpreter -- before triton loads)
import torch
import triton
import triton.language as tl


@triton.jit
def rms_norm_persistent(x_ptr, y_ptr, n_rows, D, eps, ROWS_PER_PROGRAM: tl.constexpr,
                        BLOCK_D: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)
    nprog = tl.num_programs(0)
    cols = tl.arange(0, BLOCK_D)
    # Grid-stride loop: program p takes rows p, p + nprog, p + 2 nprog, ... The trip count is a
    # constexpr so that the kernel also runs in Triton's CPU interpreter, which (triton 3.6 with
    # numpy >= 2.4) cannot loop to a bound passed at run time.
    for i in range(ROWS_PER_PROGRAM):
        row = pid + i * nprog
        base = row * D
        mask = (cols < D) & (row < n_rows)
        x = tl.load(x_ptr + base + cols, mask=mask, other=0.0).to(tl.float32)
        rms = tl.sqrt(tl.sum(x * x, axis=0) / D + eps)
        tl.store(y_ptr + base + cols, x / rms, mask=mask)


def rms_norm(x: torch.Tensor, eps: float = 1e-6, programs: int = 4) -> torch.Tensor:
    """x [M, D] float32/float16, contiguous -> float32 [M, D]; `programs` persistent programs."""
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        raise ValueError("x must be a 2-D tensor")
    if x.dtype not in (torch.float32, torch.float16) or not x.is_contiguous():
        raise ValueError(f"x must be contiguous float32 or float16, got {x.dtype}")
    if not (isinstance(eps, float) and eps > 0):
        raise ValueError("eps must be a positive float")
    if not (isinstance(programs, int) and 1 <= programs <= 65536):
        raise ValueError("programs must be an int in [1, 65536]")
    m, d = x.shape
    if d < 1 or d > 2**16:
        raise ValueError(f"need 1 <= D <= 65536, got {d}")
    y = torch.empty(m, d, dtype=torch.float32, device=x.device)
    if m:
        p = min(programs, m)
        rms_norm_persistent[(p,)](x, y, m, d, eps, ROWS_PER_PROGRAM=triton.cdiv(m, p),
                                  BLOCK_D=triton.next_power_of_2(d))
    return y


def rms_norm_ref(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    x = x.float()
    return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps)
