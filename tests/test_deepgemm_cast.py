"""course.scales.deepgemm_cast restates DeepGEMM's per_token_cast_to_fp8 (deep_gemm/utils/math.py @
54e2261, lines 13-16 and 34-37) so that lesson 04 can compare it with the course's kernels. Checked
here against independent arithmetic: float64 division for the scale, exact powers of two by frexp,
the 1e-4 absmax floor, and the reciprocal-then-multiply rounding."""
from __future__ import annotations

import torch

from course import scales
from kernels import reference as R


def _y(seed: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(64, 4, 128, generator=g) * torch.logspace(-7, 3, 64)[:, None, None]
    return y.to(torch.bfloat16).float()


def test_fp32_scale_is_the_correctly_rounded_quotient_with_the_1e4_floor():
    y = _y()
    _, sf = scales.deepgemm_cast(y)
    floor = torch.tensor(1e-4).item()                       # 1e-4 as an fp32 holds it
    amax = y.abs().amax(-1).double().clamp_min(floor)      # float64: a different route to the floor
    assert torch.equal(sf, (amax / 448).float())           # one rounding of the exact quotient
    assert (y.abs().amax(-1) < 1e-4).any() and (sf == torch.tensor(1e-4).double().div(448).float()).any()


def test_codes_are_y_times_the_rounded_reciprocal():
    y = _y()
    q, sf = scales.deepgemm_cast(y)
    recip = (1.0 / sf.double()).float()                     # the reciprocal, rounded once to fp32
    want = (y.double() * recip.double()[..., None]).float().to(R.FP8)
    assert torch.equal(q.view(torch.uint8), want.view(torch.uint8))


def test_ue8m0_scale_is_the_smallest_power_of_two_at_or_above_and_divides_exactly():
    y = _y()
    q, sf = scales.deepgemm_cast(y, use_ue8m0=True)
    raw = y.abs().amax(-1).double().clamp_min(1e-4) / 448
    mant, _ = torch.frexp(sf)
    assert bool((mant == 0.5).all())                        # powers of two
    assert bool((sf.double() >= raw.float().double()).all()) and bool((sf.double() / 2 < raw.float().double()).all())
    assert torch.equal(q.view(torch.uint8), (y / sf[..., None]).to(R.FP8).view(torch.uint8))


def test_a_zero_group_gets_the_floor():
    y = torch.zeros(1, 1, 128)
    q, sf = scales.deepgemm_cast(y)
    assert sf.item() == torch.tensor(1e-4).div(448).item() and not q.float().any()
    _, sf8 = scales.deepgemm_cast(y, use_ue8m0=True)
    assert sf8.item() == 2.0**-22                           # 1e-4 / 448 = 2.23e-7 -> 2**-22 = 2.38e-7
