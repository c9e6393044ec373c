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
from kernels.bench import PLAIN, group_loop, kernel_variant


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
            "clamp_448": bool(re.search(r"(?:min|max)\.f32[^;]*0f[4C]3E00000", ptx)),
            "bf16x2": "cvt.rn.bf16x2.f32" in ptx, "bf16_one": bool(re.search(r"cvt\.rn\.bf16\.f32\s", ptx))}


FLOATS = ("eps", "clamp_limit")
PACKED = {"BLOCK_M": 8, "ROWS_ON_AXIS0": True, "INDEX_64": True}
KERNELS = {
    "colmajor": (silu_mul_fp8_colmajor_kernel, {"BLOCK_M": 8, "GROUPS": 8, "USE_UE8M0": True, "INDEX_64": True}),
    "packed": (silu_mul_fp8_packed_kernel, PACKED),
    # upstream's loop over the groups (kernels.bench.group_loop): lesson 09 times it against the kernel,
    # so it must carry the kernel's spelling
    "packed group_loop": (kernel_variant(inspect.getmodule(silu_mul_fp8_packed_kernel),
                                         "silu_mul_fp8_packed_kernel", *group_loop(), "group_loop"), PACKED),
    # the software fp8 path (GPUs below sm_89): the paired rounding is asked for only with hardware fp8
    "packed software fp8": (silu_mul_fp8_packed_kernel, {**PACKED, "SOFTWARE_FP8": True}),
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
            sig[p.name] = {"x_ptr": "*bf16", "q_ptr": "*u8" if const.get("SOFTWARE_FP8") else "*fp8e4nv"}.get(
                p.name, "*i32" if name.startswith("packed") else "*fp32")
        else:
            sig[p.name] = "fp32" if p.name in FLOATS else "i32"
    ptx = triton.compile(ASTSource(k, sig, cst), target=GPUTarget("cuda", 90, 32)).asm["ptx"]
    out[name] = facts(ptx)
    if name not in ("colmajor", "packed"):
        continue
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


def test_packed_rounds_two_values_per_conversion_where_fp8_is_in_hardware(ptx_math):
    """kernels.gpu_math.round_bf16: the kernel (hardware fp8, sm_89+) rounds with cvt.rn.bf16x2.f32 and
    no one-value cvt; upstream's spelling (bench.PLAIN) and the software-fp8 path (GPUs below sm_89,
    where the instruction may not exist) use the one-value cvt and never the paired one."""
    assert ptx_math["packed"]["bf16x2"] and not ptx_math["packed"]["bf16_one"], ptx_math["packed"]
    for name in ("packed plain", "packed software fp8"):
        assert ptx_math[name]["bf16_one"] and not ptx_math[name]["bf16x2"], (name, ptx_math[name])


def test_group_loop_variant_has_the_kernels_spelling(ptx_math):
    """Lesson 09 times kernels.bench.group_loop() against the kernel as a change of structure only: it
    must compile to the same spelling (exp as a multiply by -log2 e, no clamp, the paired rounding)."""
    want = {k: ptx_math["packed"][k] for k in ("mul_neg_log2e", "clamp_448", "bf16x2", "bf16_one")}
    got = {k: ptx_math["packed group_loop"][k] for k in want}
    assert got == want, (got, want)
    assert "ex2.approx.f32" not in ptx_math["packed group_loop"]["ops"]


def _as_f32(bits: int):
    """A one-element fp32 tensor with these 32 bits (an unsigned int in [0, 2**32))."""
    import torch
    return torch.tensor([bits], dtype=torch.int64).to(torch.int32).view(torch.float32)


def _run_paired_bf16_ptx(asm: str, constraints: str, a0: int, a1: int) -> tuple[int, int]:
    """kernels.gpu_math's inline PTX for two fp32 inputs (bit patterns), run by the rules it relies on:
    - Triton's inline_asm_elementwise with pack=2 and one input: operands $0, $1 are the outputs for
      elements i, i + 1, then $2, $3 the inputs for the same two elements (its docstring's numbering);
    - the PTX ISA's cvt: "the value converted from input a is stored in the upper half of d and the
      value converted from input b is stored in the lower half of d"; .rn rounds to nearest even.
    The conversion itself is torch's fp32 -> bf16 cast, independent of the kernel. An instruction
    outside this model (another rounding mode, another type) fails the test."""
    import torch

    def bf16_rn(bits: int) -> int:
        return int(_as_f32(bits).to(torch.bfloat16).view(torch.int16).item()) & 0xFFFF

    assert constraints == "=r,=r,r,r", constraints
    regs = {"$2": a0, "$3": a1}
    body = asm.strip()
    assert body.startswith("{") and body.endswith("}"), body
    for ins in (s.strip() for s in body[1:-1].split(";")):
        if not ins or ins.startswith(".reg .b32"):
            continue
        op, args = ins.split(None, 1)
        d, *src = [t.strip() for t in args.split(",")]
        val = [regs[t] if t in regs else int(t, 0) for t in src]
        if op == "cvt.rn.bf16x2.f32":
            regs[d] = (bf16_rn(val[0]) << 16) | bf16_rn(val[1])
        elif op == "shl.b32":
            regs[d] = (val[0] << val[1]) & 0xFFFFFFFF
        elif op == "and.b32":
            regs[d] = val[0] & val[1]
        else:
            raise AssertionError(f"{op}: not an instruction this model knows")
    return regs["$0"], regs["$1"]


def test_paired_bf16_ptx_rounds_each_element_in_its_own_lane():
    """Without a GPU: the asm text of kernels.gpu_math.round_bf16, run through the PTX manual's cvt rule
    and Triton's operand numbering, gives each element its own round-to-nearest-even bf16 value (a
    swapped pair of operands or outputs, or another rounding mode, fails here). On a GPU,
    scripts/gpu_spelling_proof.py compares the compiled instruction on all 2**32 patterns."""
    import torch

    from kernels import gpu_math
    special = [0x00000000, 0x80000000, 0x3F808000, 0x3F818000, 0x3F80FFFF, 0x7F7FFFFF, 0xFF7FFFFF,
               0x7F800000, 0xFF800000, 0x00000001, 0x00008000, 0x00018000, 0x807FFFFF, 0x4B7FFF80]
    rand = torch.randint(0, 2**32, (2_000,), generator=torch.Generator().manual_seed(0),
                         dtype=torch.int64).tolist()
    values = special + rand
    pairs = list(zip(values, values[1:] + values[:1]))
    for a0, a1 in pairs:
        got = _run_paired_bf16_ptx(gpu_math.PAIRED_BF16_PTX.value, gpu_math.PAIRED_BF16_CONSTRAINTS.value,
                                   a0, a1)
        for x, g in ((a0, got[0]), (a1, got[1])):
            want = _as_f32(x).to(torch.bfloat16).to(torch.float32)
            gf = _as_f32(g)
            same = torch.equal(gf.view(torch.int32), want.view(torch.int32)) or (
                bool(torch.isnan(gf).item()) and bool(torch.isnan(want).item()))
            assert same, (hex(x), hex(g), hex(int(want.view(torch.int32).item()) & 0xFFFFFFFF))
