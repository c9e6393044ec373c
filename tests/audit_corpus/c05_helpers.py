# audit: --bound stride=8192 --bound M=600000 --grid 600000
import triton
import triton.language as tl


@triton.jit
def _row_start(base, row, stride):
    return base + row * stride  # expect: wraps


@triton.jit
def _offset(row, stride):
    return row * stride  # expect: wraps


@triton.jit
def _load_row(ptr, row, stride):
    return tl.load(ptr + row.to(tl.int64) * stride + tl.arange(0, 16))


@triton.jit
def kernel(x_ptr, y_ptr, M, stride):
    pid = tl.program_id(0)
    p = _row_start(x_ptr, pid, stride)
    v = tl.load(p + tl.arange(0, 16))
    tl.store(y_ptr + _offset(pid, stride=stride) + tl.arange(0, 16), v)
    w = _load_row(x_ptr, pid, stride)
    tl.store(y_ptr + tl.arange(0, 16), w)
