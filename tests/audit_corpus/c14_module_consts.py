# audit: --bound N=4096 --grid 20000
# Module-level constants resolved from source: a sibling module (relative and absolute imports),
# tl.constexpr globals and their arithmetic, a parameter default; and two that stay unknown.
import lib.sizes as absolute_sizes
import triton
import triton.language as tl
from somewhere_else import MYSTERY

from .lib import sizes
from .lib.sizes import ROWS_PER_PROGRAM

BLOCK = tl.constexpr(64)
WIDE_BLOCK = tl.constexpr(BLOCK * 2)


@triton.jit
def sibling_module(x_ptr, N):
    pid = tl.program_id(0)
    # 19,999 * 16 * 4,096 = 1,310,654,464 fits; a wrong BLOCK_ROWS of 32 or more would not
    tl.store(x_ptr + pid * sizes.BLOCK_ROWS * N + tl.arange(0, BLOCK), 0.0)  # expect: safe
    tl.store(x_ptr + pid * absolute_sizes.BLOCK_ROWS * N + tl.arange(0, BLOCK), 0.0)  # expect: safe


@triton.jit
def constexpr_globals(x_ptr, N):
    pid = tl.program_id(0)
    tl.store(x_ptr + pid * WIDE_BLOCK * N + tl.arange(0, BLOCK), 0.0)  # expect: safe wraps


@triton.jit
def default_from_a_module_constant(x_ptr, N, BLOCK_M: tl.constexpr = ROWS_PER_PROGRAM):
    pid = tl.program_id(0)
    tl.store(x_ptr + pid * BLOCK_M * N + tl.arange(0, BLOCK), 0.0)  # expect: safe


@triton.jit
def unresolvable(x_ptr, N):
    pid = tl.program_id(0)
    tl.store(x_ptr + pid * MYSTERY * N + tl.arange(0, BLOCK), 0.0)  # expect: unknown
    tl.store(x_ptr + pid * CYCLE_B * N + tl.arange(0, BLOCK), 0.0)  # expect: unknown


CYCLE_A = CYCLE_B + 1  # noqa: F821 -- defined in a cycle: unknown to the audit, not a crash
CYCLE_B = CYCLE_A * 2
