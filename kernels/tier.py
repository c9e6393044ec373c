"""Which tier runs the kernels: a real GPU, or Triton's CPU interpreter (the CPU tier).

Decided once, at ``import kernels``, because ``TRITON_INTERPRET`` is read when ``@triton.jit``
decorates a kernel. With no CUDA device and no ``TRITON_INTERPRET`` in the environment we choose the
interpreter. ``TRITON_INTERPRET`` is read the way Triton 3.6 reads it (:func:`env_flag`), so
``TRITON_INTERPRET=0`` on a machine without a GPU gives the third state, ``KIND == "none"``:
kernels can be compiled for any GPU (``python -m kernels compile``) but not launched.

Every CUDA GPU gets the GPU tier: below sm_89, which has no fp8 conversion instruction, the kernels
encode fp8 in software (kernels.fp8; :func:`fp8_path` says which path and why).

``KERNELS_RAW_INTERPRETER=1`` skips the interpreter's rounding correction (lesson demos only):
:data:`RAW_INTERPRETER` is then True and :func:`raw_notice` returns the warning every place that
judges results must show. On the CPU tier PyTorch runs on one thread for the whole process (see
:data:`THREADS_NOTE`).
"""
from __future__ import annotations

import os
import sys

import torch

# Triton 3.6 reads TRITON_INTERPRET with getenv_bool (C++, triton._C.libtriton): exactly these
# values, in any case, are true; anything else ("0", "", "false", "2", " 1") is false.
# tests/test_tier.py checks this table against triton's own getenv_bool.
TRUE_VALUES = ("1", "true", "yes", "y", "on")


def env_flag(value: str | None) -> bool:
    """True where Triton 3.6 treats the environment value as on."""
    return value is not None and value.lower() in TRUE_VALUES


_HAS_CUDA = torch.cuda.is_available()
if "TRITON_INTERPRET" not in os.environ and not _HAS_CUDA:
    if "triton" in sys.modules:
        # triton.language's own @jit helpers (tl.max, tl.zeros, ...) were already built for a GPU;
        # every kernel would then fail with "Cannot call @triton.jit'd outside of the scope".
        raise ImportError(
            "No GPU here, so kernels runs Triton's CPU interpreter, which must be switched on before "
            "triton is imported. Import kernels before triton (restart the kernel/interpreter), or "
            "start Python with TRITON_INTERPRET=1 in the environment.")
    os.environ["TRITON_INTERPRET"] = "1"

INTERPRETED: bool = env_flag(os.environ.get("TRITON_INTERPRET"))
CORRECTED: bool = INTERPRETED and os.environ.get("KERNELS_RAW_INTERPRETER", "0") != "1"
RAW_INTERPRETER: bool = INTERPRETED and not CORRECTED
# "cpu": the interpreter; "gpu": a CUDA device; "none": TRITON_INTERPRET is off and there is no
# CUDA device, so kernels compile (python -m kernels compile) but cannot launch.
KIND: str = "cpu" if INTERPRETED else ("gpu" if _HAS_CUDA else "none")
DEVICE: str = "cpu" if INTERPRETED else "cuda"

THREADS_NOTE = ("CPU tier: import kernels set torch.set_num_threads(1) for this whole process (PyTorch's "
                "CPU exp was seen off by ~1.5e-4 in fresh 2-thread processes, and the references "
                "must be bit-exact); call torch.set_num_threads(n) after importing to change it.")

if INTERPRETED:
    # PyTorch's CPU exp was seen off by ~1.5e-4 in fresh 2-thread processes; one thread is exact.
    # It must hold for the kernels and the references alike, so it is process-wide (THREADS_NOTE).
    torch.set_num_threads(1)
if CORRECTED:
    from .interp import enable_gpu_rounding

    enable_gpu_rounding()


def raw_notice() -> str:
    """A loud line (ending in a newline) when results are judged on the raw interpreter, else ""."""
    if not RAW_INTERPRETER:
        return ""
    return ("⚠️ KERNELS_RAW_INTERPRETER=1: the interpreter's own fp8/bf16 casts are on, so the kernels "
            "round differently from the GPU and the references (about 7 % of codes). A mismatch "
            "below says nothing about your code: unset KERNELS_RAW_INTERPRETER and restart.\n")


def capability() -> tuple[int, int] | None:
    """The compute capability of the current CUDA device on the GPU tier, else None."""
    if KIND != "gpu":
        return None
    return tuple(torch.cuda.get_device_capability())


def fp8_path(cap: tuple[int, int] | None = None) -> tuple[str, str]:
    """("hardware" | "software", why) for this machine (or for a given capability)."""
    from . import fp8
    return fp8.choose(cap if cap is not None else capability())


def describe() -> str:
    if KIND == "gpu":
        p = torch.cuda.get_device_properties(0)
        path, _ = fp8_path()
        return (f"GPU tier: {p.name} (sm_{p.major}{p.minor}), fp8 conversion: {path}, "
                f"torch {torch.__version__}")
    if KIND == "none":
        return (f"no tier: TRITON_INTERPRET={os.environ.get('TRITON_INTERPRET')!r} turns Triton's "
                "interpreter off and there is no CUDA device, so kernels can be compiled "
                "(python -m kernels compile) but not run. Unset TRITON_INTERPRET (or set it to 1) "
                "for the CPU tier.")
    fix = "GPU rounding on" if CORRECTED else "RAW interpreter, casts differ from the GPU"
    return f"CPU tier: Triton interpreter ({fix}), torch {torch.__version__}, 1 torch thread"
