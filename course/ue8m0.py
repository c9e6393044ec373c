"""Lesson 05, UE8M0: exponent bytes by the kernels' log2 route and the exact bit route; packed words.
"""
from __future__ import annotations

import math
import struct

import matplotlib.pyplot as plt
import torch

import kernels

def f32_bits(v: float) -> tuple[int, int, int]:
    """(sign, exponent field, mantissa field) of v as an fp32."""
    b = struct.unpack("<I", struct.pack("<f", v))[0]
    return b >> 31, (b >> 23) & 0xFF, b & 0x7FFFFF


def byte_log2_route(s: torch.Tensor) -> torch.Tensor:
    """Biased exponent byte by the kernels' route: ceil(log2(s)) + 127 in fp32."""
    return (torch.ceil(torch.log2(s.float())) + 127).to(torch.int32)


def byte_bit_route(s: torch.Tensor) -> torch.Tensor:
    """Biased exponent byte by the exact route (positive normal fp32): exponent + (mantissa != 0)."""
    b = s.float().contiguous().view(torch.int32)
    return ((b >> 23) & 0xFF) + ((b & 0x7FFFFF) != 0).to(torch.int32)


def just_above_powers_of_two(lo: int = -40, hi: int = 20) -> torch.Tensor:
    """The fp32 value one ulp above 2**e for every e in [lo, hi)."""
    p = torch.exp2(torch.arange(lo, hi, dtype=torch.float32))
    return torch.nextafter(p, torch.full_like(p, math.inf))


def shift_pack(scales: torch.Tensor) -> torch.Tensor:
    """Pack fp32 scales [..., 4] into int32 words the way DeepGEMM's CUDA packers do: no rounding.

    They shift each scale's fp32 bits so that its exponent field lands in byte j:
    `(s0 >> 23) | (s1 >> 15) | (s2 >> 7) | (s3 << 1)` (deep_gemm/include/deep_gemm/impls/
    smxx_layout.cuh, transpose_and_pack_fp32_into_ue8m0). That is right only for powers of two:
    a mantissa bit of s1, s2 or s3 is shifted into a lower byte.
    """
    b = scales.float().contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF   # unsigned bits
    w = (b[..., 0] >> 23) | (b[..., 1] >> 15) | (b[..., 2] >> 7) | ((b[..., 3] << 1) & 0xFFFFFFFF)
    return (w - ((w >> 31) << 32)).to(torch.int32)                                 # the same 32 bits, signed


def word_table(packed: torch.Tensor, groups: int, row: int, word: int) -> str:
    """Decode one packed int32 word into its 4 lanes: byte, exponent, scale, which group."""
    w = int(packed[row, word])
    u = w & 0xFFFFFFFF
    lines = [f"row {row}, word {word}: int32 {w:,}  = 0x{u:08X}  (sign bit {'set' if w < 0 else 'clear'})",
             f"{'byte j':>6} {'bits':>7} {'group 4p+j':>10} {'hex':>4} {'byte':>5} {'exponent':>8} "
             f"{'scale = 2**(byte-127)':>22}"]
    lanes = kernels.unpack_exponents(packed[row:row + 1, word:word + 1], 4)[0].tolist()
    for j, byte in enumerate(lanes):
        g = 4 * word + j
        if g >= groups:
            lines.append(f"{j:>6} {f'{8*j}-{8*j+7}':>7} {g:>10} {byte:>4X} {byte:>5}  unused lane "
                         f"(only {groups} groups): must be 0")
            continue
        lines.append(f"{j:>6} {f'{8*j}-{8*j+7}':>7} {g:>10} {byte:>4X} {byte:>5} {byte - 127:>8} "
                     f"{2.0 ** (byte - 127):>22.6g}")
    return "\n".join(lines)


def plot_word(word: int, title: str = ""):
    """Draw a packed int32 as 4 coloured bytes, most significant (byte 3, sign bit) on the left."""
    u = word & 0xFFFFFFFF
    fig, ax = plt.subplots(figsize=(10, 1.9))
    colors = ["#4c72b0", "#55a868", "#c44e52", "#8172b2"]
    for j in range(4):
        byte = (u >> (8 * j)) & 0xFF
        x0 = (3 - j) * 8
        ax.add_patch(plt.Rectangle((x0, 0), 8, 1, color=colors[j], alpha=0.25))
        for k in range(8):
            bit = (byte >> (7 - k)) & 1
            ax.text(x0 + k + 0.5, 0.5, str(bit), ha="center", va="center", fontsize=10,
                    fontweight="bold" if (j == 3 and k == 0) else "normal")
        ax.text(x0 + 4, 1.35, f"byte {j} = {byte} (group 4p+{j})", ha="center", fontsize=9)
    ax.annotate("sign bit of the int32", xy=(0.5, 0), xytext=(0.5, -0.65), ha="left", fontsize=8,
                arrowprops=dict(arrowstyle="->"))
    ax.set_xlim(-0.5, 32.5)        # a margin on both sides: the tight crop keeps bit 0 and bit 31 whole
    ax.set_ylim(-0.8, 1.8)
    ax.axis("off")
    signed = u - (1 << 32) if u >= 1 << 31 else u
    ax.set_title(title or f"0x{u:08X} = int32 {signed:,}", fontsize=10)
    return fig
