"""Show the int32 wrap without touching memory: a kernel that *stores* the offsets it computes.

For each program id it computes ``pid * BLOCK * stride`` three ways and writes the results to an
int64 tensor, never dereferencing them:

* ``"int32"``       -- as the buggy kernels do: all operands int32, the product wraps;
* ``"cast-after"``  -- ``(pid * BLOCK * stride).to(int64)``: the product already wrapped in int32,
                       widening the wrong number changes nothing;
* ``"cast-before"`` -- ``pid.to(int64) * BLOCK * stride``: the fix; exact.

Program ids are read from a tensor so the CPU tier can probe row block 65,536 (the first whose
block base wraps for N = 4,096) without running 65,536 programs.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from . import tier

MODES = ("int32", "cast-after", "cast-before")


@triton.jit
def offset_probe_kernel(
    pid_ptr,            # *i32 program ids to evaluate (int32, like tl.program_id)
    out_ptr,            # *i64 the offset each id produces
    n,                  # number of ids
    stride,             # row stride in elements (int32 when < 2**31, as Triton types it)
    BLOCK_M: tl.constexpr,   # rows per program
    MODE: tl.constexpr,      # 0 = int32, 1 = cast after the multiply, 2 = cast before
    BLOCK: tl.constexpr,
):
    i = tl.arange(0, BLOCK)
    pid = tl.load(pid_ptr + i, mask=i < n, other=0)
    if MODE == 0:
        off = (pid * BLOCK_M * stride).to(tl.int64)   # widened only to be stored
    elif MODE == 1:
        off = (pid * BLOCK_M * stride).to(tl.int64)   # the wrong habit: same bits as MODE 0
    else:
        off = pid.to(tl.int64) * BLOCK_M * stride     # the fix
    tl.store(out_ptr + i, off, mask=i < n)


def probe_offsets(pids, block_m: int, stride: int, mode: str) -> torch.Tensor:
    """Offsets ``pid * block_m * stride`` as the kernel computes them in `mode` (int64 tensor)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    p = torch.as_tensor(pids, dtype=torch.int32, device=tier.DEVICE).flatten()
    if p.numel() == 0:
        return torch.empty(0, dtype=torch.int64)
    out = torch.empty(p.numel(), dtype=torch.int64, device=tier.DEVICE)
    block = triton.next_power_of_2(p.numel())
    offset_probe_kernel[(1,)](p, out, p.numel(), stride, BLOCK_M=block_m, MODE=MODES.index(mode),
                              BLOCK=block)
    return out.cpu()
