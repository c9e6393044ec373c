"""Host-side checks that run before any launch: bad input gets a clear error, never a crash."""
from __future__ import annotations

import torch

from . import offsets, tier
from .reference import FP8

INPUT_DTYPES = (torch.bfloat16, torch.float16)


class KernelInputError(ValueError):
    """The arguments cannot be launched as given."""


class OffsetOverflowError(KernelInputError):
    """An int32 index expression would wrap for this shape (the course's bug)."""


class GridLimitError(KernelInputError):
    """A grid axis would exceed CUDA's limit (the launch would fail with 'invalid argument')."""


UNSAFE_HINT = ("pass unsafe_skip_launch_checks=True to launch it anyway (lessons do this on purpose, "
               "in a child process)")


def check_input(x, name: str = "x") -> tuple[int, int]:
    if not isinstance(x, torch.Tensor):
        raise KernelInputError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise KernelInputError(f"{name} must be 2-D [M, N], got shape {tuple(x.shape)}")
    if x.dtype not in INPUT_DTYPES:
        raise KernelInputError(f"{name} must be bfloat16 or float16, got {x.dtype}")
    want = "cuda" if not tier.INTERPRETED else "cpu"
    if x.device.type != want:
        where = ("the GPU tier (a CUDA device was found): move it with .cuda()" if want == "cuda" else
                 "the CPU tier (Triton interpreter): move it with .cpu()")
        raise KernelInputError(f"{name} is on {x.device}, but kernels run on {where}")
    if not x.is_contiguous():
        raise KernelInputError(f"{name} must be contiguous (row-major), got strides {x.stride()}: "
                               "call .contiguous() first")
    m, n = x.shape
    if n == 0 or n % 256:
        raise KernelInputError(f"N = {n} must be a positive multiple of 256 (gate and up halves of "
                               "whole 128-column groups)")
    return m, n


def check_out(out, x: torch.Tensor) -> None:
    if out is None:
        return
    m, n = x.shape
    if not isinstance(out, torch.Tensor) or out.shape != (m, n // 2) or out.dtype != FP8:
        got = f"{tuple(out.shape)} {out.dtype}" if isinstance(out, torch.Tensor) else type(out).__name__
        raise KernelInputError(f"out must be a [{m}, {n // 2}] torch.float8_e4m3fn tensor, got {got}")
    if out.device != x.device:
        raise KernelInputError(f"out is on {out.device} but x is on {x.device}")
    if not out.is_contiguous():
        raise KernelInputError("out must be contiguous")


def check_finite(x: torch.Tensor) -> None:
    if not bool(torch.isfinite(x).all()):
        bad = (~torch.isfinite(x)).nonzero()[0].tolist()
        raise KernelInputError(f"x holds NaN or Inf (first at [{bad[0]}, {bad[1]}] = "
                               f"{x[bad[0], bad[1]].item()}); neither kernel defines a result for them. "
                               "Pass check_finite=False to skip this check (one extra read of x).")


def check_launch(kernel: str, m: int, n: int, index: str, rows_axis: int, block_m: int,
                 groups_per_program: int = 1) -> offsets.Analysis:
    a = offsets.analyze(kernel, m, n, index, rows_axis, block_m, groups_per_program)
    bad = [e for e in a.exprs if not e["fits"]]
    if bad:
        e = bad[0]
        raise OffsetOverflowError(
            f"{kernel} with index='int32' overflows for M = {m:,}, N = {n:,}: {e['name']} "
            f"{e['text']} reaches {e['max']:,} > {offsets.INT32_MAX:,} and would wrap to "
            f"{e['as_computed']:,}. The first failing M for this N is {e['first_bad_M']:,}. "
            f"Use index='int64' (the fix), or {UNSAFE_HINT}.")
    if not a.grid["ok"]:
        axis = next(i for i, (s, l) in enumerate(zip(a.grid["size"], a.grid["limits"])) if s > l)
        raise GridLimitError(
            f"{kernel} with rows on grid axis {rows_axis} needs grid {tuple(a.grid['size'])}: axis "
            f"{axis} = {a.grid['size'][axis]:,} exceeds CUDA's limit of {a.grid['limits'][axis]:,} "
            f"(first failing M = {a.grid['first_bad_M']:,}). Use rows_axis=0 (the fix), or {UNSAFE_HINT}.")
    return a


def check_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise KernelInputError(f"{name} must be one of {allowed}, got {value!r}")
