"""Which tier runs the kernels: a real GPU, or Triton's CPU interpreter (the CPU tier).

Decided once, at ``import kernels``, because ``TRITON_INTERPRET`` is read when ``@triton.jit``
decorates a kernel. With no CUDA device and no explicit ``TRITON_INTERPRET`` we choose the
interpreter. ``KERNELS_RAW_INTERPRETER=1`` skips the rounding correction (lesson demos only).
"""
from __future__ import annotations

import os
import sys

import torch

if "TRITON_INTERPRET" not in os.environ and not torch.cuda.is_available():
    if "triton" in sys.modules:
        # triton.language's own @jit helpers (tl.max, tl.zeros, ...) were already built for a GPU;
        # every kernel would then fail with "Cannot call @triton.jit'd outside of the scope".
        raise ImportError(
            "No GPU here, so kernels runs Triton's CPU interpreter, which must be switched on before "
            "triton is imported. Import kernels before triton (restart the kernel/interpreter), or "
            "start Python with TRITON_INTERPRET=1 in the environment.")
    os.environ["TRITON_INTERPRET"] = "1"

INTERPRETED: bool = os.environ.get("TRITON_INTERPRET", "0") == "1"
CORRECTED: bool = INTERPRETED and os.environ.get("KERNELS_RAW_INTERPRETER", "0") != "1"
DEVICE: str = "cpu" if INTERPRETED else "cuda"

if INTERPRETED:
    # PyTorch's CPU exp was seen off by ~1.5e-4 in fresh 2-thread processes; one thread is exact.
    torch.set_num_threads(1)
if CORRECTED:
    from .interp import enable_gpu_rounding

    enable_gpu_rounding()


def describe() -> str:
    if not INTERPRETED:
        p = torch.cuda.get_device_properties(0)
        return f"GPU tier: {p.name} (sm_{p.major}{p.minor}), torch {torch.__version__}"
    fix = "GPU rounding on" if CORRECTED else "RAW interpreter, casts differ from the GPU"
    return f"CPU tier: Triton interpreter ({fix}), torch {torch.__version__}"
