# audit: --bound M=1048576 --bound N=4096 --const BLOCK_M=64 --const BLOCK_N=64 --grid 16384
import triton
import triton.language as tl


@triton.jit
def block_ptr_ok(x_ptr, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    pid = tl.program_id(0)
    # shape/strides are plain arguments; offsets is a small int32 product: safe
    p = tl.make_block_ptr(x_ptr, shape=(M, N), strides=(N, 1), offsets=(pid * BLOCK_M, 0),  # expect: safe
                          block_shape=(BLOCK_M, BLOCK_N), order=(1, 0))
    tl.store(p, tl.zeros((BLOCK_M, BLOCK_N), tl.float32))


@triton.jit
def block_ptr_base_wraps(x_ptr, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    pid = tl.program_id(0)
    base = x_ptr + pid * BLOCK_M * N  # expect: wraps safe
    p = tl.make_block_ptr(base, shape=(BLOCK_M, N), strides=(N, 1), offsets=(0, 0),
                          block_shape=(BLOCK_M, BLOCK_N), order=(1, 0))
    p = tl.advance(p, (0, BLOCK_N))
    tl.store(p, tl.zeros((BLOCK_M, BLOCK_N), tl.float32))


@triton.jit
def block_ptr_shape_wraps(x_ptr, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    # a flattened shape computed in int32 before Triton widens it
    p = tl.make_block_ptr(x_ptr, shape=(M * N,), strides=(1,), offsets=(0,),  # expect: wraps
                          block_shape=(BLOCK_N,), order=(0,))
    tl.store(p, tl.zeros((BLOCK_N,), tl.float32))
