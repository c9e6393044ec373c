"""The software fp8 encoder (kernels.fp8.e4m3fn_bits) on the CPU tier.

1. The encoder itself, run by the interpreter, against PyTorch's ``.to(torch.float8_e4m3fn)`` of the
   value clamped to +-448 (NaN kept) -- an independent implementation -- and against first
   principles (the code of every fp8 value, ties to even, saturation, NaN -> 0x7F as the GPU's
   cvt.rn.satfinite gives): every fp8 code, every tie and one fp32 ulp either side, subnormals and
   their ties, 448 ... 480 and beyond, infinities, NaNs, -0, and every combination of sign, exponent
   and the 8 top mantissa bits with 6 patterns of the low 15 bits (the bits rounding looks at).
2. Both kernels, every mode: interpreter + software encoder == interpreter + the rounding correction
   (the hardware cast path) == the torch reference, codes bit-identical.
"""
from __future__ import annotations

import math

import pytest
import torch

import kernels
from kernels import fp8, tier
from kernels.reference import e4m3_value
import triton
import triton.language as tl

cpu_tier = pytest.mark.skipif(not tier.INTERPRETED, reason="CPU tier (on a GPU: the gpu test at the end "
                              "and scripts/gpu_fp8_proof.py)")

FP8 = torch.float8_e4m3fn
BLOCK = 1 << 16


@triton.jit
def _encode_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < n
    x = tl.load(x_ptr + offs, mask=ok, other=0.0)
    tl.store(out_ptr + offs, fp8.e4m3fn_bits(x), mask=ok)


def encode(x: torch.Tensor) -> torch.Tensor:
    x = x.float().contiguous()
    out = torch.empty(x.numel(), dtype=torch.uint8)
    _encode_kernel[(triton.cdiv(x.numel(), BLOCK),)](x, out, x.numel(), BLOCK=BLOCK)
    return out.to(torch.int64)


def torch_codes(x: torch.Tensor) -> torch.Tensor:
    x = x.float()
    return torch.where(x.isnan(), x, x.clamp(-448, 448)).to(FP8).view(torch.uint8).to(torch.int64)


def from_bits(b: torch.Tensor) -> torch.Tensor:
    """int64 fp32 bit patterns (0 .. 2**32 - 1) -> fp32 values."""
    return torch.where(b >= 2**31, b - 2**32, b).to(torch.int32).view(torch.float32)


def assert_same(x, got, want, what):
    bad = got != want
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        pytest.fail(f"{what}: {int(bad.sum())} of {x.numel()} differ; first x = {x[i].item()!r} "
                    f"(bits {int(x[i:i+1].view(torch.int32)) & 0xFFFFFFFF:#010x}): want "
                    f"{int(want[i]):#04x}, encoder {int(got[i]):#04x}")


VALUES = torch.tensor([e4m3_value(c) for c in range(256)], dtype=torch.float32)


@cpu_tier
def test_every_fp8_code_encodes_to_itself():
    finite = ~VALUES.isnan()
    codes = torch.arange(256)
    assert_same(VALUES[finite], encode(VALUES[finite]), codes[finite], "fp8 values")
    assert encode(VALUES[~finite]).tolist() == [0x7F, 0x7F]


@cpu_tier
def test_every_tie_and_one_ulp_either_side():
    lo = torch.arange(0, 126)                       # neighbours lo, lo + 1 up to 448
    mid = (VALUES[lo] + VALUES[lo + 1]) / 2        # exact in fp32
    even = torch.where(lo % 2 == 0, lo, lo + 1)
    up = torch.nextafter(mid, torch.full_like(mid, math.inf))
    down = torch.nextafter(mid, torch.full_like(mid, -math.inf))
    x = torch.cat([mid, up, down])
    want = torch.cat([even, lo + 1, lo])
    x, want = torch.cat([x, -x]), torch.cat([want, want | 0x80])
    got = encode(x)
    assert_same(x, got, want, "ties (first principles)")
    assert_same(x, got, torch_codes(x), "ties vs torch")


@cpu_tier
def test_subnormals_and_the_smallest_values():
    k = torch.arange(0, 9, dtype=torch.float32)
    x = torch.cat([k * 2.0 ** -9, (k[1:] - 0.5) * 2.0 ** -9, torch.tensor(
        [2.0 ** -10, 2.0 ** -11, 2.0 ** -10 + 2.0 ** -30, 1e-30, 1e-45, 2.0 ** -126, 2.0 ** -6 - 2.0 ** -30])])
    x = torch.cat([x, -x])
    assert_same(x, encode(x), torch_codes(x), "subnormals vs torch")
    assert encode(torch.tensor([2.0 ** -10, 3 * 2.0 ** -10, 2.0 ** -10 + 2.0 ** -30])).tolist() == [0, 2, 1]


@cpu_tier
def test_saturation_infinities_nan_and_negative_zero():
    big = torch.tensor([448.0, 448.01, 455.99, 456.0, 463.99, 464.0, 464.01, 479.99, 480.0, 480.01,
                        512.0, 1e6, 3.0e38, math.inf])
    got = encode(torch.cat([big, -big]))
    assert got.tolist() == [0x7E] * len(big) + [0xFE] * len(big), "cvt.rn.satfinite saturates to 448"
    nan_bits = torch.tensor([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF, 0xFFFFFFFF])
    assert encode(from_bits(nan_bits)).tolist() == [0x7F] * 6, "every NaN -> 0x7F"
    assert encode(torch.tensor([0.0, -0.0])).tolist() == [0x00, 0x80]


@cpu_tier
def test_every_sign_exponent_and_top_mantissa_bits():
    # all 2**17 combinations of sign, exponent and the top 8 mantissa bits, each with 6 patterns of
    # the low 15 bits: 786,432 values, every one the encoder's rounding can tell apart
    top = torch.arange(0, 1 << 17, dtype=torch.int64) << 15
    low = torch.tensor([0, 1, 0x2AAA, 0x4000, 0x5555, 0x7FFF])
    bits = (top[:, None] | low[None, :]).flatten()
    x = from_bits(bits)
    got = encode(x)
    nan = x.isnan()
    assert_same(x[~nan], got[~nan], torch_codes(x[~nan]), "sign x exponent x mantissa sweep vs torch")
    assert bool((got[nan] == 0x7F).all())
    print(f"{x.numel():,} values, {int((~nan).sum()):,} finite or infinite: identical to torch")


@cpu_tier
def test_random_values():
    g = torch.Generator().manual_seed(11)
    x = torch.cat([torch.randn(100_000, generator=g) * 100, torch.randn(100_000, generator=g) * 1e-2,
                   (torch.rand(50_000, generator=g) - 0.5) * 2 ** -5])
    assert_same(x, encode(x), torch_codes(x), "random values vs torch")


# ---------------------------------------------------------------------------------------------
# the kernels: software encoder == hardware cast (corrected interpreter) == reference

def _inputs(dtype):
    g = torch.Generator().manual_seed(2026)
    x = torch.randn(48, 1024, generator=g) * 4
    x[:8, 0] *= 1e3            # one huge element per row: the rest of its group falls to subnormals
    x[8:16] *= 1e-3            # small groups
    x[16:24, 5:9] = 0.0        # exact zeros
    return x.to(dtype)


CASES = ([("colmajor", dict(index=i, use_ue8m0=u)) for i in ("int32", "int64") for u in (False, True)]
         + [("packed", dict(index=i, rows_axis=a)) for i in ("int32", "int64") for a in (0, 1)])


@cpu_tier
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("kernel, kw", CASES, ids=[f"{k}-{'-'.join(map(str, kw.values()))}"
                                                   for k, kw in CASES])
def test_kernels_software_equals_hardware_equals_reference(kernel, kw, dtype, monkeypatch):
    x = _inputs(dtype)
    launch = kernels.silu_mul_fp8_colmajor if kernel == "colmajor" else kernels.silu_mul_fp8_packed
    monkeypatch.setenv(fp8.ENV, "hardware")
    q_hw, s_hw = launch(x, **kw)
    monkeypatch.setenv(fp8.ENV, "software")
    q_sw, s_sw = launch(x, **kw)
    if kernel == "colmajor":
        q_ref, s_ref = kernels.silu_mul_fp8_colmajor_ref(x, use_ue8m0=kw["use_ue8m0"])
    else:
        q_ref, s_ref = kernels.silu_mul_fp8_packed_ref(x)
    codes = [q.view(torch.uint8) for q in (q_sw, q_hw, q_ref)]
    assert q_sw.dtype == FP8 and torch.equal(codes[0], codes[1]), \
        f"software vs hardware: {int((codes[0] != codes[1]).sum())} codes differ"
    assert torch.equal(codes[0], codes[2]), f"vs reference: {int((codes[0] != codes[2]).sum())} differ"
    assert torch.equal(s_sw, s_hw) and torch.equal(s_sw, s_ref)
    # the inputs reach the subnormal codes (1..7) and zero, not only normal ones
    mag = codes[0] & 0x7F
    assert bool(((mag > 0) & (mag < 8)).any()) and bool((mag == 0).any())


@pytest.mark.gpu
@pytest.mark.parametrize("kernel, kw", CASES, ids=[f"{k}-{'-'.join(map(str, kw.values()))}"
                                                   for k, kw in CASES])
def test_gpu_software_path_equals_hardware_path(kernel, kw, monkeypatch):
    """Any GPU: the software path passes the GPU rule against the reference; sm_89+: it is also
    bit-identical to the hardware path."""
    from kernels.compare import check
    x = _inputs(torch.bfloat16).cuda()
    launch = kernels.silu_mul_fp8_colmajor if kernel == "colmajor" else kernels.silu_mul_fp8_packed
    monkeypatch.setenv(fp8.ENV, "software")
    q_sw, s_sw = launch(x, **kw)
    report = check(kernel, x, q_sw, s_sw, use_ue8m0=kw.get("use_ue8m0", False))
    assert report, str(report)
    if torch.cuda.get_device_capability() < fp8.HARDWARE_SM:
        return
    monkeypatch.setenv(fp8.ENV, "hardware")
    q_hw, s_hw = launch(x, **kw)
    assert torch.equal(q_sw.view(torch.uint8), q_hw.view(torch.uint8))
    assert torch.equal(s_sw, s_hw)
