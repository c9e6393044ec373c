"""Checks of exercise notebook 04 (ue8m0_packing): power-of-two rounding and packing four bytes."""
from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from kernels import reference as ref

from .core import DEV, Fail, Result, run, seeded


@triton.jit
def _elementwise_harness(x_ptr, y_ptr, n, FN: tl.constexpr, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + i, mask=i < n, other=1.0)
    tl.store(y_ptr + i, FN(x), mask=i < n)


def _ue8m0_inputs() -> torch.Tensor:
    pow2 = torch.exp2(torch.arange(-45, 20, dtype=torch.float32))
    above = torch.nextafter(pow2, torch.full_like(pow2, math.inf))
    below = torch.nextafter(pow2, torch.zeros_like(pow2))
    rnd = torch.exp(torch.empty(1000).uniform_(-30, 12, generator=seeded(41)))
    special = torch.tensor([ref.PACKED_EPS / ref.FP8_MAX, 1 / ref.FP8_MAX, 1.0, 3.0, 0.75])
    return torch.cat([pow2, above, below, rnd, special]).float()


def check_ue8m0_round(ue8m0) -> Result:
    """ue8m0(scale fp32) -> 2 ** ceil(log2(scale)), elementwise (a @triton.jit function)."""
    def body(fn):
        s = _ue8m0_inputs()
        got = torch.full_like(s, float("nan"), device=DEV)
        _elementwise_harness[(triton.cdiv(s.numel(), 256),)](s.to(DEV), got, s.numel(), FN=fn, BLOCK=256)
        got = got.cpu()
        want = ref.ue8m0(s)
        bad = got != want
        if not bad.any():
            return f"passed: {s.numel():,} scales, powers of two and their neighbours included"
        i = int(bad.nonzero()[0])
        head = (f"{int(bad.sum())} of {s.numel():,} scales differ; first: scale {s[i].item():.9g} -> "
                f"expected {want[i].item():.9g}, got {got[i].item():.9g}")
        m, e = torch.frexp(got)
        if not bool(((m.abs() == 0.5) | (got == 0)).all()):
            raise Fail(f"{head}. Some results are not powers of two")
        if torch.equal(got, torch.exp2(torch.floor(torch.log2(s)))):
            raise Fail(f"{head}. That is floor: a scale rounded *down* makes |y| / scale exceed 448 "
                       "(up to 2x). UE8M0 rounds up: ceil")
        if torch.equal(got, torch.exp2(torch.round(torch.log2(s)))):
            raise Fail(f"{head}. That is round-to-nearest; UE8M0 here rounds up: ceil")
        bits = s.view(torch.int32)
        exact = ((bits >> 23) + ((bits & 0x7FFFFF) != 0).to(torch.int32)) << 23
        if torch.equal(got, exact.view(torch.float32)):
            raise Fail(f"{head}. You computed the exact next power of two from the bits (DeepGEMM's "
                       "ceil_to_ue8m0). The vLLM kernels use fp32 exp2(ceil(log2(s))), which rounds just above a "
                       "power of two down to it; the contract is the kernels' route")
        raise Fail(head)
    return run("ue8m0_round", body, ue8m0)


@triton.jit
def _pack_harness(e_ptr, w_ptr, FN: tl.constexpr, BLOCK_M: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    e0 = tl.load(e_ptr + rows * 4 + 0)
    e1 = tl.load(e_ptr + rows * 4 + 1)
    e2 = tl.load(e_ptr + rows * 4 + 2)
    e3 = tl.load(e_ptr + rows * 4 + 3)
    tl.store(w_ptr + rows, FN(e0, e1, e2, e3).to(tl.int32))


def _pack_inputs() -> torch.Tensor:
    g = seeded(51)
    e = torch.randint(-40, 20, (32, 4), generator=g).float()
    e[0] = torch.tensor([-33.0, 0.0, 1.0, 5.0])      # byte 94 (all-zero group), 127, 128, 132
    e[1] = torch.tensor([-127.0, -200.0, 128.0, 300.0])  # 0, clamped to 0, 255, clamped to 255
    e[2] = torch.tensor([0.0, 0.0, 0.0, 10.0])       # the top byte >= 128 sets the int32 sign bit
    return e


def _hex(v: int) -> str:
    return f"0x{v & 0xFFFFFFFF:08X}"


def check_pack_exponents(pack_ue8m0) -> Result:
    """pack_ue8m0(e0, e1, e2, e3) [BLOCK_M] fp32 exponents -> int32 words (a @triton.jit function)."""
    def body(fn):
        e = _pack_inputs()
        got = torch.zeros(32, dtype=torch.int32, device=DEV)
        _pack_harness[(4,)](e.to(DEV), got, FN=fn, BLOCK_M=8)
        got = got.cpu()
        byte = (e + 127).clamp(0, 255)
        want = ref.pack_exponents(byte)[:, 0]
        if torch.equal(got, want):
            return "passed: 32 rows incl. byte 94 (all-zero group), clamping at 0 and 255, the sign bit"
        bad = (got != want).nonzero().flatten()
        r = int(bad[0])
        lanes_got = ref.unpack_exponents(got[:, None], 4)
        lanes_want = byte.to(torch.int32)
        j = int((lanes_got[r] != lanes_want[r]).nonzero()[0]) if (lanes_got[r] != lanes_want[r]).any() else 0
        head = (f"{len(bad)} of 32 words differ; first at row {r} (exponents {e[r].int().tolist()}): "
                f"expected {_hex(want[r].item())}, got {_hex(got[r].item())}; byte {j} (group 4p+{j}) "
                f"should be {lanes_want[r, j].item()}, is {lanes_got[r, j].item()}")
        if torch.equal(got, ref.pack_exponents(byte.flip(1))[:, 0]):
            raise Fail(f"{head}. The byte order is reversed: group 4p+j goes to byte j, so group 4p is "
                       "the *least* significant byte (shift by 8 * j)")
        if torch.equal(got, ref.pack_exponents(e.to(torch.int64) & 0xFF)[:, 0]) or lanes_got[0, 1] == 0:
            raise Fail(f"{head}. Add the bias 127 before packing: byte = e + 127 (exponent 0 -> 127)")
        if torch.equal(got, ref.pack_exponents((e + 127).to(torch.int64) & 0xFF)[:, 0]) or \
                lanes_got[1, 1] != 0 or lanes_got[1, 3] != 255:
            raise Fail(f"{head}. Clamp the biased exponent to [0, 255] before packing (row 1 holds "
                       f"{e[1].int().tolist()}): an out-of-range value spills into the neighbouring byte")
        raise Fail(head)
    return run("pack_exponents", body, pack_ue8m0)
