"""Shared helpers for the kernels test suite.

* Tests marked ``gpu`` are skipped, with a reason, when there is no CUDA device (or when the kernels
  were forced onto the interpreter with TRITON_INTERPRET=1 although a GPU exists). The same skip is
  available as the ``requires_gpu`` fixture for tests that prefer to ask for it explicitly.
* ``TIER`` is the comparison rule of kernels.compare for this machine: "cpu" (interpreter with GPU
  rounding: everything identical) or "gpu" (one-step fp8 differences at a tiny rate).
* Inputs are made on the CPU from a seeded generator and then moved to kernels.tier.DEVICE, so the
  same seed gives the same values on both tiers.
* Tests never read or write a learner's progress: unless the caller chose one (``make test`` does),
  the session gets a progress file of its own, which nbval's kernels inherit too.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zlib

import pytest
import torch

import kernels  # noqa: F401  (picks the tier before anything defines a @triton.jit kernel)
from kernels import tier

if not os.environ.get("COURSE_PROGRESS_FILE"):
    os.environ["COURSE_PROGRESS_FILE"] = os.path.join(tempfile.mkdtemp(prefix="course-tests-"), "progress.json")

TIER = "cpu" if tier.INTERPRETED else "gpu"   # the rule name kernels.compare.compare(tier=...) takes
DEVICE = tier.DEVICE
HAS_CUDA = torch.cuda.is_available()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def gpu_skip_reason() -> str | None:
    """Why gpu-marked tests cannot run here, or None when they can."""
    if not HAS_CUDA:
        return "needs a CUDA GPU: torch.cuda.is_available() is False (CPU tier)"
    if tier.INTERPRETED:
        return "a CUDA GPU exists but TRITON_INTERPRET=1 put the kernels on the CPU interpreter"
    return None


def pytest_collection_modifyitems(config, items):
    reason = gpu_skip_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def requires_gpu():
    """Skip (with the reason) unless the kernels run on a real CUDA GPU."""
    reason = gpu_skip_reason()
    if reason is not None:
        pytest.skip(reason)


def seed_of(text: str) -> int:
    """A stable seed derived from a string (e.g. a test id), the same in every process."""
    return zlib.crc32(text.encode())


def generator(seed: int) -> torch.Generator:
    """A CPU generator with a fixed seed (inputs are generated on the CPU on every tier)."""
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def gen(request) -> torch.Generator:
    """A generator seeded from the test's node id: each parametrized case differs, reproducibly."""
    return generator(seed_of(request.node.nodeid))


def make_x(m: int, n: int, dtype: torch.dtype = torch.bfloat16, seed: int = 0,
           scale: float = 1.0, device: str | None = None) -> torch.Tensor:
    """A seeded [m, n] input, N(0, scale^2), made on the CPU and moved to the kernels' device."""
    x = torch.randn(m, n, generator=generator(seed), dtype=torch.float32) * scale
    return x.to(dtype).to(device or DEVICE)


def on_device(t: torch.Tensor) -> torch.Tensor:
    return t.to(DEVICE)


def run_python(code: str, env: dict | None = None, timeout: float = 300.0,
               args: list[str] | None = None) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter of this venv (the repository on its path)."""
    full = dict(os.environ)
    full["PYTHONPATH"] = ROOT + os.pathsep + full.get("PYTHONPATH", "")
    for k, v in (env or {}).items():
        if v is None:
            full.pop(k, None)
        else:
            full[k] = v
    return subprocess.run([sys.executable, "-c", code, *(args or [])], capture_output=True,
                          text=True, timeout=timeout, env=full, cwd=ROOT)


def cpu_tier_env() -> dict:
    """Environment that forces a child process onto the CPU tier (interpreter, corrected)."""
    return {"CUDA_VISIBLE_DEVICES": "", "TRITON_INTERPRET": "1", "KERNELS_RAW_INTERPRETER": None}


@pytest.fixture
def fixed_tiles(monkeypatch):
    """Launchers resolve the fixed (CPU-tier) tile on every tier: for tests whose expectations are
    written for that tile (a GPU otherwise takes its recorded tile, kernels.tiles)."""
    from kernels import plan, tiles
    monkeypatch.setattr(tiles, "_resolve_tuple", lambda kernel, *a: tiles._cpu_tuple(kernel))
    plan.invalidate()   # launch plans made before hold the resolved tiles
    yield
    plan.invalidate()


def model_first_unsafe(kernel, n, index, rows_axis=0, block_m=8, gpp=1):
    """The first M the analysis calls unsafe (its own verdict, found by bisection on analyze): the
    model's claim, which the brute force (test_offsets) and the GPU (test_kernels_gpu) test."""
    from kernels.offsets import analyze
    lo, hi = 1, 2**33
    while lo < hi:
        mid = (lo + hi) // 2
        if analyze(kernel, mid, n, index, rows_axis, block_m, gpp).safe:
            lo = mid + 1
        else:
            hi = mid
    return lo
