"""The environment doctor (lesson 00, ``python -m kernels doctor``): what this machine will run.

Reports the tier, the GPU and its compute capability, which fp32->fp8 conversion the kernels use and
why (kernels.fp8), which input dtype the live demos use and why, and which live demos fit in the free
GPU memory. The crash demo always keeps M = 524,416 rows (the first MoE-aligned M at which the
col-major kernel's int32 offsets wrap for N = 4,096); only N is chosen by memory.
"""
from __future__ import annotations

import functools
import platform

import torch

from . import tier

DEMO_M = 524_416
DEMO_NS = (8_192, 4_096)       # both wrap at M = 524,416 (4,096 is the smallest multiple of 256 that does)
MARGIN = 1 << 30               # CUDA context, Triton, allocator slack (an estimate, not a measurement)
NEIGHBOUR_GIB = 6              # kernels.repro's default neighbour buffer (silent-corruption demo)
GIB = float(1 << 30)


def demo_bytes(m: int, n: int, dtype_bytes: int = 2) -> int:
    """Device bytes one repro launch holds: x [m, n], q [m, n/2] fp8, fp32 scales (the larger layout)."""
    groups = n // 256
    return m * n * dtype_bytes + m * (n // 2) + (-(-m // 4) * 4) * groups * 4


def demo_shape(free_bytes: int, dtype_bytes: int = 2) -> tuple[int, int] | None:
    """(M, N) for the live crash: M = 524,416 and the largest N of DEMO_NS that fits, else None."""
    for n in DEMO_NS:
        if demo_bytes(DEMO_M, n, dtype_bytes) + MARGIN <= free_bytes:
            return DEMO_M, n
    return None


def input_dtype(arch: int | None = None) -> tuple[torch.dtype, str]:
    """(dtype, why) for the live demos' input on this GPU (or compute capability `arch`, e.g. 75).

    bf16 from sm_80 (native); below, bf16 if Triton compiles every kernel mode with bf16 input for
    the target (kernels.compile, a few seconds; Triton converts bf16 with integer code there), fp16
    otherwise -- the overflow is the same, the offsets do not depend on the element type.
    """
    if arch is None:
        cap = tier.capability()
        if cap is None:
            return torch.bfloat16, "CPU tier: the interpreter handles bf16 (kernels convert it to fp32)"
        arch = cap[0] * 10 + cap[1]
    return _input_dtype(arch)


@functools.cache
def _input_dtype(arch: int) -> tuple[torch.dtype, str]:
    if arch >= 80:
        return torch.bfloat16, f"sm_{arch} has native bf16"
    from .compile import check, failures
    rows = check([arch], dtypes=("bf16",), jobs=1)
    bad = failures(rows)
    if bad:
        return torch.float16, (f"Triton cannot compile the kernels with bf16 input for sm_{arch} "
                               f"({bad[0].reason}); the demos use fp16, the overflow is the same")
    return torch.bfloat16, (f"sm_{arch} has no native bf16 (sm_80+), but every kernel mode compiles "
                            "with bf16 input there (Triton converts bf16 with integer code)")


def cpu_fp8(path: str, why: str) -> tuple[str, str]:
    """(label, why) of the fp32->fp8 conversion on the CPU tier, named for what runs there.

    kernels.fp8 calls Triton's own cast "hardware" because that is what it compiles to on a GPU
    (cvt.rn.satfinite, sm_89+); in the interpreter no fp8 hardware is involved: the cast is numpy
    code, and only kernels/interp.py makes it round like the GPU (unless KERNELS_RAW_INTERPRETER=1).
    """
    if path == "software":
        return "software: the integer encoder (kernels/fp8.py), run by the interpreter", why
    if tier.CORRECTED:
        return ("interpreter: Triton's cast, corrected to round like the GPU (kernels/interp.py)",
                "CPU tier, no GPU: the interpreter's own fp32->fp8 cast rounds some values wrongly "
                "(lesson 03), so kernels/interp.py converts through PyTorch instead, round to nearest "
                "even with the GPU's saturation at +-448")
    return ("interpreter: Triton's raw cast, NOT the GPU's rounding (KERNELS_RAW_INTERPRETER=1)",
            "CPU tier with the correction off: ties, subnormals and values above 448 come out "
            "differently from a GPU (lesson 03); unset KERNELS_RAW_INTERPRETER")


def report() -> dict:
    import triton
    r = {"tier": tier.KIND, "summary": tier.describe(), "python": platform.python_version(),
         "torch": torch.__version__, "triton": triton.__version__}
    if tier.KIND == "cpu":
        path, why = cpu_fp8(*tier.fp8_path())
        r.update(fp8_path=path, fp8_why=why, threads=tier.THREADS_NOTE,
                 raw_interpreter=tier.RAW_INTERPRETER, live_demo="needs a CUDA GPU: the lessons "
                 "show what an H100/H200 printed (results/gpu/)")
        if tier.RAW_INTERPRETER:
            r["warning"] = tier.raw_notice().strip()
        return r
    if tier.KIND == "none":
        r["live_demo"] = "no CUDA device and TRITON_INTERPRET is off: nothing can launch"
        return r
    p = torch.cuda.get_device_properties(0)
    free, total = torch.cuda.mem_get_info()
    path, why = tier.fp8_path()
    dtype, dtype_why = input_dtype()
    shape = demo_shape(free, dtype.itemsize)
    r.update(gpu=p.name, capability=f"sm_{p.major}{p.minor}", memory_total_gib=round(total / GIB, 1),
             memory_free_gib=round(free / GIB, 1), fp8_path=path, fp8_why=why,
             input_dtype=str(dtype).replace("torch.", ""), input_dtype_why=dtype_why)
    need = demo_bytes(DEMO_M, DEMO_NS[-1], dtype.itemsize) + MARGIN
    if shape is None:
        r["live_demo"] = (f"does not fit: M = {DEMO_M:,}, N = {DEMO_NS[-1]:,} needs about "
                          f"{need / GIB:.1f} GiB, {free / GIB:.1f} GiB free; the lessons show the "
                          "recorded output instead")
        r["demo_shape"] = None
        return r
    m, n = shape
    need = demo_bytes(m, n, dtype.itemsize) + MARGIN
    r["demo_shape"] = [m, n]
    r["live_demo"] = (f"fits: M = {m:,}, N = {n:,} ({dtype}) needs about {need / GIB:.1f} GiB of "
                      f"{free / GIB:.1f} GiB free")
    # the silent-corruption demo runs at N = 4,096 with a 6 GiB buffer next to x (kernels.repro)
    with_neighbour = demo_bytes(DEMO_M, DEMO_NS[-1], dtype.itemsize) + MARGIN + (NEIGHBOUR_GIB << 30)
    r["silent_corruption_demo"] = (
        f"{'fits' if with_neighbour <= free else 'does not fit'}: N = {DEMO_NS[-1]:,} and a "
        f"{NEIGHBOUR_GIB} GiB neighbour buffer need about {with_neighbour / GIB:.1f} GiB")
    return r


LABELS = (("summary", "tier"), ("gpu", "GPU"), ("capability", "compute capability"),
          ("memory_free_gib", "free memory (GiB)"), ("fp8_path", "fp8 conversion"), ("fp8_why", "  why"),
          ("input_dtype", "demo input dtype"), ("input_dtype_why", "  why"),
          ("live_demo", "live crash demo"), ("silent_corruption_demo", "silent-corruption demo"),
          ("threads", "threads"), ("warning", "WARNING"), ("python", "python"), ("torch", "torch"),
          ("triton", "triton"))


def text(r: dict | None = None, versions: bool = True) -> str:
    """The report as aligned lines; versions=False leaves out python/torch/triton (already shown
    elsewhere, and they differ between machines)."""
    r = report() if r is None else r
    skip = () if versions else ("python", "torch", "triton")
    return "\n".join(f"{label:<24} {r[key]}" for key, label in LABELS
                     if r.get(key) is not None and key not in skip)
