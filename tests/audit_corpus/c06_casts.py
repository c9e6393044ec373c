# audit: --bound N=1000000 --grid 100000 --const BLOCK=256
import triton
import triton.language as tl


@triton.jit
def cast_before(x_ptr, N, BLOCK: tl.constexpr):
    pid = tl.cast(tl.program_id(0), tl.int64)
    tl.store(x_ptr + pid * N + tl.arange(0, BLOCK), 0.0)


@triton.jit
def to_before(x_ptr, N, BLOCK: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)
    tl.store(x_ptr + pid * N + tl.arange(0, BLOCK), 0.0)


@triton.jit
def cast_after(x_ptr, N, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    off = (pid * N).to(tl.int64)  # expect: wraps
    tl.store(x_ptr + off + tl.arange(0, BLOCK), 0.0)


@triton.jit
def cast_after_keyword(x_ptr, N, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    off = tl.cast(pid * N, dtype=tl.int64)  # expect: wraps
    tl.store(x_ptr + off + tl.arange(0, BLOCK), 0.0)


@triton.jit
def narrowed_again(x_ptr, N, BLOCK: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64).to(tl.int32)
    tl.store(x_ptr + pid * N + tl.arange(0, BLOCK), 0.0)  # expect: wraps
