# audit: --bound M=4000000 --bound N=8192 --const BLOCK_M=4 --const BLOCK_N=128 --grid "cdiv(M,4)*(N//128)"
# A correct kernel: every product that can grow is 64-bit; the in-block ones are tiny.
import triton
import triton.language as tl


@triton.jit
def row_scale(x_ptr, y_ptr, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    tile = tl.program_id(0).to(tl.int64)
    col_blocks = N // BLOCK_N
    rows = (tile // col_blocks) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = (tile % col_blocks) * BLOCK_N + tl.arange(0, BLOCK_N)
    offs = rows[:, None] * N + cols[None, :]
    mask = rows[:, None] < M
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=mask) * 2.0, mask=mask)
    inner = tl.arange(0, BLOCK_M)[:, None] * N  # expect: safe
    tl.store(y_ptr + inner, 0.0)
