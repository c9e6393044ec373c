"""Make Triton's CPU interpreter round like the GPU (the CPU tier's one correction).

Triton's interpreter (``TRITON_INTERPRET=1``) runs kernels with numpy. Its float conversions differ
from the hardware (see the course's interpreter notes):

* fp32 -> fp8 e4m3 (``tl.float8e4nv``): ties not rounded to even, subnormals rounded twice, the
  mantissa carry dropped (-31.6 -> -16), and no saturation (464 -> NaN).
* fp32 -> bf16: truncates instead of rounding to nearest even.
* bf16 -> fp32: turns bf16 subnormals (|x| < 2**-126) into wrong fp32 values (2**-133 loads as 0,
  3 * 2**-133 as 2**-127), although the widening is exact on the GPU (the bf16 bits are the fp32
  bits' upper half).

On the GPU both narrowing conversions round to nearest even, and fp8 saturates at +-448 (inf -> 448,
NaN stays NaN). :func:`enable_gpu_rounding` swaps the interpreter's conversion routine, for exactly
these two round-to-nearest-even casts, for PyTorch's conversion with the GPU's saturation, and for
the bf16 widening, for the exact shift of the bits. Every other conversion still goes through
Triton's own routine.

It also routes the interpreter's fp32 ``exp`` and ``log2`` through PyTorch, the functions the
course's references use, so the CPU tier and the references evaluate one function, not two libms
that differ in the last bit (numpy's and PyTorch's ``exp`` disagree on ~40 % of inputs).

The correction patches interpreter internals, so it is pinned to the Triton versions it was verified
on and checks itself with a canary at install; any drift fails loudly.
"""
from __future__ import annotations

import numpy as np
import torch

VERIFIED_TRITON = ("3.6.0",)
FP8_MAX = 448.0

_installed = False


class InterpreterDriftError(RuntimeError):
    """The interpreter no longer behaves the way the correction was verified against."""


def _torch_convert(data: np.ndarray, dst: str) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))
    if dst == "fp8e4nv":
        # the GPU's cvt.rn.satfinite: saturate finite and infinite values, keep NaN a NaN
        t = torch.where(t.isnan(), t, t.clamp(-FP8_MAX, FP8_MAX))
        return t.to(torch.float8_e4m3fn).view(torch.uint8).numpy().reshape(data.shape)
    return t.to(torch.bfloat16).view(torch.uint16).numpy().reshape(data.shape)


def _torch_unary(fn):
    def op(x):
        if isinstance(x, np.ndarray) and x.dtype == np.float32:
            return fn(torch.from_numpy(np.ascontiguousarray(x))).numpy().reshape(x.shape)
        return getattr(np, fn.__name__)(x)
    return op


def enable_gpu_rounding() -> None:
    """Install the correction (idempotent). Raises InterpreterDriftError on an unverified Triton."""
    global _installed
    if _installed:
        return
    import triton
    import triton.language as tl
    from triton._C.libtriton import ir
    from triton.runtime import interpreter as ti

    if triton.__version__ not in VERIFIED_TRITON:
        raise InterpreterDriftError(
            f"kernels.interp was verified on triton {VERIFIED_TRITON}, this is {triton.__version__}. "
            "Install the pinned versions (requirements.txt) or set KERNELS_RAW_INTERPRETER=1 to run "
            "the uncorrected interpreter (its fp8 and bf16 casts then differ from the GPU).")
    original = ti._convert_float
    targets = {tl.float8e4nv: "fp8e4nv", tl.bfloat16: "bf16"}

    def convert_float(data, src, dst, rounding_mode):
        # rounding_mode None comes from cast_impl's fp32 -> bf16 truncation path, RTNE from .to(fp8)
        if src == tl.float32 and dst in targets and rounding_mode in (None, ir.ROUNDING_MODE.RTNE):
            return _torch_convert(data, targets[dst])
        if src == tl.bfloat16 and dst == tl.float32:
            # exact: the bf16 bits become the upper half of the fp32 bits, subnormals included
            bits = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint16)
            return (bits.astype(np.uint32) << 16).reshape(np.shape(data))
        return original(data, src, dst, rounding_mode)

    ti._convert_float = convert_float
    builder = ti.InterpreterBuilder
    builder.create_exp = lambda self, arg: self.unary_op(arg, _torch_unary(torch.exp))
    builder.create_log2 = lambda self, arg: self.unary_op(arg, _torch_unary(torch.log2))
    _installed = True
    _canary()


def _canary() -> None:
    """Run a tiny kernel through the patched interpreter and compare with PyTorch."""
    import triton
    import triton.language as tl

    @triton.jit
    def cast_kernel(x_ptr, f8_ptr, bf_ptr, e_ptr, w_ptr, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        x = tl.load(x_ptr + offs)
        tl.store(f8_ptr + offs, x.to(tl.float8e4nv))
        tl.store(bf_ptr + offs, x.to(tl.bfloat16))
        tl.store(e_ptr + offs, tl.exp(x))
        tl.store(w_ptr + offs, tl.load(bf_ptr + offs).to(tl.float32))   # bf16 widened back

    # a tie (rounds to even), a carry (-31.6), a subnormal, the saturation edge, a bf16 tie, and a
    # value whose bf16 is subnormal (2**-133: the widening must give it back)
    vals = [1.0625, -31.6, 0.0029296875, 464.0, 1.00390625, 0.1, -126.3, 2.0**-133]
    x = torch.tensor(vals, dtype=torch.float32)
    f8 = torch.empty(8, dtype=torch.float8_e4m3fn)
    bf = torch.empty(8, dtype=torch.bfloat16)
    e = torch.empty(8, dtype=torch.float32)
    w = torch.empty(8, dtype=torch.float32)
    cast_kernel[(1,)](x, f8, bf, e, w, BLOCK=8)
    want_f8 = x.clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn).view(torch.uint8)
    ok = (torch.equal(f8.view(torch.uint8), want_f8) and torch.equal(bf, x.to(torch.bfloat16))
          and torch.equal(e, torch.exp(x)) and torch.equal(w, bf.float()))
    if not ok:
        raise InterpreterDriftError(
            "the interpreter correction was installed but the canary kernel still rounds differently "
            "from PyTorch: Triton's interpreter internals changed. Pin triton==3.6.0.")
