"""What "equal" means for each output, and a report that names the worst element when it is not.

CPU tier (interpreter with GPU rounding): the kernels and the references evaluate the same float
operations with the same functions (exp and log2 are PyTorch's in both), so everything must be
**identical**: fp8 codes, fp32 scales (0 ulp) and packed exponent words.

GPU tier: ``tl.exp`` is an approximation (ex2.approx) and fp32 ``/`` is ``div.full`` (within 2 ulp),
so an intermediate may differ from the reference in its last bit. That changes a result only where
it crosses a rounding boundary: a silu or product value that rounds to the other bf16/fp16
neighbour, or a quotient y/scale that rounds to the other fp8 neighbour. Hence on the GPU:

* with the reference's pre-quantization values ``y_ref`` (kernels.reference.colmajor_y / packed_y):
  scales must be equal and every differing code must be explained -- one step away, with the
  reference quotient y/scale within 2 fp32 ulp of the midpoint between the two codes (a last-bit
  difference of the division can move it across). On an H100 all 45 differences in 31 million
  codes were of this kind (results/gpu/gpu_vs_cpu.json). Size-independent, so small tests use it.
* without ``y_ref`` (large runs, e.g. the full-size repro): codes one step at most outside groups
  whose scale moved, and fewer than GPU_CODE_RATE of them (measured ~1.5e-6; a real bug moves far
  more than that).
"""
from __future__ import annotations

import dataclasses

import torch

GPU_CODE_RATE = 1e-5
GPU_GROUP_RATE = 1e-5


def fp8_ordinal(q: torch.Tensor) -> torch.Tensor:
    """fp8 e4m3fn codes -> integers in value order, so neighbours differ by exactly 1 (+0 == -0)."""
    b = q.view(torch.uint8).to(torch.int32)
    mag = b & 0x7F
    return torch.where(b >= 128, -mag, mag)


def ulp_diff_f32(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a - b| in fp32 ulps (for same-sign finite values)."""
    ia = a.float().contiguous().view(torch.int32).to(torch.int64)
    ib = b.float().contiguous().view(torch.int32).to(torch.int64)
    return (ia - ib).abs()


@dataclasses.dataclass
class Report:
    ok: bool
    message: str
    code_diffs: int = 0
    codes: int = 0
    max_step: int = 0
    scale_diffs: int = 0
    scales: int = 0
    max_scale_ulp: int = 0

    def __str__(self) -> str:
        return ("✅ " if self.ok else "❌ ") + self.message

    def __bool__(self) -> bool:
        return self.ok


def _worst(q, q_ref, steps) -> str:
    flat = int(steps.flatten().argmax())
    r, c = divmod(flat, q.shape[1])
    return (f"worst at row {r}, column {c} (group {c // 128}): expected {q_ref[r, c].float().item():g} "
            f"(code {q_ref.view(torch.uint8)[r, c].item()}), got {q[r, c].float().item():g} "
            f"(code {q.view(torch.uint8)[r, c].item()})")


def _unexplained(q, q_ref, y_ref, scale_ref) -> torch.Tensor:
    """Mask of differing codes NOT explained by a last-bit change of y/scale (see module doc)."""
    m, h = q.shape
    d = fp8_ordinal(q) != fp8_ordinal(q_ref)
    v = (y_ref.float().view(m, -1, 128) / scale_ref.float().reshape(m, -1, 1)).view(m, h)
    mid = (q.float() + q_ref.float()) / 2
    ulp = (v.abs().contiguous().view(torch.int32) + 1).view(torch.float32) - v.abs()
    near = (v - mid).abs() <= 2 * ulp
    one_step = (fp8_ordinal(q) - fp8_ordinal(q_ref)).abs() <= 1
    return d & ~(near & one_step)


def compare(q: torch.Tensor, scales: torch.Tensor, q_ref: torch.Tensor, scales_ref: torch.Tensor,
            tier: str = "cpu", y_ref: torch.Tensor | None = None) -> Report:
    """Compare one kernel's (q, scales) against its reference's, by the rules of `tier`."""
    if q.shape != q_ref.shape or q.dtype != q_ref.dtype:
        return Report(False, f"q is {tuple(q.shape)} {q.dtype}, expected {tuple(q_ref.shape)} {q_ref.dtype}")
    if scales.shape != scales_ref.shape or scales.dtype != scales_ref.dtype:
        return Report(False, f"scales are {tuple(scales.shape)} {scales.dtype}, expected "
                             f"{tuple(scales_ref.shape)} {scales_ref.dtype}")
    if scales.shape[0] > 1 and scales.stride() != scales_ref.stride():
        return Report(False, f"scales have strides {scales.stride()}, expected {scales_ref.stride()} "
                             "(MN-major: the M scales of one group are contiguous)")
    q, q_ref = q.cpu(), q_ref.cpu()
    s, s_ref = scales.cpu(), scales_ref.cpu()
    steps = (fp8_ordinal(q) - fp8_ordinal(q_ref)).abs()
    n_diff, max_step = int((steps > 0).sum()), int(steps.max()) if steps.numel() else 0
    if s.dtype == torch.int32:
        s_bad = s != s_ref
        max_ulp = 0
    else:
        ulps = ulp_diff_f32(s, s_ref)
        s_bad = ulps > 0
        max_ulp = int(ulps.max()) if ulps.numel() else 0
    n_sdiff = int(s_bad.sum())
    stats = dict(code_diffs=n_diff, codes=q.numel(), max_step=max_step, scale_diffs=n_sdiff,
                 scales=s.numel(), max_scale_ulp=max_ulp)
    summary = (f"{n_diff:,} of {q.numel():,} codes differ (max {max_step} step), "
               f"{n_sdiff:,} of {s.numel():,} scales differ")
    if tier == "cpu":
        if n_sdiff:
            r, c = (s_bad.nonzero()[0]).tolist()
            what = "exponent word" if s.dtype == torch.int32 else "scale"
            return Report(False, f"{summary}; first bad {what} at row {r}, column {c}: expected "
                                 f"{s_ref[r, c].item()}, got {s[r, c].item()}", **stats)
        if n_diff:
            return Report(False, f"{summary}; {_worst(q, q_ref, steps)}", **stats)
        return Report(True, f"identical: {q.numel():,} codes and {s.numel():,} scales", **stats)
    if tier != "gpu":
        raise ValueError("tier must be 'cpu' or 'gpu'")
    rate = n_diff / max(q.numel(), 1)
    if y_ref is not None:
        if n_sdiff:
            r, c = (s_bad.nonzero()[0]).tolist()
            return Report(False, f"{summary}; scale at row {r}, column {c} differs: expected "
                                 f"{s_ref[r, c].item()}, got {s[r, c].item()}", **stats)
        g = q.shape[1] // 128
        sc = s_ref if s_ref.dtype != torch.int32 else __import__(
            "kernels.reference", fromlist=["decode_ue8m0"]).decode_ue8m0(s_ref, g)
        bad = _unexplained(q, q_ref, y_ref.cpu(), sc)
        if bool(bad.any()):
            return Report(False, f"{summary}; {int(bad.sum()):,} not explained by a rounding "
                                 f"boundary; {_worst(q, q_ref, steps * bad)}", **stats)
        return Report(True, f"equal within the GPU rule: {summary}, each at an fp8 rounding "
                            f"boundary (rate {rate:.2e})", **stats)
    # GPU rules: a group whose scale moved may shift all its codes; elsewhere one step at most.
    g = q.shape[1] // 128
    group_bad = s_bad if s.dtype != torch.int32 else torch.ones_like(s_bad)
    if s.dtype == torch.int32:
        from .reference import unpack_exponents
        group_bad = unpack_exponents(s, g) != unpack_exponents(s_ref, g)
    steady = ~group_bad.repeat_interleave(128, dim=1)
    worst_steady = int((steps * steady).max()) if steps.numel() else 0
    grate = int(group_bad.sum()) / max(group_bad.numel(), 1)
    ok = worst_steady <= 1 and rate <= GPU_CODE_RATE and grate <= GPU_GROUP_RATE
    if ok:
        return Report(True, f"equal within the GPU rule: {summary} (rate {rate:.2e})", **stats)
    return Report(False, f"{summary}; rate {rate:.2e} (bound {GPU_CODE_RATE:.0e}), groups with a moved "
                         f"scale {grate:.2e}; {_worst(q, q_ref, steps * steady)}", **stats)
