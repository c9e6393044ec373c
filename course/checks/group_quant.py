"""Checks of exercise notebook 02 (group_quant): the group scale, the clamp and the fp8 cast."""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels import reference as ref
from kernels import tier
from kernels.compare import ulp_diff_f32
from kernels.reference import FP8_MAX, PACKED_EPS

from .core import DEV, Fail, Result, run, seeded


@triton.jit
def _group_scale_harness(y_ptr, s_ptr, eps, FN: tl.constexpr, BLOCK_M: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    y = tl.load(y_ptr + rows[:, None] * 128 + tl.arange(0, 128)[None, :])
    tl.store(s_ptr + rows, FN(y, eps))


def _group_inputs(seed: int) -> torch.Tensor:
    """[32, 128] fp32 groups: random magnitudes, all negative, an all-zero, a tiny and a lone spike."""
    g = seeded(seed)
    y = torch.randn(32, 128, generator=g) * torch.logspace(-3, 3, 32)[:, None]
    y = y.to(torch.bfloat16).float()
    y[3] = -y[3].abs()       # the absmax is a negative number's magnitude
    y[5] = 0.0               # all-zero group: only eps keeps the scale positive
    y[9] = 1e-12             # tinier than eps: the floor decides
    y[12] = 0.0
    y[12, 77] = -300.0       # one spike
    return y


def _same_division(got: torch.Tensor, want: torch.Tensor) -> bool:
    """Equal, allowing on the GPU the 2 ulp of its fp32 division (div.full) in `want`'s quotient."""
    if tier.INTERPRETED:
        return torch.equal(got, want)
    return bool((ulp_diff_f32(got, want) <= 2).all())


def check_group_scale(group_scale) -> Result:
    """group_scale(y [BLOCK_M, 128] fp32, eps) -> scale [BLOCK_M] fp32 (a @triton.jit function)."""
    def body(fn):
        for eps, seed in ((1e-10, 11), (1e-4, 12)):
            y = _group_inputs(seed)
            s = torch.full((32,), float("nan"), device=DEV)
            _group_scale_harness[(4,)](y.to(DEV), s, eps, FN=fn, BLOCK_M=8)
            s = s.cpu()
            amax = y.abs().amax(dim=1)
            want = amax.clamp_min(eps) * (1.0 / FP8_MAX)
            if torch.equal(s, want):
                continue
            bad = (s != want) & ~(s.isnan() & want.isnan())
            r = int(bad.nonzero()[0])
            head = (f"eps={eps:g}: {int(bad.sum())} of 32 scales differ; first at row {r}: expected "
                    f"{want[r].item():.6g}, got {s[r].item():.6g}")
            if torch.equal(s, amax * (1.0 / FP8_MAX)) or (s[5] == 0) or s[5].isnan():
                raise Fail(f"{head}. Row 5 is all zeros: without the eps floor its scale is 0, and then "
                           f"y / scale = 0 / 0 = NaN for the whole group. Floor the absmax: "
                           f"max(absmax, eps) -- expected {want[5].item():.6g} = eps/448 there")
            if _same_division(s, (amax / FP8_MAX).clamp_min(eps)):
                raise Fail(f"{head}. You floored the *scale* at eps (the packed kernel's rule); the "
                           "colmajor kernel floors the *absmax*: max(absmax, eps) * (1/448)")
            if _same_division(s, amax.clamp_min(eps) / FP8_MAX):
                raise Fail(f"{head}. You divided by 448; the kernel multiplies by the fp32 reciprocal "
                           "(1/448), which differs in the last bit for some values (vLLM does this to "
                           "match PyTorch bit for bit)")
            if torch.equal(s, y.amax(dim=1).clamp_min(eps) * (1.0 / FP8_MAX)) or s[3] != want[3]:
                raise Fail(f"{head}. Take the max of |y|, not of y: row 3 is all negative")
            if torch.equal(s, amax.clamp_min(PACKED_EPS) * (1.0 / FP8_MAX)):
                raise Fail(f"{head}. Use the eps argument, not a constant 1e-10")
            raise Fail(head + f" (row {r}'s absmax is {amax[r].item():.6g})")
        return "passed: random groups, an all-zero group, a negative one, eps = 1e-10 and 1e-4"
    return run("group_scale", body, group_scale)


# ---------------------------------------------------------------- 2.2 clamp and cast

@triton.jit
def _quantize_harness(y_ptr, s_ptr, v_ptr, q_ptr, FN: tl.constexpr, BLOCK_M: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs = rows[:, None] * 128 + tl.arange(0, 128)[None, :]
    v, q = FN(tl.load(y_ptr + offs), tl.load(s_ptr + rows))
    tl.store(v_ptr + offs, v)
    tl.store(q_ptr + offs, q)


def check_fp8_quantize(fp8_quantize) -> Result:
    """fp8_quantize(y [BLOCK_M, 128] fp32, scale [BLOCK_M] fp32) -> (v fp32, q fp8 e4m3fn)."""
    def body(fn):
        y = _group_inputs(21)
        scale = y.abs().amax(dim=1).clamp_min(PACKED_EPS) * (1.0 / FP8_MAX)
        # rows 16..31 get scales that are too small (a static scale, or UE8M0's log2 route one power
        # of two low): their |y / scale| goes past 448, where only the clamp keeps things defined
        scale[16:] = scale[16:] * torch.tensor([0.5, 0.25, 0.999, 0.125] * 4)
        v = torch.full_like(y, float("nan"), device=DEV)
        q = torch.zeros(y.shape, dtype=ref.FP8, device=DEV)
        _quantize_harness[(4,)](y.to(DEV), scale.to(DEV), v, q, FN=fn, BLOCK_M=8)
        v, q = v.cpu(), q.cpu()
        want_v = (y / scale[:, None]).clamp(-ref.FP8_MAX, ref.FP8_MAX)
        ulps = ulp_diff_f32(v, want_v)
        ulps[v.isnan() != want_v.isnan()] = 1 << 30
        limit = 0 if tier.INTERPRETED else 2
        if int(ulps.max()) > limit:
            r, c = divmod(int(ulps.flatten().argmax()), 128)
            head = (f"v differs from clamp(y / scale, -448, 448) in {int((ulps > limit).sum()):,} of "
                    f"{v.numel():,} elements; worst at row {r}, column {c}: y = {y[r, c].item():g}, "
                    f"scale = {scale[r].item():g}, expected {want_v[r, c].item():g}, got {v[r, c].item():g}")
            if float(v.max()) > ref.FP8_MAX or float(v.min()) < -ref.FP8_MAX:
                top = int(v.abs().flatten().argmax())
                raise Fail(f"{head}. Values up to {v.flatten()[top].item():g} (row {top // 128}) reach the "
                           "cast unclamped: fp8 e4m3fn's largest finite value is 448. What the cast then "
                           "gives depends on the hardware and library (Triton on an H100 saturates to 448, "
                           "torch 2.11 gives NaN from 464): clamp to [-448, 448] first and every "
                           "implementation agrees")
            if torch.allclose(v, (y * scale[:, None]).clamp(-FP8_MAX, FP8_MAX)):
                raise Fail(f"{head}. You multiplied by the scale; quantizing divides by it (x = q * scale)")
            raise Fail(head)
        if q.dtype != ref.FP8:
            raise Fail(f"q is {q.dtype}, expected torch.float8_e4m3fn")
        want_q = v.to(ref.FP8)
        bad = q.view(torch.uint8) != want_q.view(torch.uint8)
        if bad.any():
            r, c = bad.nonzero()[0].tolist()
            raise Fail(f"q is not v cast to fp8 e4m3fn in {int(bad.sum()):,} elements; first at row {r}, "
                       f"column {c}: v = {v[r, c].item():g} should give {want_q[r, c].float().item():g}, "
                       f"got {q[r, c].float().item():g}. Cast with .to(tl.float8e4nv) (round to nearest "
                       "even), not another fp8 format")
        return "passed: 4,096 values, half of them with too-small scales that only the clamp tames"
    return run("fp8_quantize", body, fp8_quantize)
