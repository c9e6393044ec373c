# audit: --bound n_tiles=40000 --bound D=65536 --grid 132 --const BLOCK=128
import triton
import triton.language as tl


@triton.jit
def persistent(x_ptr, y_ptr, n_tiles, D, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    nprog = tl.num_programs(0)
    for tile in range(pid, n_tiles, nprog):
        base = tile * D  # expect: wraps
        cols = tl.arange(0, BLOCK)
        tl.store(y_ptr + base + cols, tl.load(x_ptr + base + cols))


@triton.jit
def persistent_tl_range(x_ptr, n_tiles, D, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    for tile in tl.range(pid, n_tiles, tl.num_programs(0), num_stages=2):
        row = tile.to(tl.int64)
        tl.store(x_ptr + row * D + tl.arange(0, BLOCK), 0.0)


@triton.jit
def persistent_small(x_ptr, n_tiles, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    for tile in tl.range(pid, n_tiles, 132):
        tl.store(x_ptr + tile * BLOCK + tl.arange(0, BLOCK), 0.0)  # expect: safe
