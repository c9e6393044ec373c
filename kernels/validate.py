"""Host-side checks that run before any launch: bad input gets a clear error, never a crash.

Integer options (block_m, groups_per_program, num_warps, rows_axis) must be exact integers: a Python
``int`` or anything with ``__index__`` (numpy integers), never ``bool``, ``float`` or a tensor; they
are normalised to ``int``. Flags must be ``bool``. Ranges:

* block_m: a power of two in [1, 128] (``tl.arange`` needs a power of two; 128 rows x 1,024 columns
  is already 128 K elements per program);
* num_warps: a power of two in [1, 32] (a CUDA block holds at most 1,024 threads = 32 warps);
* groups_per_program (colmajor): a power of two that divides N/256 (the kernel has no column mask),
  at most 64; ``None`` picks the largest power of two <= the default that divides N/256;
* eps (colmajor): a real number in [EPS_MIN, FLT_MAX], see check_eps;
* clamp_limit (both): None or a real number in [FLT_MIN, FLT_MAX], see check_clamp_limit.

None of these checks touches x's data; check_finite (opt-in) is the only one that reads it.
check_launch is O(1) per call: closed-form expressions, cached per (kernel, shape, configuration).
"""
from __future__ import annotations

import functools
import math
import operator

import numpy as np
import torch

from . import offsets, tier

INPUT_DTYPES = (torch.bfloat16, torch.float16)
FLT_MAX = float(torch.finfo(torch.float32).max)
# eps floors a group's absmax; an all-zero group's scale is then eps * fp32(1/448). We keep both the
# floor and that scale normal fp32 numbers: with a subnormal eps the GPU's scales differed from the
# reference (an H200 run, issue 9: the GPU's fp32 arithmetic may flush subnormals to zero), and a
# subnormal scale would meet the same fate in the division y / scale. 2**-117 * fp32(1/448) =
# 1.14 * 2**-126 is normal; 2**-118 would not be. The upper end: the kernel receives eps as fp32.
# tests/test_kernels_gpu.py checks both ends against the reference on a GPU.
EPS_MIN = 2.0**-117
BLOCK_M_MAX = 128
NUM_WARPS_MAX = 32
GROUPS_PER_PROGRAM_MAX = 64


class KernelInputError(ValueError):
    """The arguments cannot be launched as given."""


class OffsetOverflowError(KernelInputError):
    """An int32 index expression would wrap for this shape (the course's bug)."""


class GridLimitError(KernelInputError):
    """A grid axis would exceed CUDA's limit (the launch would fail with 'invalid argument')."""


UNSAFE_HINT = ("pass unsafe_skip_launch_checks=True to launch it anyway (lessons do this on purpose, "
               "in a child process)")


# ---------------------------------------------------------------------------------- scalars


def exact_int(name: str, value) -> int:
    """value as an int if it is an exact integer (int, numpy integer), else KernelInputError."""
    if isinstance(value, (bool, np.bool_, torch.Tensor)):
        raise KernelInputError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise KernelInputError(f"{name} must be an int, got {type(value).__name__} {value!r}"
                               ) from None


def power_of_two(name: str, value, lo: int, hi: int) -> int:
    v = exact_int(name, value)
    if not lo <= v <= hi or v & (v - 1):
        allowed = ", ".join(str(2**k) for k in range(lo.bit_length() - 1, hi.bit_length()))
        raise KernelInputError(f"{name} must be a power of two in [{lo}, {hi}] ({allowed}), got {v}")
    return v


def check_block_m(block_m) -> int:
    return power_of_two("block_m", block_m, 1, BLOCK_M_MAX)


def check_num_warps(num_warps) -> int:
    return power_of_two("num_warps", num_warps, 1, NUM_WARPS_MAX)


NUM_STAGES_MAX = 8   # software-pipelining depth; beyond a few stages only shared memory grows


def check_num_stages(num_stages) -> int:
    v = exact_int("num_stages", num_stages)
    if not 1 <= v <= NUM_STAGES_MAX:
        raise KernelInputError(f"num_stages must be an int in [1, {NUM_STAGES_MAX}], got {v}")
    return v


def check_groups_per_program(gpp, groups: int, default: int) -> int:
    """The groups per colmajor program: explicit values must divide `groups`; None picks the largest
    power of two <= default that does (gcd with a power of two). Never reduced silently."""
    if gpp is None:
        return math.gcd(groups, default)
    v = power_of_two("groups_per_program", gpp, 1, GROUPS_PER_PROGRAM_MAX)
    if groups % v:
        ok = [d for d in (2**k for k in range(7)) if groups % d == 0]
        raise KernelInputError(
            f"groups_per_program = {v} does not divide the {groups} groups of 128 columns "
            f"(N = {groups * 256:,}): use one of {tuple(ok)}, or None to pick the largest")
    return v


def check_choice(name: str, value, allowed) -> None:
    """value must equal one of `allowed` *and* have its type (True is not 1, 1.0 is not 1)."""
    if not any(type(value) is type(a) and value == a for a in allowed):
        raise KernelInputError(f"{name} must be one of {allowed}, got {value!r}")


def check_index(index) -> str:
    check_choice("index", index, ("int32", "int64"))
    return index


def check_rows_axis(rows_axis) -> int:
    if isinstance(rows_axis, (bool, np.bool_)) or exact_or_none(rows_axis) not in (0, 1):
        raise KernelInputError(f"rows_axis must be one of (0, 1), got {rows_axis!r}")
    return operator.index(rows_axis)


def exact_or_none(value):
    try:
        return operator.index(value)
    except TypeError:
        return None


def check_flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise KernelInputError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def check_eps(eps) -> float:
    """eps as a float in [EPS_MIN, FLT_MAX] (int and float accepted, bool not)."""
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, (int, float, np.floating, np.integer)):
        raise KernelInputError(f"eps must be a real number in [2**-117, FLT_MAX], got "
                               f"{type(eps).__name__} {eps!r}")
    try:
        v = float(eps)
    except OverflowError:      # an int beyond any float (10**400)
        v = math.inf
    if not (math.isfinite(v) and EPS_MIN <= v <= FLT_MAX):
        raise KernelInputError(
            f"eps must be a positive finite number in [2**-117 = {EPS_MIN:.3g}, FLT_MAX = "
            f"{FLT_MAX:.4g}], got {eps!r}: below, an all-zero group's scale eps/448 is a subnormal "
            "fp32 number, which GPU arithmetic may flush to 0; above, it is not an fp32 number")
    return v


# The SwiGLU limit L reaches the kernels as an fp32 argument (Triton passes a Python float as fp32)
# and bounds gate from above and up on both sides. It must be a normal positive fp32 number:
# * not <= 0: clamp(up, -L, L) needs -L <= L (tl.clamp leaves min > max undefined), and L = 0
#   would zero every product -- a configuration error, not a clamp;
# * not below FLT_MIN = 2**-126: the kernel's fp32 copy of L would be subnormal or 0, which GPU
#   fp32 arithmetic may flush to 0 (see EPS_MIN: measured on an H200 for eps);
# * not +inf (nor above FLT_MAX, which fp32 rounds to inf): "no clamp" is clamp_limit=None, which
#   compiles the clamp out (HAS_CLAMP=False); an infinite L would launch a second kernel that does
#   the same work plus two fp32 min/max per element, and hide a limit that overflowed fp32.
FLT_MIN = 2.0**-126


def check_clamp_limit(clamp_limit) -> float | None:
    """None (no clamp) or the limit as the fp32 value the kernel receives, as a Python float."""
    if clamp_limit is None:
        return None
    if isinstance(clamp_limit, (bool, np.bool_)) or not isinstance(
            clamp_limit, (int, float, np.floating, np.integer)):
        raise KernelInputError(f"clamp_limit must be None or a real number, got "
                               f"{type(clamp_limit).__name__} {clamp_limit!r}")
    try:
        v = float(clamp_limit)
    except OverflowError:      # an int beyond any float (10**400 or -10**400)
        v = math.inf if clamp_limit > 0 else -math.inf
    with np.errstate(over="ignore"):
        v32 = float(np.float32(v))   # what the kernel receives (inf beyond fp32's range)
    if not FLT_MIN <= v32 <= FLT_MAX:     # False for NaN too
        why = ("NaN is not a limit" if math.isnan(v) else
               "clamp(up, -L, L) needs L > 0" if v <= 0 else
               "as fp32 it is inf: use clamp_limit=None for no clamp" if v32 > FLT_MAX else
               "as fp32 it is subnormal or 0, which GPU arithmetic may flush to 0")
        raise KernelInputError(
            f"clamp_limit must be None or a number in [2**-126 = {FLT_MIN:.4g}, FLT_MAX = "
            f"{FLT_MAX:.4g}] (the kernel receives it as fp32), got {clamp_limit!r}: {why}")
    return v32


# ---------------------------------------------------------------------------------- tensors


def check_input(x, name: str = "x", device: str | None = "kernels") -> tuple[int, int]:
    """x must be a 2-D bf16/fp16 tensor with N a positive multiple of 256. device="kernels": on the
    kernels' device and contiguous (what the launchers need); None: any device and layout (what the
    references accept)."""
    if not isinstance(x, torch.Tensor):
        raise KernelInputError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise KernelInputError(f"{name} must be 2-D [M, N], got shape {tuple(x.shape)}")
    if x.dtype not in INPUT_DTYPES:
        raise KernelInputError(f"{name} must be bfloat16 or float16, got {x.dtype}")
    if device is not None:
        want = "cuda" if not tier.INTERPRETED else "cpu"
        if x.device.type != want:
            where = ("the GPU tier (a CUDA device was found): move it with .cuda()" if want == "cuda"
                     else "the CPU tier (Triton interpreter): move it with .cpu()")
            raise KernelInputError(f"{name} is on {x.device}, but kernels run on {where}")
        if not x.is_contiguous():
            raise KernelInputError(f"{name} must be contiguous (row-major), got strides {x.stride()}: "
                                   "call .contiguous() first")
    m, n = x.shape
    if n == 0 or n % 256:
        raise KernelInputError(f"N = {n} must be a positive multiple of 256 (gate and up halves of "
                               "whole 128-column groups)")
    return m, n


def _byte_range(t: torch.Tensor) -> tuple[int, int]:
    """[first, last + 1) byte addresses a tensor's elements may occupy (no data read)."""
    if t.numel() == 0:
        return (0, 0)
    last = sum((s - 1) * abs(st) for s, st in zip(t.shape, t.stride()))
    start = t.data_ptr()
    return start, start + (last + 1) * t.element_size()


def overlaps(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether two tensors' byte ranges on one device intersect (a conservative test)."""
    (a0, a1), (b0, b1) = _byte_range(a), _byte_range(b)
    return a0 < b1 and b0 < a1


def check_out(out, x: torch.Tensor, dtype: torch.dtype) -> None:
    if out is None:
        return
    m, n = x.shape
    if not isinstance(out, torch.Tensor) or out.shape != (m, n // 2) or out.dtype != dtype:
        got = f"{tuple(out.shape)} {out.dtype}" if isinstance(out, torch.Tensor) else type(out).__name__
        raise KernelInputError(f"out must be a [{m}, {n // 2}] {dtype} tensor, got {got}")
    if out.device != x.device:
        raise KernelInputError(f"out is on {out.device} but x is on {x.device}")
    if not out.is_contiguous():
        raise KernelInputError("out must be contiguous")
    if overlaps(out, x):
        raise KernelInputError(
            "out overlaps x in memory: the kernel would overwrite input it has not read yet (wrong "
            "codes, no error). Pass a separate buffer (e.g. torch.empty_like for the output shape)")


def check_finite(x: torch.Tensor, product, kernel: str) -> None:
    """Opt-in (check_finite=True): reject x holding NaN/Inf, and finite x whose silu(gate) * up is
    not finite in the kernel's precision path (fp16 overflows beyond 65,504; bf16/fp32 beyond ~3.4e38).

    Both would give NaN codes. product(x, exp_slack) is the path's y (kernels.reference.colmajor_y or
    packed_y); on the GPU tier it is also evaluated with exp at both ends of the GPU's error bound
    (as gpu_envelope does), so a product the GPU may round to inf is caught too. Costs passes over x
    and a device->host sync: that is why it is opt-in.
    """
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        r, c = (~finite).nonzero()[0].tolist()
        raise KernelInputError(f"x holds NaN or Inf (first at [{r}, {c}] = {x[r, c].item()}); "
                               "neither kernel defines a result for them (NaN codes). Leave "
                               "check_finite=False to launch anyway.")
    for slack in ((0,) if tier.INTERPRETED else (0, -1, 1)):
        bad = ~torch.isfinite(product(x, slack))
        if bool(bad.any()):
            r, c = bad.nonzero()[0].tolist()
            h = x.shape[1] // 2
            path = f"{x.dtype}" if kernel == "colmajor" else "fp32, rounded to bf16"
            raise KernelInputError(
                f"silu(gate) * up overflows at row {r}, output column {c}: gate = "
                f"{x[r, c].item():g}, up = {x[r, c + h].item():g} give a product beyond the range "
                f"of the {kernel} kernel's precision path ({path}); the group's codes would be "
                "NaN. Scale the input down, or leave check_finite=False to launch anyway.")


# ---------------------------------------------------------------------------------- launch


@functools.lru_cache(maxsize=4096)
def check_launch(kernel: str, m: int, n: int, index: str, rows_axis: int, block_m: int,
                 groups_per_program: int = 1) -> offsets.Analysis:
    """Refuse a launch whose int32 expressions wrap or whose grid exceeds CUDA's limits.

    O(1): closed-form expression values; the first-failing-M searches are cached per N and tile,
    and the whole answer per (kernel, shape, configuration). Returns the analysis (read-only).
    """
    a = offsets.analyze(kernel, m, n, index, rows_axis, block_m, groups_per_program)
    bad = [e for e in a.exprs if not e["fits"]]
    if bad:
        e = bad[0]
        first = f" The first failing M for this N is {e['first_bad_M']:,}." if e["first_bad_M"] else ""
        raise OffsetOverflowError(
            f"{kernel} with index='{index}' overflows for M = {m:,}, N = {n:,}: {e['name']} "
            f"{e['text']} reaches {e['max']:,} > {offsets.INT32_MAX:,} and would wrap to "
            f"{e['as_computed']:,}.{first} Use index='int64' (the fix), or {UNSAFE_HINT}.")
    if not a.grid["ok"]:
        axis = next(i for i, (s, lim) in enumerate(zip(a.grid["size"], a.grid["limits"])) if s > lim)
        fix = "Use rows_axis=0 (the fix)" if axis else "Use a larger block_m"
        raise GridLimitError(
            f"{kernel} with rows on grid axis {rows_axis} needs grid {tuple(a.grid['size'])}: axis "
            f"{axis} = {a.grid['size'][axis]:,} exceeds CUDA's limit of {a.grid['limits'][axis]:,} "
            f"(first failing M = {a.grid['first_bad_M']:,}). {fix}, or {UNSAFE_HINT}.")
    return a
