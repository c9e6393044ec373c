# audit: --bound N=4096 --bound M=524288 --const BLOCK_M=1 --grid "M,8"
# Each product fits; the sum does not (issue 9's packed-kernel bug, small).
import triton
import triton.language as tl


@triton.jit
def sum_wraps(x_ptr, M, N, BLOCK_M: tl.constexpr):
    row = tl.program_id(0)
    g = tl.program_id(1)
    x_row = row * N  # expect: safe
    offs = x_row + g * 512 + tl.arange(0, 512) + N  # expect: wraps safe
    tl.store(x_ptr + offs, 0.0)


@triton.jit
def pointer_first(x_ptr, M, N, BLOCK_M: tl.constexpr):
    row = tl.program_id(0)
    g = tl.program_id(1)
    x_row = row * N  # expect: safe
    # added to the pointer one term at a time: each addition is 64-bit
    tl.store(x_ptr + x_row + g * 512 + tl.arange(0, 512) + N, 0.0)  # expect: safe


@triton.jit
def shifted(x_ptr, M, N, BLOCK_M: tl.constexpr):
    row = tl.program_id(0)
    tl.store(x_ptr + (row << 13), 0.0)  # expect: wraps
