"""What the kernels' UE8M0 math compiles to on a Hopper GPU (sm_90), checked without a GPU.

Lesson 05 says it: Triton 3.6 lowers `tl.log2` (fp32) to libdevice's `__nv_log2f`, a sequence of
ordinary fp32 FMAs, not the approximate special-function instruction `lg2.approx.f32`; `tl.exp2` to
`ex2.approx.ftz.f32`; `tl.ceil` to `cvt.rpi.ftz.f32.f32`. kernels.gpu_math says what `tl.exp(-g)`
becomes (`0 - g`, a multiply by fp32 log2 e, the non-flushing `ex2.approx.f32`: a probe kernel here)
and that the kernels' GPU spelling of silu's exp is one multiply by -log2 e and the flushing ex2,
with no clamp to +-448 before the fp8 cast. Compiled here for sm_90 exactly as the launchers would
call both kernels (UE8M0 scales), in a child process with the interpreter off.
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
import triton.language as tl
from kernels.colmajor import silu_mul_fp8_colmajor_kernel
from kernels.packed import silu_mul_fp8_packed_kernel
from kernels.bench import PLAIN, kernel_variant


@triton.jit
def exp_probe(x_ptr, e_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(e_ptr + offs, tl.exp(-tl.load(x_ptr + offs)))


def facts(ptx):
    return {"ops": sorted(set(re.findall(r"\b(?:lg2|ex2|cvt\.rp[a-z]*)\.[a-z0-9.]+", ptx))),
            "nv_log2f": "__nv_log2f" in ptx,
            "sub_from_zero": bool(re.search(r"sub\.f32\s+%r\d+, 0f00000000, %r\d+;", ptx) or re.search(
                r"mov\.b32\s+(%r\d+), 0f00000000;[\s\S]*sub\.f32\s+%r\d+, \1, %r\d+;", ptx)),
            "mul_log2e": "0f3FB8AA3B" in ptx, "mul_neg_log2e": "0fBFB8AA3B" in ptx,
            "clamp_448": bool(re.search(r"(?:min|max)\.f32[^;]*0f[4C]3E00000", ptx))}


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
    out[name] = facts(ptx)
    # the kernel as kernels.bench.PLAIN rebuilds it (the "before" of lesson 09's comparisons)
    base = "packed" if name == "packed" else "colmajor"
    plain = kernel_variant(inspect.getmodule(k), k.__name__, *PLAIN[base], "plain")
    ptx = triton.compile(ASTSource(plain, sig, cst), target=GPUTarget("cuda", 90, 32)).asm["ptx"]
    out[name + " plain"] = facts(ptx)
probe = ASTSource(exp_probe, {"x_ptr": "*fp32", "e_ptr": "*fp32", "BLOCK": "constexpr"}, {"BLOCK": 128})
out["tl.exp(-x)"] = facts(triton.compile(probe, target=GPUTarget("cuda", 90, 32)).asm["ptx"])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def ptx_math(tmp_path_factory) -> dict:
    child = tmp_path_factory.mktemp("ptx") / "child.py"   # @triton.jit needs its source in a file
    child.write_text(CHILD)
    r = run_python("import runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__')",
                   env={"TRITON_INTERPRET": "0", "CUDA_VISIBLE_DEVICES": ""}, timeout=600,
                   args=[str(child)])
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kernel", ["colmajor", "packed"])
def test_log2_is_libdevice_not_lg2_approx(ptx_math, kernel):
    got = ptx_math[kernel]
    assert got["nv_log2f"], got
    assert not any(op.startswith("lg2.") for op in got["ops"]), got


@pytest.mark.parametrize("kernel", ["colmajor", "packed"])
def test_exp2_and_ceil_instructions_and_no_plain_exp(ptx_math, kernel):
    ops = set(ptx_math[kernel]["ops"])
    assert {"ex2.approx.ftz.f32", "cvt.rpi.ftz.f32.f32"} <= ops, ops
    # silu's exp is the GPU spelling (kernels.gpu_math): a multiply by -log2 e, no non-flushing ex2
    # (log2e itself and 0 - x still occur: in libdevice's log2f and in the UE8M0 step's 2**-e)
    assert "ex2.approx.f32" not in ops, ops
    assert ptx_math[kernel]["mul_neg_log2e"], ptx_math[kernel]


@pytest.mark.parametrize("kernel", ["colmajor", "packed"])
def test_no_clamp_to_448_before_the_cast_on_the_gpu(ptx_math, kernel):
    assert not ptx_math[kernel]["clamp_448"], ptx_math[kernel]


@pytest.mark.parametrize("kernel", ["colmajor", "packed"])
def test_plain_variant_is_upstreams_spelling(ptx_math, kernel):
    """kernels.bench.PLAIN must rebuild the kernel as it was: tl.exp (non-flushing ex2, no multiply by
    -log2 e) and the clamp before the cast. Otherwise the *_plain timings and sass_counts' "plain"
    column would compare the kernel with itself."""
    got = ptx_math[kernel + " plain"]
    assert "ex2.approx.f32" in got["ops"] and not got["mul_neg_log2e"], got
    assert got["clamp_448"], got


def test_what_tl_exp_of_minus_x_becomes(ptx_math):
    """The plain spelling kernels.gpu_math replaces: 0 - x, times fp32 log2 e, non-flushing ex2."""
    got = ptx_math["tl.exp(-x)"]
    assert got["ops"] == ["ex2.approx.f32"], got
    assert got["mul_log2e"] and got["sub_from_zero"], got
