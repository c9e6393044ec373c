"""The equality rules themselves can fail: a checker that always says ✅ proves nothing."""
import pytest
import torch

from kernels import reference as R
from kernels.compare import check, compare, fp8_ordinal


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


def _quotient(q, s, y):
    m = q.shape[0]
    return (y.view(m, -1, 128) / s.reshape(m, -1, 1)).view(m, -1)


def test_gpu_rule_rejects_a_difference_outside_the_envelope():
    x, q, s, y = _case()
    env = R.gpu_envelope(x, "colmajor")
    # the code whose quotient sits exactly on a code value is nowhere near a rounding boundary
    idx = int((_quotient(q, s, y) - q.float()).abs().view(-1).argmin())
    rep = compare(_bump(q, idx), s, q, s, tier="gpu", envelope=env)
    assert not rep and "outside the GPU envelope" in rep.message, rep.message


def test_gpu_rule_accepts_a_code_the_envelope_produces():
    x, q, s, y = _case(seed=3, m=64, n=1024)
    env = R.gpu_envelope(x, "colmajor")
    moved = [(qv.view(torch.uint8) != q.view(torch.uint8)) for qv, _ in env]
    k = next(i for i, mv in enumerate(moved) if mv.any())  # a variant that moves some code
    assert compare(env[k][0], s, q, s, tier="gpu", envelope=env)
    # ...but only where that variant moved it: the same step elsewhere is rejected
    idx = int((~moved[k]).view(-1).nonzero()[0])
    assert not compare(_bump(env[k][0], idx), s, q, s, tier="gpu", envelope=env)


def test_gpu_rule_rejects_two_steps_moved_scales_and_a_missing_envelope():
    x, q, s, y = _case()
    env = R.gpu_envelope(x, "colmajor")
    assert not compare(_bump(q, 5, 2), s, q, s, tier="gpu", envelope=env)
    s2 = s.clone()
    s2[0, 0] *= 2
    assert not compare(q, s2, q, s, tier="gpu", envelope=env)
    with pytest.raises(ValueError, match="envelope"):
        compare(q, s, q, s, tier="gpu")


def test_gpu_rule_judges_packed_words_per_exponent_byte():
    g = torch.Generator().manual_seed(7)
    x = (torch.randn(8, 768, generator=g) * 3).to(torch.bfloat16)  # 3 groups: byte 3 unused
    q, p = R.silu_mul_fp8_packed_ref(x)
    env = R.gpu_envelope(x, "packed")
    assert compare(q, p, q, p, tier="gpu", envelope=env)
    dirty = p.clone()
    dirty[2, 0] |= 1 << 24                                  # a stray bit in the unused lane
    rep = compare(q, dirty, q, p, tier="gpu", envelope=env)
    assert not rep and "unused lanes" in rep.message, rep.message


def test_check_uses_the_rule_of_the_tier():
    x, q, s, y = _case()
    assert check("colmajor", x, q, s)
    assert not check("colmajor", x, q, s, use_ue8m0=True)
    with pytest.raises(ValueError):
        check("rowmajor", x, q, s)


def test_a_single_scale_column_is_mn_major_whatever_its_unused_stride():
    # found on an H200: a [256, 1] slice of the packed scales of M = 524,280 rows kept the stride
    # 524,280 for its size-1 dimension, and the layout check called it wrong
    q = torch.zeros(256, 128, dtype=torch.float8_e4m3fn)
    big = torch.zeros(1, 524_280, dtype=torch.int32).t()       # [524280, 1], strides (1, 524280)
    ref = torch.zeros(1, 256, dtype=torch.int32).t()           # [256, 1], strides (1, 256)
    assert compare(q, big[:256], q.clone(), ref).ok
    wrong = torch.zeros(256, 2, dtype=torch.int32)             # row-major: strides (2, 1)
    assert not compare(q, wrong, q.clone(), torch.zeros(2, 256, dtype=torch.int32).t()).ok
