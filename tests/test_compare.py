"""The equality rules themselves can fail: a checker that always says ✅ proves nothing."""
import torch

from kernels import reference as R
from kernels.compare import compare, fp8_ordinal


def _case(seed=0, m=8, n=512):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(m, n, generator=g) * 3).to(torch.bfloat16)
    q, s = R.silu_mul_fp8_colmajor_ref(x)
    return x, q, s, R.colmajor_y(x)


def _bump(q, idx, by=1):
    """Move one fp8 code `by` steps along the value order."""
    flat = q.view(torch.uint8).clone().view(-1)
    o = int(fp8_ordinal(q.view(-1)[idx:idx + 1])[0]) + by
    flat[idx] = o if o >= 0 else 128 | -o
    return flat.view(q.shape).view(torch.float8_e4m3fn)


def test_cpu_rule_demands_identity_and_names_the_element():
    x, q, s, y = _case()
    assert compare(q, s, q, s, tier="cpu")
    rep = compare(_bump(q, 300), s, q, s, tier="cpu")
    assert not rep and "row 1, column 44" in rep.message, rep.message
    s2 = s.clone()
    s2[3, 1] = s2[3, 1] * 1.0000001
    rep = compare(q, s2, q, s, tier="cpu")
    assert not rep and "row 3, column 1" in rep.message, rep.message


def test_cpu_rule_checks_the_scale_layout():
    x, q, s, y = _case()
    rep = compare(q, s.contiguous(), q, s, tier="cpu")
    assert not rep and "MN-major" in rep.message, rep.message


def test_gpu_rule_rejects_an_unexplained_one_step_difference():
    x, q, s, y = _case()
    # find a code whose quotient is far from any rounding boundary, then move it one step
    v = (y.view(8, -1, 128) / s.reshape(8, -1, 1)).view(8, -1)
    frac = (v - q.float()).abs()
    idx = int(frac.view(-1).argmin())  # quotient sits exactly on a code: nowhere near a midpoint
    rep = compare(_bump(q, idx), s, q, s, tier="gpu", y_ref=y)
    assert not rep and "not explained" in rep.message, rep.message


def test_gpu_rule_accepts_a_difference_at_a_rounding_midpoint():
    x, q, s, y = _case()
    v = (y.view(8, -1, 128) / s.reshape(8, -1, 1)).view(8, -1)
    # construct a reference quotient exactly at the midpoint between code k and k+1
    idx = int((v.abs() > 1).view(-1).nonzero()[0])
    lo = q.view(-1)[idx].float()
    hi = _bump(q, idx, 1 if v.view(-1)[idx] > 0 else -1).view(-1)[idx].float()
    y2 = y.clone().view(-1)
    r, c = divmod(idx, q.shape[1])
    y2[idx] = (lo + hi) / 2 * s[r, c // 128]
    assert compare(_bump(q, idx, 1 if v.view(-1)[idx] > 0 else -1), s, q, s, tier="gpu",
                   y_ref=y2.view(y.shape))


def test_gpu_rule_rejects_two_steps_and_moved_scales():
    x, q, s, y = _case()
    assert not compare(_bump(q, 5, 2), s, q, s, tier="gpu", y_ref=y)
    s2 = s.clone()
    s2[0, 0] *= 2
    assert not compare(q, s2, q, s, tier="gpu", y_ref=y)
