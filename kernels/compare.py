"""What "equal" means for each output, and a report that names the worst element when it is not.

CPU tier (interpreter with GPU rounding): the kernels and the references evaluate the same float
operations with the same functions (exp and log2 are PyTorch's in both), so everything must be
**identical**: fp8 codes, fp32 scales (0 ulp) and packed exponent words.

GPU tier: ``tl.exp`` is an approximation (ex2.approx) and fp32 ``/`` is ``div.full`` (within 2 ulp),
so an intermediate may differ from the reference in its last bits. That changes a result only where
it crosses a rounding boundary (a silu or product value that rounds to the other bf16/fp16
neighbour, a quotient that rounds to the other fp8 neighbour). kernels.reference.gpu_envelope
evaluates the reference with exp and the divisions pushed to both ends of those error bounds; a GPU
code or scale is accepted only if one of those evaluations produces it at that position. No rate,
no count: size-independent, and anything outside is a bug. Measured on an H100: 45 codes in 31
million differ from the CPU reference, all inside the envelope (results/gpu/h100/gpu_vs_cpu.json).
"""
from __future__ import annotations

import dataclasses

import torch

from . import reference as R
from . import tier as _tier  # the module; `tier` below is compare()'s rule argument


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
        return _tier.raw_notice() + ("✅ " if self.ok else "❌ ") + self.message

    def __bool__(self) -> bool:
        return self.ok


def _worst(q, q_ref, steps) -> str:
    flat = int(steps.flatten().argmax())
    r, c = divmod(flat, q.shape[1])
    return (f"worst at row {r}, column {c} (group {c // 128}): expected {q_ref[r, c].float().item():g} "
            f"(code {q_ref.view(torch.uint8)[r, c].item()}), got {q[r, c].float().item():g} "
            f"(code {q.view(torch.uint8)[r, c].item()})")


def _layout(t: torch.Tensor) -> tuple[int, ...]:
    """The strides that place elements: a dimension of size 1 has a stride that places nothing
    (a [M, 1] slice of a [M, 4] buffer may keep stride 4 there and is still MN-major)."""
    return tuple(st for st, sz in zip(t.stride(), t.shape) if sz > 1)


def compare(q: torch.Tensor, scales: torch.Tensor, q_ref: torch.Tensor, scales_ref: torch.Tensor,
            tier: str = "cpu", envelope: list | None = None) -> Report:
    """Compare one kernel's (q, scales) against its reference's, by the rules of `tier`.

    tier="gpu" needs envelope = kernels.reference.gpu_envelope(x, kernel, ...).
    """
    if q.shape != q_ref.shape or q.dtype != q_ref.dtype:
        return Report(False, f"q is {tuple(q.shape)} {q.dtype}, expected {tuple(q_ref.shape)} {q_ref.dtype}")
    if scales.shape != scales_ref.shape or scales.dtype != scales_ref.dtype:
        return Report(False, f"scales are {tuple(scales.shape)} {scales.dtype}, expected "
                             f"{tuple(scales_ref.shape)} {scales_ref.dtype}")
    if scales.shape[0] > 1 and _layout(scales) != _layout(scales_ref):
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
    if envelope is None:
        raise ValueError("tier='gpu' needs envelope=kernels.reference.gpu_envelope(x, kernel, ...)")
    g = q.shape[1] // 128
    # packed words: judge each group's exponent byte (groups may come from different variants)
    per_group = (lambda w: R.unpack_exponents(w, g)) if s.dtype == torch.int32 else (lambda w: w)
    if s.dtype == torch.int32 and not torch.equal(R.pack_exponents(per_group(s)), s.contiguous()):
        return Report(False, f"{summary}; packed words hold bits outside their {g} exponent bytes "
                             "(unused lanes must be 0)", **stats)
    sg, sg_ref = per_group(s), per_group(s_ref)
    ok_q = torch.zeros_like(steps, dtype=torch.bool)
    ok_s = torch.zeros_like(sg, dtype=torch.bool)
    for qv, sv in envelope:
        ok_q |= q.view(torch.uint8) == qv.cpu().view(torch.uint8)
        ok_s |= sg == per_group(sv.cpu())
    bad_q, bad_s = ~ok_q, ~ok_s
    rate = n_diff / max(q.numel(), 1)
    if bool(bad_s.any()):
        r, c = (bad_s.nonzero()[0]).tolist()
        return Report(False, f"{summary}; {int(bad_s.sum()):,} scales outside the GPU envelope, first at "
                             f"row {r}, group {c}: expected {sg_ref[r, c].item()}, got {sg[r, c].item()}",
                      **stats)
    if bool(bad_q.any()):
        return Report(False, f"{summary}; {int(bad_q.sum()):,} codes outside the GPU envelope; "
                             f"{_worst(q, q_ref, steps * bad_q)}", **stats)
    return Report(True, f"equal within the GPU rule: {summary} (rate {rate:.2e}), all at rounding "
                        f"boundaries of the approximate exp/division", **stats)


def check(kernel: str, x: torch.Tensor, q: torch.Tensor, scales: torch.Tensor, *,
          use_ue8m0: bool = False, eps: float = R.COLMAJOR_EPS) -> Report:
    """Compare a kernel's output for input x with its reference, by the rule of the tier we run on.

    kernel: "colmajor" or "packed". CPU tier: identical. GPU tier: inside kernels.reference's
    gpu_envelope. The one call notebooks and exercises use.
    """
    xc = x.detach().cpu()
    if kernel == "colmajor":
        ref = R.silu_mul_fp8_colmajor_ref(xc, use_ue8m0, eps)
    elif kernel == "packed":
        ref = R.silu_mul_fp8_packed_ref(xc)
    else:
        raise ValueError(f"kernel must be 'colmajor' or 'packed', got {kernel!r}")
    if _tier.INTERPRETED:
        return compare(q, scales, *ref, tier="cpu")
    return compare(q, scales, *ref, tier="gpu", envelope=R.gpu_envelope(xc, kernel, use_ue8m0, eps))
