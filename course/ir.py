"""Lesson 07, the fix: the int32 wrap probed without touching memory, and the compiled TTIR (GPU).
"""
from __future__ import annotations


import torch

from kernels.probe import probe_offsets

def probe_table(pids, block_m: int, stride: int) -> str:
    cols = {m: probe_offsets(pids, block_m, stride, m).tolist() for m in ("int32", "cast-after", "cast-before")}
    lines = [f"offset = pid * {block_m} * {stride:,}",
             f"{'pid':>6} {'exact':>16} {'int32':>16} {'cast-after':>16} {'cast-before':>16}"]
    for i, p in enumerate(pids):
        exact = p * block_m * stride
        marks = ["" if cols[m][i] == exact else " ✗" for m in cols]
        lines.append(f"{p:>6,} {exact:>16,} " + " ".join(f"{cols[m][i]:>14,}{mk:<2}"
                                                          for m, mk in zip(cols, marks)))
    return "\n".join(lines)


def ttir_of_colmajor(index: str) -> str:
    """GPU only: compile the colmajor kernel for `index` and return its TTIR text. The arguments are
    the launcher's own (kernels.colmajor.kernel_args), so this follows the kernel's signature."""
    from kernels import colmajor
    from kernels.reference import FP8, mn_major
    m, n = 128, 256
    x = torch.randn(m, n, device="cuda", dtype=torch.bfloat16)
    q = torch.empty(m, n // 2, device="cuda", dtype=FP8)
    s = mn_major(m, n // 256, torch.float32, "cuda")
    args = colmajor.kernel_args(m, n, eps=1e-10, index=index, block_m=8, groups=1, use_ue8m0=False)
    grid = (m // 8 * args["col_blocks"],)       # the 1-D tile grid: row blocks x column blocks
    compiled = colmajor.silu_mul_fp8_colmajor_kernel[grid](x_ptr=x, q_ptr=q, s_ptr=s, **args)
    torch.cuda.synchronize()
    return compiled.asm["ttir"]


def grep_ir(text: str, words=("get_program_id", "arith.extsi", "arith.muli")) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if any(w in ln for w in words)]
