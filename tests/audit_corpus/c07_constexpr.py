# audit: --bound N=1000000 --grid 100000 --const BLOCK=64
import triton
import triton.language as tl


@triton.jit
def flagged(x_ptr, N, WIDE: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    if WIDE:
        pid = pid.to(tl.int64)
    tl.store(x_ptr + pid * N + tl.arange(0, BLOCK), 0.0)  # expect: wraps


@triton.jit
def conditional_expression(x_ptr, N, WIDE: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    row = pid.to(tl.int64) if WIDE else pid
    tl.store(x_ptr + row * N + tl.arange(0, BLOCK), 0.0)  # expect: wraps


@triton.jit
def default_block(x_ptr, N, BLOCK: tl.constexpr = 8):
    pid = tl.program_id(0)
    if BLOCK > 4:
        tl.store(x_ptr + pid * BLOCK + tl.arange(0, BLOCK), 0.0)  # expect: safe
