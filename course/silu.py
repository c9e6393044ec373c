"""Lesson 02, SiLU(gate) * up: the input picture and bf16 comparisons under each tier's rule.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from kernels import tier

from .kit import plural

def plot_gate_up(x: torch.Tensor):
    """Heat map of an [M, N] input with the gate | up split and one output column's two inputs."""
    x = x.float().cpu()
    m, n = x.shape
    h = n // 2
    fig, ax = plt.subplots(figsize=(9, 3.2))
    im = ax.imshow(x.numpy(), aspect="auto", cmap="coolwarm", vmin=-3, vmax=3,
                   extent=(0, n, m, 0), interpolation="nearest")
    ax.axvline(h, color="k", lw=3)
    for x0, label in ((h / 2, "gate = x[:, :N/2]\nsilu() applies here"),
                      (1.5 * h, "up = x[:, N/2:]\nmultiplies silu(gate)")):
        ax.text(x0, m * 0.5, label, ha="center", va="center", fontsize=11,
                bbox=dict(facecolor="white", alpha=0.85))
    j = h // 4
    band = max(1.0, n / 128)
    for c, name in ((j, "gate"), (j + h, "up")):
        ax.add_patch(plt.Rectangle((c, 0), band, m, color="limegreen"))
        ax.annotate(f"{name}: column {c}", (c, 0), (c + n * 0.02, -m * 0.08), fontsize=8,
                    annotation_clip=False)
    ax.set_xlabel(f"input column (N = {n}); output column j = {j} reads columns {j} and {j + h}")
    ax.set_ylabel(f"row (M = {m})")
    fig.colorbar(im, ax=ax, label="x")
    fig.tight_layout()
    return fig


def bf16_steps(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance between bf16 values in representable steps (0 = identical, 1 = neighbours)."""
    def ordinal(t):
        i = t.to(torch.bfloat16).cpu().view(torch.int16).to(torch.int32)
        return torch.where(i < 0, -(i & 0x7FFF), i)
    return (ordinal(a) - ordinal(b)).abs()


def compare_bf16(y: torch.Tensor, reference) -> tuple[bool, str]:
    """Compare a kernel's bf16 result with reference(exp_slack) (a function of kernels.reference's
    exp_slack). CPU tier: identical to reference(0). GPU tier: each element equal to the reference
    evaluated with exp at one end of the GPU's error bound or the other (-1, 0, +1): the same
    envelope rule as kernels.compare.check, no rate."""
    y_ref = reference(0)
    if y.shape != y_ref.shape:
        return False, f"shape {tuple(y.shape)}, expected {tuple(y_ref.shape)}"
    y, y_ref = y.cpu(), y_ref.cpu()
    steps = bf16_steps(y, y_ref)
    diff, worst = int((steps > 0).sum()), int(steps.max()) if steps.numel() else 0
    msg = f"{diff:,} of {steps.numel():,} elements differ (max {plural(worst, 'bf16 step')})"
    if tier.INTERPRETED:
        return diff == 0, msg + " [CPU tier rule: identical]"
    inside = torch.zeros_like(steps, dtype=torch.bool)
    for slack in (-1, 0, 1):
        inside |= y.view(torch.int16) == reference(slack).cpu().to(y.dtype).view(torch.int16)
    return bool(inside.all()), msg + f" [GPU rule: {int((~inside).sum()):,} outside the exp envelope]"


def check_clamped(kind: str, x: torch.Tensor, clamp_limit: float):
    """Launch one course kernel with clamp_limit and compare it with its reference by the rule of
    this tier (kernels.compare: identical on the CPU tier, inside the GPU envelope on a GPU).
    Returns ((q, scales), report)."""
    import kernels
    from kernels import reference as R
    from kernels.compare import compare
    xc = x.detach().cpu()
    if kind == "colmajor":
        got = kernels.silu_mul_fp8_colmajor(x, clamp_limit=clamp_limit)
        want = R.silu_mul_fp8_colmajor_ref(xc, clamp_limit=clamp_limit)
    else:
        got = kernels.silu_mul_fp8_packed(x, clamp_limit=clamp_limit)
        want = R.silu_mul_fp8_packed_ref(xc, clamp_limit=clamp_limit)
    if tier.INTERPRETED:
        return got, compare(*got, *want, tier="cpu")
    env = R.gpu_envelope(xc, kind, clamp_limit=clamp_limit)
    return got, compare(*got, *want, tier="gpu", envelope=env)


def clamp_values(limit: float) -> list[tuple[str, float]]:
    """Where each kernel clamps for `limit`: the fp32 value both receive, and the colmajor kernel's
    narrowing of it to each input dtype (the packed kernel keeps the fp32 value)."""
    l32 = torch.tensor(limit, dtype=torch.float32)
    return [("fp32 (both kernels receive it; packed clamps here)", l32.item()),
            ("bf16 (colmajor, bf16 input)", l32.to(torch.bfloat16).item()),
            ("fp16 (colmajor, fp16 input)", l32.to(torch.float16).item())]
