# audit: --bound N=3000000 --grid 1000 --const BLOCK=16
import triton
import triton.language as tl


@triton.jit
def tuples(x_ptr, N, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    row, col = pid * N, pid  # expect: wraps
    tl.store(x_ptr + row + col + tl.arange(0, BLOCK), 0.0)


@triton.jit
def tuple_elements(x_ptr, N, BLOCK: tl.constexpr):
    pair = (tl.program_id(0), N)
    tl.store(x_ptr + pair[0] * pair[1] + tl.arange(0, BLOCK), 0.0)  # expect: wraps


@triton.jit
def walrus(x_ptr, N, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    tl.store(x_ptr + (base := pid * N) + tl.arange(0, BLOCK), 0.0)  # expect: wraps
    tl.store(x_ptr + base + 1, 1.0)
