# audit: --bound N=65536 --bound M=100000 --grid 100000
# Decorators reached through aliases: from-import, module alias, jit(...) with arguments, autotune.
import triton
import triton as tr
import triton.language as tl
from triton import jit


@jit
def from_import(x_ptr, N):
    pid = tl.program_id(0)
    tl.store(x_ptr + pid * N, 0.0)  # expect: wraps


@tr.jit
def module_alias(x_ptr, N):
    pid = tl.program_id(0)
    tl.store(x_ptr + pid * N, 0.0)  # expect: wraps


@triton.jit(do_not_specialize=["N"])
def with_arguments(x_ptr, N):
    pid = tl.program_id(0)
    tl.store(x_ptr + pid * N, 0.0)  # expect: wraps


@triton.autotune(configs=[triton.Config({"BLOCK": 64}), triton.Config({"BLOCK": 256})], key=["M"])
@triton.jit
def autotuned(x_ptr, M, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)  # expect: safe
    tl.store(x_ptr + offs, 0.0, mask=offs < M)


def not_a_kernel(x, N):
    return x + 3 * N


@triton.heuristics({"EVEN": lambda args: args["N"] % 128 == 0})
@triton.jit
def heuristic_flag(x_ptr, N, EVEN: tl.constexpr):
    pid = tl.program_id(0)
    if EVEN:
        tl.store(x_ptr + pid * N, 0.0)  # expect: wraps
    else:
        tl.store(x_ptr + pid * N + 1, 0.0)  # expect: wraps
