"""Checks of exercise notebook 01 (silu_mul): the fused kernel and its launch."""
from __future__ import annotations

import torch
import triton

from kernels import reference as ref
from kernels import tier

from .core import DEV, Fail, Result, randn, ranges, run


def _t_step_diff(got: torch.Tensor, want: torch.Tensor) -> torch.Tensor:
    """|got - want| in units of the last place of their dtype (bf16/fp16), as int64."""
    gi = got.contiguous().view(torch.int16).to(torch.int64)
    wi = want.contiguous().view(torch.int16).to(torch.int64)
    gi = torch.where(gi < 0, -(gi & 0x7FFF), gi)
    wi = torch.where(wi < 0, -(wi & 0x7FFF), wi)
    return (gi - wi).abs()


def _silu_mul_alternatives(x: torch.Tensor) -> dict[str, torch.Tensor]:
    h = x.shape[1] // 2
    g, u, t = x[:, :h].float(), x[:, h:].float(), x.dtype
    return {
        "you multiplied in fp32 and rounded once: the colmajor path rounds silu(gate) to the input "
        "dtype T first, then rounds the product to T again (vLLM matches its C++ silu_and_mul)":
            (ref.silu_fp32(g) * u).to(t),
        "gate and up are swapped: gate is columns [0, N/2), up is columns [N/2, N)":
            (ref.silu_fp32(u).to(t).float() * g).to(t),
        "you wrote silu as g * sigmoid(g); the kernels compute g / (1 + exp(-g)), which rounds "
        "differently": (g * torch.sigmoid(g)).to(t).float().mul(u).to(t),
    }


def _compare_y(got: torch.Tensor, x: torch.Tensor, what: str) -> None:
    want = ref.colmajor_y(x).to(x.dtype)
    if got.shape != want.shape or got.dtype != want.dtype:
        raise Fail(f"{what}: got {tuple(got.shape)} {got.dtype}, expected {tuple(want.shape)} {want.dtype} "
                   f"(y is [M, N/2] in the input's dtype)")
    got, want = got.cpu(), want.cpu()
    bad_nan = ~torch.isfinite(got.float())
    steps = _t_step_diff(got, want)
    steps[bad_nan] = 1 << 20
    # CPU tier: identical. GPU: tl.exp is approximate, so accept exactly the values the reference
    # gives with exp at either end of the GPU's error bound (kernels.reference.gpu_envelope).
    slacks = (0,) if tier.INTERPRETED else (-1, 0, 1)
    ok = torch.zeros_like(bad_nan)
    for sl in slacks:
        ok |= got.view(torch.int16) == ref.colmajor_y(x.cpu(), sl).to(x.dtype).view(torch.int16)
    steps[ok] = 0
    limit = 0
    nbad = ndiff = int((steps > limit).sum())
    if nbad == 0:
        return
    for why, alt in _silu_mul_alternatives(x.cpu()).items():
        if torch.equal(alt.view(torch.int16), got.view(torch.int16)):
            raise Fail(f"{what}: {why}")
    flat = int(steps.flatten().argmax())
    r, c = divmod(flat, got.shape[1])
    rows = (steps > limit).any(dim=1).nonzero().flatten().tolist() or \
        (steps > 0).any(dim=1).nonzero().flatten().tolist()
    m = got.shape[0]
    tail = ""
    if bad_nan.any():
        tail = (" Some elements are NaN, i.e. never written (y starts out NaN): does every program "
                "store its whole block, and does the grid cover all cdiv(M, BLOCK_M) row blocks?")
    raise Fail(f"{what}: {ndiff:,} of {got.numel():,} elements differ in rows {ranges(rows)} (of M={m}); "
               f"worst at row {r}, column {c}: expected {want[r, c].item():g}, got {got[r, c].item():g}."
               + tail)


def _silu_mul_cases():
    return [(37, 512, torch.bfloat16, 1), (16, 256, torch.float16, 2), (64, 1024, torch.bfloat16, 3)]


def check_silu_mul_kernel(kernel, block_m: int = 8) -> Result:
    """kernel(x_ptr, y_ptr, M, N, BLOCK_M) on grid (cdiv(M, BLOCK_M), N/256): y = silu(gate) * up."""
    def body(k):
        for m, n, dt, seed in _silu_mul_cases():
            # pad both tensors with rows past M so an unmasked access stays inside the allocation
            xbuf = torch.full((m + block_m, n), 3.0, dtype=dt, device=DEV)
            xbuf[:m] = randn((m, n), dt, seed, 2.0)
            ybuf = torch.full((m + block_m, n // 2), float("nan"), dtype=dt, device=DEV)
            x, y = xbuf[:m], ybuf[:m]
            k[(triton.cdiv(m, block_m), n // 256)](x, y, m, n, BLOCK_M=block_m)
            past = (~torch.isnan(ybuf[m:].float())).any(dim=1).nonzero().flatten()
            if past.numel():
                raise Fail(f"M={m}, N={n}: your kernel wrote rows {ranges((past + m).tolist())} past the "
                           f"end of y (M = {m}): mask the loads and stores with rows < M (the last block "
                           f"of {block_m} rows is partial)")
            _compare_y(y, x, f"M={m}, N={n}, {str(dt).replace('torch.', '')}")
        return "passed: bf16 and fp16, M = 37 (a partial last block), 16 and 64"
    return run("silu_mul_kernel", body, kernel)


def check_silu_mul_launch(silu_mul) -> Result:
    """silu_mul(x [M, N]) -> y [M, N/2]: your launcher around your kernel."""
    def body(f):
        for m, n, dt, seed in _silu_mul_cases() + [(5, 768, torch.bfloat16, 4)]:
            x = randn((m, n), dt, seed, 2.0)
            y = f(x)
            if not isinstance(y, torch.Tensor):
                raise Fail(f"silu_mul returned {type(y).__name__}, expected a tensor y [M, N/2]")
            _compare_y(y, x, f"M={m}, N={n}")
        return "passed: M = 37, 16, 64 and 5 (fewer rows than one block), N = 256 to 1024"
    return run("silu_mul_launch", body, silu_mul)
