"""Lesson 00's fp8 canary stores through the kernels' own fp8 store (kernels.fp8.store_e4m3), so it
compiles for every target the kernels compile for and gives the tie on either path.

Before, the canary cast with ``x.to(tl.float8e4nv)``: Triton 3.6 refuses that type below sm_89, so the
doctor reported "NOT READY" on a T4, an A100 or an RTX 30xx, where the kernels themselves run.
"""
from __future__ import annotations

import pytest

from conftest import run_python

# compiled in a child with TRITON_INTERPRET=0 (this process has the interpreter on), as kernels.compile does
COMPILE = """
import sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from course import doctor
from kernels import fp8
cap = int(sys.argv[1])
path, _ = fp8.choose((cap // 10, cap % 10))
software = path == "software"
sig = {"x_ptr": "*fp32", "out_ptr": "*u8" if software else "*fp8e4nv", "n": "i32",
       "BLOCK": "constexpr", "SOFTWARE": "constexpr"}
triton.compile(ASTSource(doctor.canary_fp8_kernel, sig, {"BLOCK": 2, "SOFTWARE": software}),
               target=GPUTarget("cuda", cap, 32))
print(path)
"""


@pytest.mark.parametrize("cap, path", [(75, "software"), (80, "software"), (86, "software"), (90, "hardware")])
def test_fp8_canary_compiles_for_every_target(cap, path):
    r = run_python(COMPILE, env={"TRITON_INTERPRET": "0", "CUDA_VISIBLE_DEVICES": ""}, args=[str(cap)])
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == [path]


@pytest.mark.parametrize("fp8_path", ["auto", "software"])
def test_fp8_canary_rounds_the_tie_to_even_on_either_path(fp8_path):
    r = run_python("from course import doctor; print(*doctor.canary_fp8_tie())",
                   env={"CUDA_VISIBLE_DEVICES": "", "TRITON_INTERPRET": "1", "KERNELS_FP8_PATH": fp8_path})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["1.0", "1.0"]
