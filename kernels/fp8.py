"""fp32 -> fp8 e4m3fn on every CUDA GPU: the hardware conversion where it exists, integer code elsewhere.

The GPU instruction behind Triton's ``x.to(tl.float8e4nv)`` (PTX ``cvt.rn.satfinite.e4m3x2.f32``)
exists from sm_89 (Ada, Hopper, Blackwell: CUDA's own cuda_fp8.hpp, shipped in
triton/backends/nvidia/include, uses it only under ``__CUDA_ARCH__ >= 890`` and integer code
below); Triton 3.6 refuses the type below that ("type fp8e4nv not supported in this
architecture"), so on a T4 (sm_75), an A100 (sm_80) or an RTX 30xx (sm_86) the course's kernels
would not even compile. :func:`e4m3fn_bits` computes the same byte with integer arithmetic on the
fp32 bit pattern, and the kernels store it through a uint8 view of the output:

* round to nearest, ties to even, on the 3 mantissa bits (a carry moves into the exponent);
* subnormals (|x| < 2**-6) as k * 2**-9, k rounded to nearest even, so tiny values become +-0;
* saturation: |x| >= 448, infinities included, gives +-448 (0x7E / 0xFE), as ``.satfinite`` does;
* NaN gives 0x7F, whatever its sign (the H100 gave 0x7F for +NaN; scripts/gpu_fp8_proof.py checks
  every NaN pattern of both signs against the hardware).

On a GPU the kernels rely on that saturation instead of clamping to +-448 first (kernels.gpu_math);
the encoder matches the hardware for every input, and ``scripts/gpu_fp8_proof.py`` proves it on a GPU over every
fp32 bit pattern in [-480, 480], every infinity and every NaN (tests/test_fp8_software.py does the
same against PyTorch on the CPU tier).

Which path a launch uses (:func:`choose`): ``KERNELS_FP8_PATH`` = ``auto`` (default: hardware from
sm_89, software below), ``hardware`` (refused below sm_89) or ``software`` (any GPU, and the CPU
tier: forces the integer encoder, e.g. to compare both paths on one GPU).
"""
from __future__ import annotations

import functools
import os

import torch
import triton
import triton.language as tl

from .validate import KernelInputError

ENV = "KERNELS_FP8_PATH"
PATHS = ("auto", "hardware", "software")
# Triton 3.6 enables fp8e4nv from capability 89 (triton/backends/nvidia/compiler.py,
# CUDABackend.parse_options: `if capability >= 89: supported_fp8_dtypes.add("fp8e4nv")`).
HARDWARE_SM = (8, 9)


@triton.jit
def e4m3fn_bits(x):
    """fp32 tensor -> e4m3fn bytes (uint8), bit for bit what cvt.rn.satfinite.e4m3x2.f32 gives."""
    b = x.to(tl.int32, bitcast=True)
    sign = (b >> 24) & 0x80                       # the fp32 sign bit, moved to bit 7
    a = b & 0x7FFFFFFF                            # |x| as bits; the order of bits is the order of values
    # Normal fp8 (|x| >= 2**-6, a >= 0x3C800000): keep exponent + 3 mantissa bits, rounding the
    # dropped 20 bits to nearest even; the carry of a round-up runs into the exponent by itself.
    # Re-bias the exponent from 127 to 7 (120 << 3). a is capped at 448 so nothing overflows.
    an = tl.minimum(a, 0x43E00000)
    normal = ((an + 0x7FFFF + ((an >> 20) & 1)) >> 20) - (120 << 3)
    # Subnormal fp8 (|x| < 2**-6): k = |x| / 2**-9 rounded to nearest even. |x| = m * 2**(e - 150)
    # with the implicit bit in m, so k = m >> (141 - e) rounded; a shift of 25 or more leaves less
    # than a half (m < 2**24): zero. fp32 subnormals (e == 0) land there too.
    e = a >> 23
    m = (a & 0x7FFFFF) | 0x800000
    shift = tl.minimum(tl.maximum(141 - e, 21), 25)
    k = m >> shift
    rest = m & ((1 << shift) - 1)
    half = 1 << (shift - 1)
    k += ((rest > half) | ((rest == half) & ((k & 1) == 1))).to(tl.int32)
    mag = tl.where(a < 0x3C800000, k, normal)
    mag = tl.where(a >= 0x43E00000, 0x7E, mag)   # 448 and beyond (inf too): saturate (satfinite)
    code = tl.where(a > 0x7F800000, 0x7F, mag | sign)   # NaN
    return code.to(tl.uint8)


@triton.jit
def store_e4m3(ptr, y, mask, SOFTWARE: tl.constexpr):
    """Store fp32 y as e4m3fn at ptr: the hardware cast, or the integer encoder into a uint8 view."""
    if SOFTWARE:
        tl.store(ptr.to(tl.pointer_type(tl.uint8), bitcast=True), e4m3fn_bits(y), mask=mask)
    else:
        tl.static_assert(ptr.dtype.element_ty.is_fp8(), "the hardware path stores through an fp8 pointer")
        tl.store(ptr, y.to(ptr.dtype.element_ty), mask=mask)


class Fp8PathError(KernelInputError):
    """KERNELS_FP8_PATH names a path this machine cannot run (or is not a path at all)."""


def requested() -> str:
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in PATHS:
        raise Fp8PathError(f"{ENV}={os.environ[ENV]!r}: use one of {', '.join(PATHS)}")
    return value


def choose(capability: tuple[int, int] | None, want: str | None = None) -> tuple[str, str]:
    """(path, why) for a GPU of this compute capability, or for the CPU tier (capability None)."""
    want = requested() if want is None else want
    if want not in PATHS:
        raise Fp8PathError(f"fp8 path {want!r}: use one of {', '.join(PATHS)}")
    if capability is None:
        if want == "software":
            return "software", f"{ENV}=software: the integer encoder (kernels/fp8.py) in the interpreter"
        return "hardware", ("CPU tier: Triton's own fp32->fp8 cast, made to round like the GPU by "
                            "kernels/interp.py")
    sm = f"sm_{capability[0]}{capability[1]}"
    native = tuple(capability) >= HARDWARE_SM
    if want == "software":
        return "software", f"{ENV}=software: the integer encoder (kernels/fp8.py), forced on {sm}"
    if native:
        return "hardware", f"{sm} converts fp32 to fp8 e4m3 in hardware (cvt.rn.satfinite, sm_89+)"
    if want == "hardware":
        raise Fp8PathError(f"{ENV}=hardware, but {sm} has no fp8 e4m3 conversion (it needs sm_89+; "
                           "Triton refuses the type there). Use auto or software.")
    return "software", (f"{sm} has no fp8 e4m3 conversion (sm_89+) and Triton refuses the type there, "
                        "so the kernels encode the fp8 bytes with integer arithmetic (kernels/fp8.py), "
                        "bit-identical to the hardware conversion")


@functools.cache
def _capability(index: int) -> tuple[int, int]:
    return tuple(torch.cuda.get_device_capability(index))


def capability_of(device: torch.device) -> tuple[int, int] | None:
    """The compute capability of a CUDA device, None for a CPU (interpreter) tensor."""
    if device.type != "cuda":
        return None
    return _capability(device.index if device.index is not None else torch.cuda.current_device())


def kernel_output(q: torch.Tensor, want: str | None = None) -> tuple[torch.Tensor, bool]:
    """(the tensor to pass as the kernel's fp8 output, SOFTWARE_FP8) for q's device.

    want: "auto" | "hardware" | "software" (default: KERNELS_FP8_PATH, else auto), e.g. from a
    launcher keyword. The software path stores bytes, so it gets q viewed as uint8 (the pointer type
    must not name fp8e4nv where Triton refuses it); the hardware path gets q itself.
    """
    return (q.view(torch.uint8), True) if uses_software(q.device, want) else (q, False)


def uses_software(device: torch.device, want: str | None = None) -> bool:
    """Whether kernels on `device` store fp8 through the software encoder (SOFTWARE_FP8=True)."""
    return choose(capability_of(device), want)[0] == "software"
