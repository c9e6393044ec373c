"""kernels.gpu_math: the GPU spellings give the bits of the plain ones (upstream's), on a GPU.

The plain spelling is rebuilt from the kernel source by kernels.bench.PLAIN (tl.exp(-g), and the
clamp to +-448 before the cast), so each comparison is kernel against kernel: same tile, same
launcher, only the two spellings differ. Inputs: every finite bf16 and fp16 gate value, with
several up columns, plus random fp32 patterns for the bare silu. The CPU-tier test checks that
bench.PLAIN still matches the kernel source, and that the variant is the kernel there.
"""
from __future__ import annotations

import pytest
import torch
import triton
import triton.language as tl

import kernels
from kernels import bench, gpu_math
from conftest import DEVICE, TIER, make_x

gpu = pytest.mark.gpu


def _same(a, b) -> bool:
    (qa, sa), (qb, sb) = a, b
    return (torch.equal(qa.view(torch.uint8), qb.view(torch.uint8))
            and torch.equal(sa.view(torch.int32), sb.view(torch.int32)))


def _all_16_bit_gates(dtype: torch.dtype, up: str, seed: int) -> torch.Tensor:
    """x [512, 256]: the gate half holds every finite value of dtype once (non-finite -> 0), the up
    half `up` ("ones", or uniform in [-1, 1), so that no product overflows)."""
    bits = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16)
    g = bits.view(dtype).float()
    g = torch.where(torch.isfinite(g), g, 0.0)
    gen = torch.Generator().manual_seed(seed)
    g = g[torch.randperm(g.numel(), generator=gen)] if seed else g
    u = torch.ones_like(g) if up == "ones" else torch.rand(g.numel(), generator=gen) * 2 - 1
    x = torch.cat([g.view(512, 128), u.view(512, 128)], dim=1).to(dtype)
    return x.to(DEVICE)


CASES = [("colmajor", {}), ("colmajor", {"use_ue8m0": True}), ("packed", {})]
IDS = ["colmajor", "colmajor-ue8m0", "packed"]


def _pair(kernel: str, kw: dict, x: torch.Tensor):
    launch = kernels.silu_mul_fp8_packed if kernel == "packed" else kernels.silu_mul_fp8_colmajor
    return launch(x, **kw), bench._plain(kernel, **kw)(x)()


@pytest.mark.skipif(TIER != "cpu", reason="the CPU tier runs the plain spelling itself")
@pytest.mark.parametrize("kernel,kw", CASES, ids=IDS)
def test_plain_variant_matches_the_source_and_is_the_kernel_on_the_cpu_tier(kernel, kw):
    x = make_x(12, 512, torch.bfloat16, seed=3, scale=4.0)
    assert _same(*_pair(kernel, kw, x))


@gpu
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("up,seed", [("ones", 0), ("uniform", 1), ("uniform", 2)])
@pytest.mark.parametrize("clamp", [None, 7.0157], ids=["no-clamp", "clamp-7.0157"])
@pytest.mark.parametrize("kernel,kw", CASES, ids=IDS)
def test_gpu_spelling_is_bit_identical_for_every_gate_value(kernel, kw, clamp, up, seed, dtype):
    x = _all_16_bit_gates(dtype, up, seed)
    short, plain = _pair(kernel, dict(kw, clamp_limit=clamp), x)
    assert _same(short, plain)


@gpu
@pytest.mark.parametrize("log2_scale", [-60, -20, 0, 3, 20, 60])   # products stay below 2**127
@pytest.mark.parametrize("kernel,kw", CASES, ids=IDS)
def test_gpu_spelling_is_bit_identical_on_random_input(kernel, kw, log2_scale):
    x = make_x(1024, 7168, torch.bfloat16, seed=100 + log2_scale, scale=2.0**log2_scale,
               device="cuda")
    short, plain = _pair(kernel, kw, x)
    assert _same(short, plain)


@triton.jit
def _silu_two_ways(g_ptr, plain_ptr, short_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < n
    g = tl.load(g_ptr + offs, mask=ok)
    tl.store(plain_ptr + offs, g / (1.0 + tl.exp(-g)), mask=ok)
    tl.store(short_ptr + offs, g / (1.0 + gpu_math.exp_neg(g)), mask=ok)


@triton.jit
def _exp_neg_and_silu(g_ptr, e_ptr, s_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < n
    g = tl.load(g_ptr + offs, mask=ok)
    e = gpu_math.exp_neg(g)
    tl.store(e_ptr + offs, e, mask=ok)
    tl.store(s_ptr + offs, g / (1.0 + e), mask=ok)


@pytest.mark.skipif(TIER != "cpu", reason="the CPU tier's spelling; the GPU's is checked below")
def test_cpu_tier_exp_neg_is_the_references_exp_on_every_16_bit_value():
    """On the CPU tier exp_neg must be the reference's exp(-g) bit for bit (the plain spelling): the
    short one moves results by up to tens of ulps there, which turns some fp8 ties the other way."""
    from kernels import reference as R
    bits = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16)
    g = torch.cat([bits.view(torch.bfloat16).float(), bits.view(torch.float16).float()])
    g = g[torch.isfinite(g)].contiguous()
    e, s = torch.empty_like(g), torch.empty_like(g)
    _exp_neg_and_silu[(triton.cdiv(g.numel(), 4096),)](g, e, s, g.numel(), BLOCK=4096)
    assert torch.equal(e.view(torch.int32), torch.exp(-g).view(torch.int32))
    assert torch.equal(s.view(torch.int32), R.silu_fp32(g).view(torch.int32))


@gpu
def test_gpu_silu_exp_spellings_agree_on_every_16_bit_value_and_random_fp32():
    bits = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16)
    gen = torch.Generator().manual_seed(5)
    rand = torch.randint(-2**31, 2**31, (1 << 24,), dtype=torch.int64, generator=gen).to(torch.int32)
    g = torch.cat([bits.view(torch.bfloat16).float(), bits.view(torch.float16).float(),
                   rand.view(torch.float32)]).cuda()
    plain, short = torch.empty_like(g), torch.empty_like(g)
    _silu_two_ways[(triton.cdiv(g.numel(), 1024),)](g, plain, short, g.numel(), BLOCK=1024)
    both_nan = plain.isnan() & short.isnan()
    differ = (plain.view(torch.int32) != short.view(torch.int32)) & ~both_nan
    assert int(differ.sum()) == 0, g[differ][:10].tolist()
