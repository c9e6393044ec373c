"""Lesson 07, the fix: the int32 wrap probed without touching memory, and the compiled TTIR (GPU).
"""
from __future__ import annotations

import inspect

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
    """GPU only: compile the colmajor kernel for `index` and return its TTIR text.

    Runtime arguments are matched by name against the kernel's signature, so this keeps working
    when the kernel gains or loses an argument.
    """
    from kernels.colmajor import silu_mul_fp8_colmajor_kernel as k
    from kernels.reference import FP8, mn_major
    m, n = 128, 256
    x = torch.randn(m, n, device="cuda", dtype=torch.bfloat16)
    q = torch.empty(m, n // 2, device="cuda", dtype=FP8)
    s = mn_major(m, n // 256, torch.float32, "cuda")
    known = {"x_ptr": x, "q_ptr": q, "s_ptr": s, "M": m, "N": n, "half": n // 2,
             "s_stride": s.stride(1), "eps": 1e-10, "col_blocks": n // 256, "BLOCK_M": 8, "GROUPS": 1,
             "USE_UE8M0": False, "INDEX_64": index == "int64"}
    names = list(inspect.signature(k.fn).parameters)
    missing = [p for p in names if p not in known]
    if missing:
        raise RuntimeError(f"ttir_of_colmajor does not know the kernel arguments {missing}")
    # a 1-D grid of tiles when the kernel takes col_blocks, else (row blocks, column blocks)
    grid = (m // 8 * (n // 256),) if "col_blocks" in names else (m // 8, n // 256)
    compiled = k[grid](**{p: known[p] for p in names})
    torch.cuda.synchronize()
    return compiled.asm["ttir"]


def grep_ir(text: str, words=("get_program_id", "arith.extsi", "arith.muli")) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if any(w in ln for w in words)]
