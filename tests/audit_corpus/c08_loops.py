# audit: --bound stride=4096 --bound K=64 --grid 1024 --const BLOCK=32
import triton
import triton.language as tl


@triton.jit
def accumulate_offset(x_ptr, stride, K, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    off = pid * stride  # expect: safe
    for k in range(K):
        tl.store(x_ptr + off + tl.arange(0, BLOCK), 0.0)
        off += stride * 2  # expect: unknown safe


@triton.jit
def bounded_loop(x_ptr, stride, K, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    for k in range(0, K):
        tl.store(x_ptr + (pid * K + k) * stride + tl.arange(0, BLOCK), 0.0)  # expect: safe


@triton.jit
def static_loop(x_ptr, stride, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    for j in tl.static_range(4):
        tl.store(x_ptr + (pid * 4 + j) * stride + tl.arange(0, BLOCK), 0.0)  # expect: safe


@triton.jit
def while_loop(x_ptr, stride, K, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    i = 0
    while i < K:
        tl.store(x_ptr + i * stride + tl.arange(0, BLOCK), 0.0)  # expect: unknown
        i += 1
