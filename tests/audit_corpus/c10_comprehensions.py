# audit: --bound N=3000000 --grid 1000
import triton
import triton.language as tl


@triton.jit
def comprehension(x_ptr, N):
    pid = tl.program_id(0)
    offs = [pid * N + j for j in range(4)]  # expect: wraps
    tl.store(x_ptr + offs[0], 0.0)
