"""The course's kernels: fused SiLU*up + FP8 per-token-group quantization, bug and fix.

``import kernels`` picks the tier (GPU, or Triton's CPU interpreter with GPU rounding) before any
kernel is defined; see kernels.tier.
"""
from . import tier  # noqa: F401  (must run before the kernel modules define @triton.jit kernels)
from .colmajor import silu_mul_fp8_colmajor
from .offsets import analyze, moe_workspace_rows, wrap_int32
from .packed import silu_mul_fp8_packed
from .reference import (decode_ue8m0, pack_exponents, silu_mul_fp8_colmajor_ref,
                        silu_mul_fp8_packed_ref, unpack_exponents)
from .validate import GridLimitError, KernelInputError, OffsetOverflowError

__all__ = [
    "silu_mul_fp8_colmajor", "silu_mul_fp8_packed", "silu_mul_fp8_colmajor_ref",
    "silu_mul_fp8_packed_ref", "analyze", "moe_workspace_rows", "wrap_int32", "pack_exponents",
    "unpack_exponents", "decode_ue8m0", "KernelInputError", "OffsetOverflowError", "GridLimitError",
]
