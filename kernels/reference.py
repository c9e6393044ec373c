"""Plain-PyTorch references for the two fused kernels: the contract every kernel is checked against.

Both compute, per row and per group of 128 output columns, ``y = silu(gate) * up`` and quantize it to
fp8 e4m3fn with one scale per (row, group); ``x ~= q * scale``. They differ in where they round
(this is the *precision path*; it decides bits, so it is fixed here once):

colmajor (vLLM's Hopper path), T = input dtype (bf16 or fp16)
    0. optional SwiGLU clamp L: g = min(g, L), u = clamp(u, -L, L) in fp32, **rounded to T**
    1. g, u loaded in T; silu(g) = g / (1 + exp(-g)) in fp32, **rounded to T**
    2. y = silu * u **rounded to T** (a T x T product is exact in fp32, so one rounding = a T multiply)
    3. amax = max(max |y| over the group, eps)           eps floors the *amax* (runtime, 1e-10)
    4. scale = amax * (1/448)                             multiply by the fp32 reciprocal
    5. optional UE8M0: scale = 2 ** ceil(log2(scale))     fp32 log2/ceil/exp2, as the GPU kernel
    6. q = fp8(clamp(y / scale, -448, 448))               round to nearest even
    scales: float32 [M, G], G = N/256, strides (1, round_up(M, 4)) -- MN-major, TMA-aligned

packed (vLLM's Blackwell/UE8M0 path)
    0. optional SwiGLU clamp L: g = min(g, L), u = clamp(u, -L, L) in fp32, **kept in fp32**
    1. y = silu(g) * u entirely in fp32, then **rounded once to bf16** (also for fp16 input)
    2. scale_raw = max(amax / 448, 1e-10)                 eps floors the *scale*, after a division
    3. e = ceil(log2(scale_raw)), scale = 2**e            always a power of two
    4. q as above; the exponent byte clamp(e + 127, 0, 255) of group 4p+j goes to byte j of word p
    scales: int32 [M, ceil(G/4)], strides (1, round_up(M, 4)); unused bytes are 0

On a GPU, tl.exp and fp32 division are approximate; gpu_envelope() gives every result those
last-bit differences can produce, and kernels.compare accepts a GPU result only inside it.

Non-finite values: NaN/Inf input, or finite input whose silu(gate) * up overflows the precision
path (fp16 beyond 65,504; fp32/bf16 beyond ~3.4e38), make the group's absmax inf/NaN and its codes
NaN -- in the references and in the kernels alike, as in upstream's kernels. The launchers reject
both only when asked (check_finite=True; see kernels.validate.check_finite).

The clamp (clamp_limit, None = none) is upstream's: packed since vLLM 0.20, colmajor since 0.21
(fp8_utils.py). L is the fp32 value the kernels receive (kernels.validate.check_clamp_limit). Because
colmajor narrows the clamped values to T and packed does not, a limit T cannot represent acts as
its T rounding in colmajor only (7.01 as 7.0 in bf16, as 7.01171875 in fp16; lesson 02).

The references check their arguments like the launchers (kernels.validate), on any device and
layout.
"""
from __future__ import annotations

import torch

from . import validate

GROUP = 128
FP8 = torch.float8_e4m3fn
FP8_MAX = 448.0
COLMAJOR_EPS = 1e-10  # the colmajor launcher's default eps (a runtime argument upstream)
PACKED_EPS = 1e-10    # a literal in the upstream packed kernel, not an argument
UE8M0_BIAS = 127      # biased exponent byte = log2(scale) + 127: the fp32 exponent field


def e4m3_value(code: int) -> float:
    """Decode one e4m3fn byte by the rules of the format (not via torch)."""
    s, e, f = code >> 7, (code >> 3) & 0xF, code & 0x7
    if e == 0xF and f == 0x7:
        return float("nan")
    mag = (f / 8) * 2.0**-6 if e == 0 else (1 + f / 8) * 2.0**(e - 7)
    return -mag if s else mag


def round_up(v: int, m: int) -> int:
    return (v + m - 1) // m * m


def mn_major(rows: int, cols: int, dtype: torch.dtype, device, *, zeros: bool = True) -> torch.Tensor:
    """A [rows, cols] tensor with strides (1, round_up(rows, 4)): DeepGEMM's TMA-aligned layout.

    zeros=True (default): the whole buffer is 0, padding rows rows .. round_up(rows, 4) - 1 included.
    zeros=False (the launchers): torch.empty, no memset kernel -- the kernels write every element
    of the buffer themselves, the padding rows with 0.
    """
    aligned = round_up(rows, 4)
    buf = (torch.zeros if zeros else torch.empty)(cols, aligned, dtype=dtype, device=device).t()
    return buf if aligned == rows else buf[:rows]  # a slice is a host op of its own: only if needed


def scale_padding(scales: torch.Tensor) -> torch.Tensor:
    """The padding rows M .. round_up(M, 4) - 1 behind an MN-major [M, cols] scale view, as a
    [cols, pad] view (the kernels write 0 there)."""
    m, cols = scales.shape
    aligned = round_up(m, 4)
    return scales.as_strided((cols, aligned - m), (aligned, 1), scales.storage_offset() + m)


# Slack of the GPU's approximate fp32 math, used only to build the GPU envelope (gpu_envelope):
# tl.exp is ex2.approx(x * log2 e) -- a few ulp, growing with |x| through the rounded argument --
# and fp32 "/" is div.full (within 2 ulp).
def _exp_slack(g: torch.Tensor) -> torch.Tensor:
    return (4.0 + g.abs()) * 2.0**-23


DIV_SLACK = 2.0**-22


def silu_fp32(g: torch.Tensor, exp_slack: int = 0) -> torch.Tensor:
    """silu(g) = g / (1 + exp(-g)) in fp32 (not g * sigmoid(g): that rounds differently).

    exp_slack in {-1, 0, 1} moves exp by the GPU's error bound (gpu_envelope only)."""
    e = torch.exp(-g)
    if exp_slack:
        e = e * (1.0 + exp_slack * _exp_slack(g))
    return g / (1.0 + e)


def _quantize(y: torch.Tensor, scale: torch.Tensor, div_slack: int = 0) -> torch.Tensor:
    """y [M, G, 128] fp32, scale [M, G] fp32 -> fp8 codes [M, G, 128]."""
    v = y / scale[..., None]
    if div_slack:
        v = v * (1.0 + div_slack * DIV_SLACK)
    return v.clamp(-FP8_MAX, FP8_MAX).to(FP8)


def _clamped(x: torch.Tensor, clamp_limit: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 0 of both paths: (gate, up) in fp32, clamped when clamp_limit is not None."""
    h = x.shape[1] // 2
    g, u = x[:, :h].float(), x[:, h:].float()
    limit = validate.check_clamp_limit(clamp_limit)
    if limit is not None:
        g, u = g.clamp(max=limit), u.clamp(-limit, limit)
    return g, u


def colmajor_y(x: torch.Tensor, exp_slack: int = 0, clamp_limit: float | None = None) -> torch.Tensor:
    """Steps 0-2 of the colmajor path: y [M, N/2] in fp32, holding T-representable values."""
    t = x.dtype
    g, u = _clamped(x, clamp_limit)
    if clamp_limit is not None:
        g, u = g.to(t).float(), u.to(t).float()    # the clamped values narrowed back to T
    s = silu_fp32(g, exp_slack).to(t)
    return (s.float() * u).to(t).float()


def packed_y(x: torch.Tensor, exp_slack: int = 0, clamp_limit: float | None = None) -> torch.Tensor:
    """Steps 0-1 of the packed path: y [M, N/2] in fp32, holding bf16-representable values."""
    g, u = _clamped(x, clamp_limit)                  # the clamped values stay in fp32
    return (silu_fp32(g, exp_slack) * u).to(torch.bfloat16).float()


def ue8m0(scale: torch.Tensor) -> torch.Tensor:
    """2 ** ceil(log2(scale)) in fp32, the route both upstream kernels take."""
    return torch.exp2(torch.ceil(torch.log2(scale)))


def silu_mul_fp8_colmajor_ref(x: torch.Tensor, use_ue8m0: bool = False, eps: float = COLMAJOR_EPS,
                              _slack: tuple[int, int] = (0, 0), *, clamp_limit: float | None = None):
    """x [M, N] bf16/fp16 -> (q [M, N/2] fp8 e4m3fn, scales [M, N/256] fp32, strides (1, round_up(M,4))).

    Arguments are checked as the launcher checks them (kernels.validate), on any device."""
    m, n = validate.check_input(x, device=None)
    use_ue8m0 = validate.check_flag("use_ue8m0", use_ue8m0)
    eps = validate.check_eps(eps)
    y = colmajor_y(x, _slack[0], clamp_limit).view(m, n // 2 // GROUP, GROUP)
    amax = y.abs().amax(dim=-1).clamp_min(eps)
    scale = amax * (1.0 / FP8_MAX)
    if use_ue8m0:
        scale = ue8m0(scale)
    # dividing by a power of two is exact on the GPU too: no division slack for UE8M0 scales
    q = _quantize(y, scale, 0 if use_ue8m0 else _slack[1]).view(m, n // 2)
    scales = mn_major(m, scale.shape[1], torch.float32, x.device)
    scales.copy_(scale)
    return q, scales


def pack_exponents(e: torch.Tensor) -> torch.Tensor:
    """Biased exponents e [M, G] (int, 0..255) -> int32 [M, ceil(G/4)], group 4p+j in byte j of word p."""
    m, g = e.shape
    p = (g + 3) // 4
    lanes = torch.zeros(m, p * 4, dtype=torch.int64, device=e.device)
    lanes[:, :g] = e.to(torch.int64)
    lanes = lanes.view(m, p, 4)
    shifts = torch.tensor([0, 8, 16, 24], dtype=torch.int64, device=e.device)
    word = (lanes << shifts).sum(-1)                    # 0 .. 2**32 - 1
    return (word - ((word >> 31) << 32)).to(torch.int32)  # reinterpret as signed int32


def unpack_exponents(packed: torch.Tensor, groups: int) -> torch.Tensor:
    """int32 [M, P] -> biased exponents int32 [M, groups] (the inverse of pack_exponents)."""
    w = packed.to(torch.int64) & 0xFFFFFFFF
    shifts = torch.tensor([0, 8, 16, 24], dtype=torch.int64, device=packed.device)
    lanes = (w[..., None] >> shifts) & 0xFF
    return lanes.reshape(packed.shape[0], -1)[:, :groups].to(torch.int32)


def decode_ue8m0(packed: torch.Tensor, groups: int) -> torch.Tensor:
    """int32 [M, P] -> fp32 scales [M, groups]: scale = 2 ** (byte - 127)."""
    return torch.exp2(unpack_exponents(packed, groups).float() - 127.0)


def silu_mul_fp8_packed_ref(x: torch.Tensor, _slack: tuple[int, int] = (0, 0), *,
                            clamp_limit: float | None = None):
    """x [M, N] bf16/fp16 -> (q [M, N/2] fp8 e4m3fn, packed [M, ceil(N/1024)] int32, strides (1, round_up(M,4))).

    Arguments are checked as the launcher checks them (kernels.validate), on any device."""
    m, n = validate.check_input(x, device=None)
    g = n // 2 // GROUP
    y = packed_y(x, _slack[0], clamp_limit).view(m, g, GROUP)
    scale_raw = y.abs().amax(dim=-1) / FP8_MAX
    if _slack[1]:
        scale_raw = scale_raw * (1.0 + _slack[1] * DIV_SLACK)
    e = torch.ceil(torch.log2(scale_raw.clamp_min(PACKED_EPS)))
    q = _quantize(y, torch.exp2(e)).view(m, n // 2)  # power-of-two scale: exact everywhere
    packed = mn_major(m, (g + 3) // 4, torch.int32, x.device)
    packed.copy_(pack_exponents((e + UE8M0_BIAS).clamp(0, 255)))
    return q, packed


def gpu_envelope(x: torch.Tensor, kernel: str, use_ue8m0: bool = False, eps: float = COLMAJOR_EPS,
                 *, clamp_limit: float | None = None):
    """Every result the GPU kernel may legitimately give: the reference evaluated with exp and the
    divisions moved to each end of the GPU's error bounds (3 x 3 variants, list of (q, scales)).
    The clamp itself is exact (fp32 min/max, then a round-to-nearest-even cast): no slack.

    A GPU code or scale outside the envelope cannot be blamed on approximate math: it is a bug.
    """
    variants = []
    for s_exp in (-1, 0, 1):
        for s_div in (-1, 0, 1):
            if kernel == "colmajor":
                variants.append(silu_mul_fp8_colmajor_ref(x, use_ue8m0, eps, _slack=(s_exp, s_div),
                                                          clamp_limit=clamp_limit))
            else:
                variants.append(silu_mul_fp8_packed_ref(x, _slack=(s_exp, s_div),
                                                        clamp_limit=clamp_limit))
    return variants
