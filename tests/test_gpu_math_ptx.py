"""What the kernels' UE8M0 math compiles to on a Hopper GPU (sm_90), checked without a GPU.

Lesson 05 says it: Triton 3.6 lowers `tl.log2` (fp32) to libdevice's `__nv_log2f`, a sequence of
ordinary fp32 FMAs, not the approximate special-function instruction `lg2.approx.f32`; `tl.exp2` to
`ex2.approx.ftz.f32`; `tl.exp` to `ex2.approx.f32` (after a multiply by log2 e); `tl.ceil` to
`cvt.rpi.ftz.f32.f32`. Compiled here for sm_90 exactly as the launchers would call both kernels
(UE8M0 scales), in a child process with the interpreter off.
"""
from __future__ import annotations

import json

import pytest

from conftest import run_python

CHILD = r"""
import inspect, json, re
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from kernels.colmajor import silu_mul_fp8_colmajor_kernel
from kernels.packed import silu_mul_fp8_packed_kernel

FLOATS = ("eps", "clamp_limit")
KERNELS = {
    "colmajor": (silu_mul_fp8_colmajor_kernel, {"BLOCK_M": 8, "GROUPS": 8, "USE_UE8M0": True, "INDEX_64": True}),
    "packed": (silu_mul_fp8_packed_kernel, {"BLOCK_M": 8, "ROWS_ON_AXIS0": True, "INDEX_64": True}),
}
out = {}
for name, (k, const) in KERNELS.items():
    sig, cst = {}, {}
    for p in k.params:
        if p.is_constexpr:
            v = const.get(p.name, p.default)
            assert v is not inspect.Parameter.empty, f"no value for compile-time argument {p.name}"
            sig[p.name], cst[p.name] = "constexpr", v
        elif p.name.endswith("_ptr"):
            sig[p.name] = {"x_ptr": "*bf16", "q_ptr": "*fp8e4nv"}.get(p.name, "*i32" if name == "packed" else "*fp32")
        else:
            sig[p.name] = "fp32" if p.name in FLOATS else "i32"
    ptx = triton.compile(ASTSource(k, sig, cst), target=GPUTarget("cuda", 90, 32)).asm["ptx"]
    out[name] = {"ops": sorted(set(re.findall(r"\b(?:lg2|ex2|cvt\.rp[a-z]*)\.[a-z0-9.]+", ptx))),
                 "nv_log2f": "__nv_log2f" in ptx}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def ptx_math() -> dict:
    r = run_python(CHILD, env={"TRITON_INTERPRET": "0", "CUDA_VISIBLE_DEVICES": ""}, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kernel", ["colmajor", "packed"])
def test_log2_is_libdevice_not_lg2_approx(ptx_math, kernel):
    got = ptx_math[kernel]
    assert got["nv_log2f"], got
    assert not any(op.startswith("lg2.") for op in got["ops"]), got


@pytest.mark.parametrize("kernel", ["colmajor", "packed"])
def test_exp2_exp_and_ceil_instructions(ptx_math, kernel):
    ops = set(ptx_math[kernel]["ops"])
    assert {"ex2.approx.ftz.f32", "ex2.approx.f32", "cvt.rpi.ftz.f32.f32"} <= ops, ops
