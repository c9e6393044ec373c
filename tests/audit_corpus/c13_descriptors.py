# audit: --bound M=1000000 --bound N=4096 --const BLOCK=64 --grid 15625
import triton
import triton.language as tl


@triton.jit
def descriptor(x_ptr, M, N, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    desc = tl.make_tensor_descriptor(x_ptr, shape=[M, N], strides=[N, 1], block_shape=[BLOCK, BLOCK])
    v = desc.load([pid * BLOCK, 0])  # expect: safe
    desc.store([pid * BLOCK, BLOCK], v)  # expect: safe


@triton.jit
def descriptor_flat(x_ptr, M, N, BLOCK: tl.constexpr):
    desc = tl.make_tensor_descriptor(x_ptr, shape=[M * N], strides=[1], block_shape=[BLOCK])  # expect: wraps
    v = desc.load([0])
    desc.store([BLOCK], v)
