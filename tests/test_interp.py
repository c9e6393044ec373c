"""The CPU tier's rounding correction (kernels.interp) against first principles and PyTorch.

A tiny @triton.jit kernel defined here casts fp32 values to fp8 e4m3 and to bf16 through the
(corrected) interpreter. Expected results come first from first principles -- a tie goes to the even
code, a value past a midpoint to the nearer code, anything beyond 448 (inf included) saturates to 448
as the GPU's cvt.rn.satfinite does -- and second from PyTorch's conversion of the clamped value.
A child process with KERNELS_RAW_INTERPRETER=1 shows that the uncorrected interpreter differs, and
that the correction refuses a Triton version it was not verified on.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

import kernels  # noqa: F401  (sets TRITON_INTERPRET before the kernel below is decorated)
from kernels import tier
from kernels.reference import e4m3_value
import triton
import triton.language as tl
from conftest import cpu_tier_env, run_python

pytestmark = pytest.mark.skipif(not tier.INTERPRETED,
                                reason="interpreter correction tests: this machine runs the GPU tier")

FP8 = torch.float8_e4m3fn
BLOCK = 4096


@triton.jit
def _cast_kernel(x_ptr, f8_ptr, bf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < n
    x = tl.load(x_ptr + offs, mask=ok, other=0.0)
    tl.store(f8_ptr + offs, x.to(tl.float8e4nv), mask=ok)
    tl.store(bf_ptr + offs, x.to(tl.bfloat16), mask=ok)


def cast(x: torch.Tensor):
    """fp32 values -> (fp8 codes uint8, bf16 bit patterns int32) as the interpreter computes them."""
    x = x.to(torch.float32).contiguous()
    f8 = torch.empty(x.numel(), dtype=FP8)
    bf = torch.empty(x.numel(), dtype=torch.bfloat16)
    _cast_kernel[(triton.cdiv(x.numel(), BLOCK),)](x, f8, bf, x.numel(), BLOCK=BLOCK)
    return f8.view(torch.uint8).to(torch.int64), bf.view(torch.int16).to(torch.int64) & 0xFFFF


def torch_fp8(x: torch.Tensor) -> torch.Tensor:
    """PyTorch's round-to-nearest-even conversion of the value clamped to +-448 (NaN kept)."""
    x = x.float()
    return torch.where(x.isnan(), x, x.clamp(-448, 448)).to(FP8).view(torch.uint8).to(torch.int64)


def next_up(x: torch.Tensor) -> torch.Tensor:
    return torch.nextafter(x, torch.full_like(x, math.inf))


def next_down(x: torch.Tensor) -> torch.Tensor:
    return torch.nextafter(x, torch.full_like(x, -math.inf))


def assert_codes(x, got, want, what):
    bad = got != want
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        pytest.fail(f"{what}: {int(bad.sum())} of {x.numel()} wrong; first x = {x[i].item()!r}: "
                    f"expected code {int(want[i])} ({e4m3_value(int(want[i]))}), "
                    f"got {int(got[i])} ({e4m3_value(int(got[i]))})")


VALUES = torch.tensor([e4m3_value(c) for c in range(256)], dtype=torch.float32)
FINITE_POS = list(range(127))               # codes 0 .. 126 = 0 .. 448


def test_decoder_agrees_with_torch():
    t = torch.arange(256).to(torch.uint8).view(FP8).float()
    same = (t == VALUES) | (t.isnan() & VALUES.isnan())
    assert bool(same.all()), f"codes {(~same).nonzero().flatten().tolist()}"


def test_all_256_codes_round_trip():
    codes = torch.arange(256)
    f8, _ = cast(VALUES)
    nan = VALUES.isnan()
    assert nan.sum() == 2   # 0x7F and 0xFF
    assert_codes(VALUES[~nan], f8[~nan], codes[~nan], "finite codes")
    assert bool(((f8[nan] & 0x7F) == 0x7F).all()), f"NaN codes came back as {f8[nan].tolist()}"
    assert int(f8[128]) == 0x80, "negative zero must keep its sign"


def _midpoints():
    lo = torch.tensor(FINITE_POS[:-1])
    mid = (VALUES[lo] + VALUES[lo + 1]) / 2          # exact in fp32 (fp8 has 3 mantissa bits)
    even = torch.where(lo % 2 == 0, lo, lo + 1)
    return lo, mid, even


def test_every_tie_rounds_to_even():
    lo, mid, even = _midpoints()
    x = torch.cat([mid, -mid])
    want = torch.cat([even, even | 0x80])
    f8, _ = cast(x)
    assert_codes(x, f8, want, "fp8 ties")
    assert_codes(x, f8, torch_fp8(x), "fp8 ties vs torch")


def test_one_ulp_either_side_of_every_tie():
    lo, mid, _ = _midpoints()
    above, below = next_up(mid), next_down(mid)
    x = torch.cat([above, below, -above, -below])
    want = torch.cat([lo + 1, lo, (lo + 1) | 0x80, lo | 0x80])
    f8, _ = cast(x)
    assert_codes(x, f8, want, "fp8 ties +- 1 ulp")
    assert_codes(x, f8, torch_fp8(x), "fp8 ties +- 1 ulp vs torch")


def test_subnormals_and_their_ties():
    # codes 1..7 are subnormal (k * 2**-9); 2**-10 is the tie between 0 and the smallest one
    k = torch.arange(1, 8, dtype=torch.float32)
    sub = k * 2.0 ** -9
    ties = (k - 0.5) * 2.0 ** -9                     # between codes k-1 and k
    x = torch.cat([sub, ties, torch.tensor([2.0 ** -10, 2.0 ** -11, 1e-30, 2.0 ** -6 - 2.0 ** -10])])
    want = torch.cat([k.long(), torch.where((k.long() - 1) % 2 == 0, k.long() - 1, k.long()),
                      torch.tensor([0, 0, 0, 8])])
    f8, _ = cast(torch.cat([x, -x]))
    assert_codes(torch.cat([x, -x]), f8, torch.cat([want, want | 0x80]), "subnormals")


def test_saturation_above_448_and_infinities():
    big = torch.tensor([448.0, 449.0, 455.99, 456.0, 460.0, 463.99, 464.0, 464.01, 470.0, 479.9,
                        480.0, 512.0, 1e6, 3.0e38, math.inf])
    x = torch.cat([big, -big])
    f8, _ = cast(x)
    want = torch.cat([torch.full_like(big, 126, dtype=torch.int64),
                      torch.full_like(big, 254, dtype=torch.int64)])
    assert_codes(x, f8, want, "saturation (GPU: cvt.rn.satfinite)")
    assert_codes(x, f8, torch_fp8(x), "saturation vs torch of the clamped value")


def test_nan_and_negative_zero():
    x = torch.tensor([math.nan, -math.nan, 0.0, -0.0])
    f8, bf = cast(x)
    assert int(f8[0]) & 0x7F == 0x7F and int(f8[1]) & 0x7F == 0x7F, f"NaN -> {f8[:2].tolist()}"
    assert f8[2:].tolist() == [0x00, 0x80]
    assert bf[2:].tolist() == [0x0000, 0x8000]
    assert bool(torch.tensor(bf[:2].tolist(), dtype=torch.int32).to(torch.int16)
                .view(torch.bfloat16).isnan().all())


def test_carry_cases_from_the_interpreter_notes():
    # the raw interpreter drops the mantissa carry (-31.6 -> -16, -126.3 -> -64)
    x = torch.tensor([-31.6, -126.3, 31.6, 15.8, 0.1, 3.0e-3])
    f8, _ = cast(x)
    got = [e4m3_value(int(c)) for c in f8]
    assert got[:4] == [-32.0, -128.0, 32.0, 16.0]
    assert_codes(x, f8, torch_fp8(x), "carry cases vs torch")


def test_random_values_match_torch():
    g = torch.Generator().manual_seed(8322)
    x = torch.cat([torch.randn(20_000, generator=g) * 100,
                   torch.randn(20_000, generator=g) * 1e-2,
                   torch.randn(5_000, generator=g) * 1e4,
                   (torch.rand(5_000, generator=g) - 0.5) * 2 ** -5])
    f8, bf = cast(x)
    assert_codes(x, f8, torch_fp8(x), "random fp8")
    want_bf = x.to(torch.bfloat16).view(torch.int16).to(torch.int64) & 0xFFFF
    assert int((bf != want_bf).sum()) == 0
    assert_bf16_rne(x, bf)


def bf16_rne_bits(x: torch.Tensor) -> torch.Tensor:
    """Round-to-nearest-even fp32 -> bf16 by integer arithmetic on the bits (finite, non-NaN x)."""
    b = x.float().view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) & 0xFFFF


def assert_bf16_rne(x, bf):
    want = bf16_rne_bits(x)
    bad = bf != want
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        pytest.fail(f"bf16: {int(bad.sum())} of {x.numel()} wrong; first x = {x[i].item()!r} "
                    f"(bits {int(x[i:i+1].view(torch.int32)) & 0xFFFFFFFF:#010x}): expected "
                    f"{int(want[i]):#06x}, got {int(bf[i]):#06x}")


def test_bf16_ties_round_to_even():
    # every positive finite bf16 pattern b and the exact midpoint to b + 1 (fp32 holds it exactly)
    b = torch.arange(0, 0x7F7F + 1, dtype=torch.int64)
    lo = b.to(torch.int32).to(torch.int16).view(torch.bfloat16).float()
    hi = (b + 1).to(torch.int32).to(torch.int16).view(torch.bfloat16).float()
    mid = lo + (hi - lo) / 2                       # hi may be inf for the last pair: handled below
    mid[-1] = (lo[-1:].view(torch.int32) + 0x8000).view(torch.float32)[0]
    x = torch.cat([mid, -mid])
    _, bf = cast(x)
    even = torch.where(b % 2 == 0, b, b + 1)
    want = torch.cat([even, even | 0x8000])
    bad = bf != want
    assert not bool(bad.any()), (f"{int(bad.sum())} bf16 ties wrong, first x = "
                                 f"{x[bad.nonzero()[0]].item()!r}")
    assert_bf16_rne(x, bf)
    # one fp32 ulp either side goes to the nearer pattern
    up, down = next_up(mid[:-1]), next_down(mid[1:-1])
    _, bf_up = cast(up)
    _, bf_down = cast(down)
    assert bf_up.tolist() == (b[:-1] + 1).tolist()
    assert bf_down.tolist() == b[1:-1].tolist()


@triton.jit
def _widen_kernel(b_ptr, f_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < n
    tl.store(f_ptr + offs, tl.load(b_ptr + offs, mask=ok).to(tl.float32), mask=ok)


def test_every_bf16_pattern_widens_exactly():
    """bf16 -> fp32 is exact on the GPU (the bits shifted up by 16); the raw interpreter got the
    subnormals wrong (2**-133 loaded as 0)."""
    b = torch.arange(0, 1 << 16, dtype=torch.int32).to(torch.int16)
    f = torch.empty(b.numel(), dtype=torch.float32)
    _widen_kernel[(triton.cdiv(b.numel(), BLOCK),)](b.view(torch.bfloat16), f, b.numel(), BLOCK=BLOCK)
    assert torch.equal(f.view(torch.int32), b.view(torch.bfloat16).float().view(torch.int32))   # PyTorch's


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_kernels_match_the_reference_for_subnormal_gates_and_a_huge_up(dtype):
    """A subnormal gate with up = 1e30 (1e4 in fp16) makes silu * up a normal number, so a wrong
    widening of the gate shows in the codes and the scales."""
    bits = torch.arange(1, 129, dtype=torch.int32).to(torch.int16)
    g = torch.cat([bits, bits | -0x8000]).view(dtype).reshape(2, 128)
    up = torch.full((2, 128), 1e30 if dtype == torch.bfloat16 else 1e4, dtype=torch.float32).to(dtype)
    x = torch.cat([g, up], dim=1).repeat(2, 1).contiguous()
    for got, want in ((kernels.silu_mul_fp8_colmajor(x), kernels.silu_mul_fp8_colmajor_ref(x)),
                      (kernels.silu_mul_fp8_colmajor(x, use_ue8m0=True),
                       kernels.silu_mul_fp8_colmajor_ref(x, True)),
                      (kernels.silu_mul_fp8_packed(x), kernels.silu_mul_fp8_packed_ref(x))):
        assert torch.equal(got[0].view(torch.uint8), want[0].view(torch.uint8))
        assert torch.equal(got[1], want[1])


# ---------------------------------------------------------------------------------------------
# the correction is necessary, and it refuses unverified Triton versions (in a child process:
# the raw interpreter must be chosen before kernels is imported)

CHILD = r"""
import json, math, torch
import kernels, triton
from kernels import interp, tier
from kernels.compare import compare
assert tier.INTERPRETED and not tier.CORRECTED, (tier.INTERPRETED, tier.CORRECTED)
x = (torch.randn(32, 1024, generator=torch.Generator().manual_seed(0)) * 4).to(torch.bfloat16)
ref = kernels.silu_mul_fp8_colmajor_ref(x)

def diffs():
    q, s = kernels.silu_mul_fp8_colmajor(x)
    r = compare(q, s, *ref, tier="cpu")
    return {"codes": r.code_diffs, "scales": r.scale_diffs, "report": str(r)}

res = {"raw": diffs()}
# the software fp8 encoder is integer arithmetic: the raw interpreter runs it exactly
import triton.language as tl
from kernels import fp8

@triton.jit
def encode(x_ptr, o_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(o_ptr + offs, fp8.e4m3fn_bits(tl.load(x_ptr + offs)))

v = torch.randn(1 << 14, generator=torch.Generator().manual_seed(1)) * 100
o = torch.empty(v.numel(), dtype=torch.uint8)
encode[(1,)](v, o, BLOCK=v.numel())
res["raw_software_encoder_diffs"] = int((o != v.clamp(-448, 448).to(torch.float8_e4m3fn)
                                         .view(torch.uint8)).sum())
real = triton.__version__
triton.__version__ = "0.0.0+not-verified"
try:
    interp.enable_gpu_rounding()
    res["refused"] = None
except interp.InterpreterDriftError as e:
    res["refused"] = str(e)
res["installed_after_refusal"] = interp._installed
triton.__version__ = real
interp.enable_gpu_rounding()
res["installed"] = interp._installed
res["corrected"] = diffs()
print(json.dumps(res))
"""


@pytest.fixture(scope="module")
def raw_child():
    env = cpu_tier_env() | {"KERNELS_RAW_INTERPRETER": "1"}
    p = run_python(CHILD, env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_raw_interpreter_differs_from_the_reference(raw_child):
    raw = raw_child["raw"]
    print("raw interpreter:", raw["report"])
    assert raw["codes"] > 0, raw["report"]


def test_software_encoder_needs_no_correction(raw_child):
    assert raw_child["raw_software_encoder_diffs"] == 0


def test_correction_refuses_an_unverified_triton(raw_child):
    msg = raw_child["refused"]
    assert msg is not None, "enable_gpu_rounding accepted an unverified triton version"
    assert "0.0.0+not-verified" in msg and "3.6.0" in msg and "KERNELS_RAW_INTERPRETER=1" in msg
    assert raw_child["installed_after_refusal"] is False


def test_correction_installed_later_fixes_the_same_case(raw_child):
    assert raw_child["installed"] is True
    fixed = raw_child["corrected"]
    assert fixed["codes"] == 0 and fixed["scales"] == 0, fixed["report"]
