# audit: --bound num_rows=2000000 --bound D=2048 --bound n=4096 --const BLOCK=128 --grid 32
import triton
import triton.language as tl


@triton.jit
def scatter_add(src_ptr, idx_ptr, out_ptr, n, D, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)  # expect: safe
    dst = tl.load(idx_ptr + offs, mask=offs < n, other=0)
    cols = tl.arange(0, 128)
    # the destination row comes from memory: the analysis cannot bound it
    tl.atomic_add(out_ptr + dst[:, None] * D + cols[None, :], 1.0)  # expect: unknown


@triton.jit
def histogram_rows(out_ptr, num_rows, D):
    pid = tl.program_id(0)
    row = num_rows - 1 - pid
    tl.atomic_max(out_ptr + row * D, 1)  # expect: wraps
