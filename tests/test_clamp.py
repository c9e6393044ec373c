"""The SwiGLU clamp (clamp_limit): both kernels against their references, against the clamp done by
hand in PyTorch, the colmajor/packed difference on a limit the input dtype cannot hold, and every
guard of kernels.validate.check_clamp_limit -- before any launch.

Upstream (vLLM fp8_utils.py): the packed kernel clamps since 0.20 (lines 203-205: in fp32, kept in
fp32), the colmajor kernel since 0.21 (lines 344-349: in fp32, then narrowed to the input dtype T).
Runs on both tiers: identical on the CPU tier; inside kernels.reference.gpu_envelope on a GPU.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import kernels
from kernels import colmajor as colmajor_mod
from kernels import packed as packed_mod
from kernels import reference as R
from kernels import validate
from kernels.compare import compare
from kernels.validate import KernelInputError
from conftest import TIER, make_x, on_device

BF16, FP16 = torch.bfloat16, torch.float16
DTYPES = [pytest.param(BF16, id="bf16"), pytest.param(FP16, id="fp16")]
LAUNCHERS = {"colmajor": kernels.silu_mul_fp8_colmajor, "packed": kernels.silu_mul_fp8_packed}
REFS = {"colmajor": R.silu_mul_fp8_colmajor_ref, "packed": R.silu_mul_fp8_packed_ref}


def clamp_input(dtype, m=16, n=1280, seed=0) -> torch.Tensor:
    """randn * 8: at L = 7 about 19 % of the gates lie above the limit and 38 % of the ups outside
    +-L, half on each side."""
    return make_x(m, n, dtype, seed=seed, scale=8.0)


def outside(x: torch.Tensor, limit: float) -> tuple[int, int, int]:
    """(gates above L, ups above L, ups below -L): the test input must reach the limit everywhere."""
    h = x.shape[1] // 2
    g, u = x[:, :h].float(), x[:, h:].float()
    return int((g > limit).sum()), int((u > limit).sum()), int((u < -limit).sum())


def launch(kind, x, **kw):
    kw = dict(kw)
    ue8m0 = kw.pop("use_ue8m0", False)
    return LAUNCHERS[kind](x, **kw, **({"use_ue8m0": True} if ue8m0 else {}))


def expect(kind, x, clamp_limit, use_ue8m0=False):
    """(q, scales, envelope or None) of the reference for this tier's comparison rule."""
    xc = x.cpu()
    if kind == "colmajor":
        q, s = R.silu_mul_fp8_colmajor_ref(xc, use_ue8m0, clamp_limit=clamp_limit)
    else:
        q, s = R.silu_mul_fp8_packed_ref(xc, clamp_limit=clamp_limit)
    env = None if TIER == "cpu" else R.gpu_envelope(xc, kind, use_ue8m0, clamp_limit=clamp_limit)
    return q, s, env


def assert_matches(got, want):
    rep = compare(*got, *want[:2], tier=TIER, envelope=want[2])
    assert rep, str(rep)


def same_bits(a, b) -> bool:
    return (torch.equal(a[0].cpu().view(torch.uint8), b[0].cpu().view(torch.uint8))
            and torch.equal(a[1].cpu(), b[1].cpu()))


def code_diffs(a, b) -> int:
    return int((a[0].cpu().view(torch.uint8) != b[0].cpu().view(torch.uint8)).sum())


# ---------------------------------------------------------------------------------------------
# each kernel against its reference, on inputs that reach the limit


@pytest.mark.parametrize("dtype", DTYPES)
# 7.0157 and 3.0079 sit between input-dtype values, so the gate's narrowing changes codes
@pytest.mark.parametrize("limit", [7.0, 10.0, 7.01, 7.0157, 3.0079])
@pytest.mark.parametrize("kind,kw", [("colmajor", {}), ("colmajor", {"use_ue8m0": True}),
                                     ("packed", {"rows_axis": 0}), ("packed", {"rows_axis": 1})],
                         ids=["colmajor", "colmajor-ue8m0", "packed-rows0", "packed-rows1"])
def test_clamped_kernel_matches_its_reference(kind, kw, limit, dtype):
    x = clamp_input(dtype, seed=int(limit * 100))
    assert min(outside(x, limit)) > 100, f"the input must cross the limit: {outside(x, limit)}"
    got = launch(kind, x, clamp_limit=limit, **kw)
    assert_matches(got, expect(kind, x, limit, kw.get("use_ue8m0", False)))
    # and the clamp really acted: the unclamped reference is a different answer on this input
    assert code_diffs(got, expect(kind, x, None, kw.get("use_ue8m0", False))) > 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["colmajor", "packed"])
def test_clamp_equals_clamping_the_input_by_hand(kind, dtype):
    """L = 7 is exact in bf16 and fp16, so the clamped values are input-dtype values on both paths:
    the kernel with clamp_limit=7 must equal the kernel *without* a clamp fed gate.clamp(max=7) and
    up.clamp(-7, 7) -- an oracle that shares no code with the clamp under test."""
    x = clamp_input(dtype, seed=3)
    h = x.shape[1] // 2
    by_hand = torch.cat([x[:, :h].clamp(max=7.0), x[:, h:].clamp(-7.0, 7.0)], dim=1).contiguous()
    assert not torch.equal(by_hand, x)
    assert same_bits(launch(kind, x, clamp_limit=7.0), launch(kind, by_hand))


# ---------------------------------------------------------------------------------------------
# a limit the input dtype cannot represent: colmajor narrows it, packed does not


# fp32(7.01) rounds to 7.0 in bf16 (steps of 2**-5 in [4, 8)) and *up* to 7.01171875 in fp16 (steps
# of 2**-8): the colmajor kernel clamps at those values, the packed one at fp32(7.01)
NOT_REPRESENTABLE = [pytest.param(BF16, 7.0, id="bf16"), pytest.param(FP16, 7.01171875, id="fp16")]


@pytest.mark.parametrize("dtype,in_dtype", NOT_REPRESENTABLE)
def test_the_limit_rounds_as_upstream_says(dtype, in_dtype):
    limit = validate.check_clamp_limit(7.01)
    assert limit == float(np.float32(7.01)) != 7.01     # what the kernels receive
    assert torch.tensor(limit, dtype=torch.float32).to(dtype).item() == in_dtype != limit


@pytest.mark.parametrize("dtype,in_dtype", NOT_REPRESENTABLE)
def test_colmajor_clamps_at_the_limit_rounded_to_the_input_dtype(dtype, in_dtype):
    x = clamp_input(dtype, seed=5)
    a = kernels.silu_mul_fp8_colmajor(x, clamp_limit=7.01)
    assert same_bits(a, kernels.silu_mul_fp8_colmajor(x, clamp_limit=in_dtype))
    assert_matches(a, expect("colmajor", x, 7.01))


@pytest.mark.parametrize("dtype,in_dtype", NOT_REPRESENTABLE)
def test_packed_clamps_at_the_fp32_limit(dtype, in_dtype):
    x = clamp_input(dtype, m=32, n=2048, seed=5)
    a = kernels.silu_mul_fp8_packed(x, clamp_limit=7.01)
    b = kernels.silu_mul_fp8_packed(x, clamp_limit=in_dtype)
    assert_matches(a, expect("packed", x, 7.01))
    assert_matches(b, expect("packed", x, in_dtype))
    assert code_diffs(a, b) > 0, "7.01 and its input-dtype rounding must give different codes"


def test_colmajor_fp16_clamp_lets_values_above_the_limit_through():
    """fp16: fp32(7.01) narrows *up* to 7.01171875, so colmajor's clamped gate and up exceed 7.01.
    One group with every gate and up = 100: y = fp16(fp16(silu(7.01171875)) * 7.01171875), and the
    fp32 scale y * fp32(1/448) shows that y exactly. Expected values from float64 arithmetic."""
    x = on_device(torch.full((2, 512), 100.0, dtype=FP16))
    _, s = kernels.silu_mul_fp8_colmajor(x, clamp_limit=7.01)
    lim = 7.01171875
    silu = torch.tensor(lim / (1 + math.exp(-lim)), dtype=torch.float64).to(FP16).double()
    y = (silu * lim).to(FP16).float()
    want = (y * torch.tensor(1 / 448, dtype=torch.float32)).item()
    assert s.cpu().unique().tolist() == [want]
    l32 = float(np.float32(7.01))       # at the fp32 limit itself y would be smaller
    assert y.item() > torch.tensor(l32 / (1 + math.exp(-l32)) * l32).to(FP16).item()


# ---------------------------------------------------------------------------------------------
# clamp_limit=None is the kernel as before


@pytest.mark.parametrize("kind", ["colmajor", "packed"])
def test_none_is_no_clamp(kind):
    x = clamp_input(BF16, seed=9)
    plain = launch(kind, x)
    assert same_bits(plain, launch(kind, x, clamp_limit=None))
    assert_matches(plain, expect(kind, x, None))
    # a limit no input reaches gives the same bits as no clamp (bf16 max |x| here is far below it)
    assert float(x.abs().max()) < 1e4
    assert same_bits(plain, launch(kind, x, clamp_limit=1e30))


@pytest.mark.parametrize("kind", ["colmajor", "packed"])
def test_kernel_args_compile_the_clamp_out_for_none(kind):
    if kind == "colmajor":
        args = lambda **kw: colmajor_mod.kernel_args(256, 512, eps=1e-10, index="int64", block_m=8,  # noqa: E731
                                                     groups=1, use_ue8m0=False, **kw)
    else:
        args = lambda **kw: packed_mod.kernel_args(256, 512, index="int64", rows_axis=0,  # noqa: E731
                                                   block_m=8, **kw)
    assert args()["HAS_CLAMP"] is False and args(clamp_limit=None)["HAS_CLAMP"] is False
    on = args(clamp_limit=7.0)
    assert on["HAS_CLAMP"] is True and on["clamp_limit"] == 7.0


# ---------------------------------------------------------------------------------------------
# the limit is part of the launch plan


@pytest.mark.parametrize("kind", ["colmajor", "packed"])
def test_each_limit_gets_its_own_plan(kind):
    x = clamp_input(BF16, seed=11)
    results = {lim: launch(kind, x, clamp_limit=lim) for lim in (7.0, 3.0, None)}
    for lim, got in results.items():
        assert_matches(got, expect(kind, x, lim))
    assert code_diffs(results[7.0], results[3.0]) > 0 and code_diffs(results[7.0], results[None]) > 0
    # a planned shape still validates a new limit
    with pytest.raises(KernelInputError, match="needs L > 0"):
        launch(kind, x, clamp_limit=-3.0)


# ---------------------------------------------------------------------------------------------
# validation: every guard, before any launch


class LaunchAttempted(Exception):
    pass


class _NoLaunch:
    def __getitem__(self, grid):
        def launch_(*args, **kwargs):
            raise LaunchAttempted(f"launched with grid {grid}")
        return launch_


@pytest.fixture
def no_launch(monkeypatch):
    monkeypatch.setattr(colmajor_mod, "silu_mul_fp8_colmajor_kernel", _NoLaunch())
    monkeypatch.setattr(packed_mod, "silu_mul_fp8_packed_kernel", _NoLaunch())


BAD = [
    pytest.param(True, "a real number, got bool True", id="bool"),
    pytest.param(np.bool_(True), "a real number, got bool", id="numpy-bool"),
    pytest.param(torch.tensor(7.0), "a real number, got Tensor", id="tensor"),
    pytest.param("7", "a real number, got str '7'", id="str"),
    pytest.param(0, r"got 0: clamp\(up, -L, L\) needs L > 0", id="zero"),
    pytest.param(-7.0, r"got -7.0: clamp\(up, -L, L\) needs L > 0", id="negative"),
    pytest.param(float("-inf"), "needs L > 0", id="-inf"),
    pytest.param(float("nan"), "got nan: NaN is not a limit", id="nan"),
    pytest.param(float("inf"), "got inf: as fp32 it is inf: use clamp_limit=None for no clamp", id="inf"),
    pytest.param(1e39, "got 1e[+]?39: as fp32 it is inf", id="beyond-fp32"),
    pytest.param(10**400, "as fp32 it is inf", id="beyond-float"),
    pytest.param(1e-40, "got 1e-40: as fp32 it is subnormal or 0", id="subnormal"),
    pytest.param(1e-50, "as fp32 it is subnormal or 0", id="zero-in-fp32"),
]


@pytest.mark.usefixtures("no_launch")
@pytest.mark.parametrize("kind", ["colmajor", "packed"])
@pytest.mark.parametrize("value,match", BAD)
def test_bad_limit_is_refused_before_any_launch(kind, value, match):
    x = make_x(8, 512, BF16, seed=1)
    with pytest.raises(KernelInputError, match=match):
        launch(kind, x, clamp_limit=value)
    with pytest.raises(KernelInputError, match=match):      # the references check it too
        REFS[kind](x.cpu(), clamp_limit=value)


@pytest.mark.usefixtures("no_launch")
@pytest.mark.parametrize("kind", ["colmajor", "packed"])
@pytest.mark.parametrize("value,fp32", [
    (7, 7.0), (np.int64(10), 10.0), (np.float32(7.5), 7.5), (np.float16(7.01), 7.01171875),
    (7.01, float(np.float32(7.01))), (2.0**-126, 2.0**-126), (3.4028235e38, float(np.finfo(np.float32).max)),
], ids=["int", "numpy-int", "numpy-f32", "numpy-f16", "float", "flt-min", "flt-max"])
def test_good_limit_reaches_the_launch_as_fp32(kind, value, fp32):
    assert validate.check_clamp_limit(value) == fp32
    with pytest.raises(LaunchAttempted):
        launch(kind, make_x(8, 512, BF16, seed=1), clamp_limit=value)


def test_the_bounds_are_fp32s():
    assert validate.FLT_MIN == float(np.finfo(np.float32).tiny)
    assert validate.check_clamp_limit(np.nextafter(np.float32(2.0**-126), np.float32(1))) > 2.0**-126
    with pytest.raises(KernelInputError, match="subnormal"):
        validate.check_clamp_limit(float(np.nextafter(np.float32(2.0**-126), np.float32(0))))


# ---------------------------------------------------------------------------------------------
# check_finite follows the clamp


@pytest.mark.parametrize("kind,dtype,big", [("colmajor", FP16, 300.0), ("packed", BF16, 1e20)])
def test_check_finite_judges_the_clamped_product(kind, dtype, big):
    """gate = up = big overflows each path's product (colmajor fp16: 90,000 > 65,504; packed fp32:
    1e40 > 3.4e38) and is refused; with L = 100 the product is 10,000 on both paths and accepted."""
    x = make_x(8, 512, dtype, seed=2, scale=0.5).cpu()
    x[3, 5] = x[3, 5 + 256] = big
    x = on_device(x)
    with pytest.raises(KernelInputError, match="overflows at row 3, output column 5"):
        launch(kind, x, check_finite=True)
    got = launch(kind, x, clamp_limit=100.0, check_finite=True)
    assert bool(torch.isfinite(got[0].cpu().float()).all())
    assert_matches(got, expect(kind, x, 100.0))
    # a limit that does not tame the product is still refused
    with pytest.raises(KernelInputError, match="overflows at row 3, output column 5"):
        launch(kind, x, clamp_limit=big, check_finite=True)


# ---------------------------------------------------------------------------------------------
# compiled for real GPUs (no GPU needed): the clamp builds, and the default compiles it out

COMPILE_CHILD = r"""
import json
from triton.backends.compiler import GPUTarget
from kernels import compile as kc
modes = [(k, m, fn, c) for k, m, fn, c in kc._modes() if m in ("int64 fp32-scales", "int64 rows-axis-0")]
assert len(modes) == 2, modes
out = {"failed": [], "uses": {}}
for arch, dtypes in ((80, ("bf16",)), (90, ("bf16", "fp16")), (100, ("bf16",))):
    software = arch < 89          # kernels.fp8: the integer encoder below sm_89
    for kernel, mode, fn, mode_consts in modes:
        for dtype in dtypes:
            for has_clamp in (True, False) if arch == 90 and dtype == "bf16" else (True,):
                values, ptrs, consts, options = kc._launch_args(kernel, dtype, software)
                consts.update(mode_consts, SOFTWARE_FP8=software, HAS_CLAMP=has_clamp)
                try:
                    c = kc._compile(kc._source(fn, values, ptrs, consts), GPUTarget("cuda", arch, 32),
                                    options)
                except kc.CompileFailed as e:
                    out["failed"].append(f"{kernel} sm_{arch} {dtype} HAS_CLAMP={has_clamp}: {e}")
                    continue
                if arch == 90 and dtype == "bf16":
                    ttir = c.asm["ttir"]
                    out["uses"][f"{kernel} {has_clamp}"] = ttir.count("%clamp_limit")
print(json.dumps(out))
"""


def test_the_clamp_compiles_for_real_gpus_and_the_default_compiles_it_out():
    from conftest import run_python
    p = run_python(COMPILE_CHILD, env={"TRITON_INTERPRET": "0", "CUDA_VISIBLE_DEVICES": ""},
                   timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert not out["failed"], out["failed"]
    for kernel in ("colmajor", "packed"):
        # the TTIR names the argument once in the signature; HAS_CLAMP=True also reads it
        assert out["uses"][f"{kernel} False"] == 1, out["uses"]
        assert out["uses"][f"{kernel} True"] > 1, out["uses"]
