"""Every bad input is refused with a KernelInputError that says what is wrong -- before any launch.

The ``no_launch`` fixture replaces both Triton kernels with a stand-in that raises LaunchAttempted,
so an error raised by the wrapper provably came before the launch, and a test that expects the
checks to pass can see the launch being reached without running it.
"""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

import kernels
from kernels import colmajor as colmajor_mod
from kernels import packed as packed_mod
from kernels import validate
from kernels.validate import GridLimitError, KernelInputError, OffsetOverflowError
from conftest import DEVICE, make_x

FP8 = torch.float8_e4m3fn
OTHER_DEVICE = "meta"  # never the kernels' device on either tier ("cpu" on the CPU tier, "cuda" on a GPU)


class LaunchAttempted(Exception):
    pass


class _NoLaunch:
    def __init__(self, name):
        self.name = name

    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            raise LaunchAttempted(f"{self.name} launched with grid {grid}")
        return launch


@pytest.fixture
def no_launch(monkeypatch):
    monkeypatch.setattr(colmajor_mod, "silu_mul_fp8_colmajor_kernel", _NoLaunch("colmajor"))
    monkeypatch.setattr(packed_mod, "silu_mul_fp8_packed_kernel", _NoLaunch("packed"))


KERNELS = [pytest.param(kernels.silu_mul_fp8_colmajor, id="colmajor"),
           pytest.param(kernels.silu_mul_fp8_packed, id="packed")]


def x_ok(m=8, n=512, dtype=torch.bfloat16):
    return make_x(m, n, dtype, seed=m + n)


def raises(fn, x, match, exc=KernelInputError, **kw):
    with pytest.raises(exc, match=match) as info:
        fn(x, **kw)
    return info


# ---------------------------------------------------------------------------------------------
# the input tensor


@pytest.mark.usefixtures("no_launch")
@pytest.mark.parametrize("fn", KERNELS)
class TestInput:
    @pytest.mark.parametrize("dtype", [torch.float32, torch.int8, torch.float64])
    def test_wrong_dtype(self, fn, dtype):
        x = torch.ones(8, 512, dtype=dtype, device=DEVICE)
        raises(fn, x, rf"bfloat16 or float16, got {dtype}")

    @pytest.mark.parametrize("shape", [(512,), (2, 8, 512)], ids=["ndim1", "ndim3"])
    def test_wrong_ndim(self, fn, shape):
        x = torch.ones(shape, dtype=torch.bfloat16, device=DEVICE)
        raises(fn, x, rf"must be 2-D \[M, N\], got shape {re_shape(shape)}")

    def test_not_a_tensor(self, fn):
        raises(fn, [[1.0] * 512] * 8, "must be a torch.Tensor, got list")

    def test_wrong_device(self, fn):
        x = torch.empty(8, 512, dtype=torch.bfloat16, device=OTHER_DEVICE)
        info = raises(fn, x, "x is on meta, but kernels run on the")
        assert (".cpu()" if DEVICE == "cpu" else ".cuda()") in str(info.value)

    @pytest.mark.parametrize("n", [0, 128, 300, 257])
    def test_bad_n(self, fn, n):
        x = torch.ones(8, n, dtype=torch.bfloat16, device=DEVICE)
        raises(fn, x, rf"N = {n} must be a positive multiple of 256")

    def test_transposed(self, fn):
        x = x_ok(512, 8).t()
        assert x.shape == (8, 512) and not x.is_contiguous()
        raises(fn, x, r"must be contiguous \(row-major\), got strides \(1, 8\)")

    def test_column_slice(self, fn):
        x = x_ok(8, 1024)[:, :512]
        assert x.shape == (8, 512) and not x.is_contiguous()
        raises(fn, x, r"must be contiguous \(row-major\), got strides \(1024, 1\)")

    @pytest.mark.parametrize("value,pos", [(math.nan, (2, 5)), (math.inf, (6, 300)),
                                           (-math.inf, (0, 511))], ids=["nan", "inf", "-inf"])
    def test_non_finite_names_first_position(self, fn, value, pos):
        x = x_ok().cpu()
        x[pos] = value
        x[7, 7] = math.nan   # a later one: the message must name the first in row-major order
        info = raises(fn, x.to(DEVICE), r"NaN or Inf", check_finite=True)
        assert f"[{pos[0]}, {pos[1]}]" in str(info.value), str(info.value)
        assert "check_finite=False" in str(info.value)

    def test_non_finite_not_checked_by_default(self, fn):
        # the default call does not read x (no extra pass, no sync): NaN codes, as upstream
        x = x_ok().cpu()
        x[1, 1] = math.nan
        with pytest.raises(LaunchAttempted):      # the checks pass; the launch is reached
            fn(x.to(DEVICE))

    @pytest.mark.parametrize("dtype,gate,up", [
        (torch.float16, 300.0, 300.0),      # 90,000 > 65,504: inf in fp16 (colmajor), fine in bf16 path
        (torch.bfloat16, 3e38, 3e38),       # inf even in fp32
    ], ids=["fp16-300", "bf16-3e38"])
    def test_finite_input_whose_product_overflows(self, fn, dtype, gate, up):
        x = x_ok(8, 512, dtype).cpu()
        x[3, 5], x[3, 256 + 5] = gate, up
        assert bool(torch.isfinite(x).all())
        overflows = dtype == torch.bfloat16 or fn is kernels.silu_mul_fp8_colmajor
        if overflows:
            info = raises(fn, x.to(DEVICE), r"silu\(gate\) \* up overflows at row 3, output column 5",
                          check_finite=True)
            assert "check_finite=False" in str(info.value)
        else:   # the packed path multiplies in fp32 and rounds to bf16: 90,000 is finite there
            with pytest.raises(LaunchAttempted):
                fn(x.to(DEVICE), check_finite=True)

    def test_valid_input_reaches_the_launch(self, fn):
        with pytest.raises(LaunchAttempted):
            fn(x_ok())


def re_shape(shape):
    return "\\(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + "\\)"


# ---------------------------------------------------------------------------------------------
# the out= tensor


@pytest.mark.usefixtures("no_launch")
@pytest.mark.parametrize("fn", KERNELS)
class TestOut:
    def test_wrong_shape(self, fn):
        out = torch.empty(8, 512, dtype=FP8, device=DEVICE)
        raises(fn, x_ok(), r"out must be a \[8, 256\] torch.float8_e4m3fn tensor, got \(8, 512\)", out=out)

    def test_wrong_dtype(self, fn):
        out = torch.empty(8, 256, dtype=torch.bfloat16, device=DEVICE)
        raises(fn, x_ok(), r"got \(8, 256\) torch.bfloat16", out=out)

    def test_not_a_tensor(self, fn):
        raises(fn, x_ok(), r"got ndarray", out=torch.empty(8, 256).numpy())

    def test_wrong_device(self, fn):
        out = torch.empty(8, 256, dtype=FP8, device=OTHER_DEVICE)
        raises(fn, x_ok(), r"out is on meta but x is on", out=out)

    def test_not_contiguous(self, fn):
        out = torch.empty(256, 8, dtype=FP8, device=DEVICE).t()
        raises(fn, x_ok(), r"out must be contiguous", out=out)

    @pytest.mark.parametrize("how", ["x-itself", "inside-x", "straddling"])
    def test_out_overlapping_x_is_refused(self, fn, how):
        # out must not share bytes with x: the kernel would overwrite input it has not read yet
        raw = torch.empty(3 * 8 * 512 * 2, dtype=torch.uint8, device=DEVICE)
        x = raw[: 8 * 512 * 2].view(torch.bfloat16).view(8, 512)
        x.copy_(x_ok())
        start = {"x-itself": 0, "inside-x": 1024, "straddling": 8 * 512 * 2 - 16}[how]
        out = raw[start:start + 8 * 256].view(FP8).view(8, 256)
        raises(fn, x, r"out overlaps x in memory", out=out)
        apart = raw[8 * 512 * 2:8 * 512 * 2 + 8 * 256].view(FP8).view(8, 256)   # adjacent, no overlap
        with pytest.raises(LaunchAttempted):
            fn(x, out=apart)

    def test_good_out_reaches_the_launch(self, fn):
        with pytest.raises(LaunchAttempted):
            fn(x_ok(), out=torch.empty(8, 256, dtype=FP8, device=DEVICE))


# ---------------------------------------------------------------------------------------------
# choices


@pytest.mark.usefixtures("no_launch")
@pytest.mark.parametrize("fn", KERNELS)
@pytest.mark.parametrize("kw,match", [
    ({"index": "int16"}, r"index must be one of \('int32', 'int64'\), got 'int16'"),
    ({"index": 64}, r"index must be one of .*got 64"),
    ({"index": "INT64"}, r"index must be one of"),
    ({"block_m": 3}, r"block_m must be a power of two in \[1, 128\] \(1, 2, 4, 8, 16, 32, 64, 128\), got 3"),
    ({"block_m": 256}, r"block_m must be a power of two in \[1, 128\].*got 256"),
    ({"block_m": 0}, r"block_m must be a power of two .*got 0"),
    ({"block_m": -8}, r"block_m must be a power of two .*got -8"),
    ({"block_m": 8.0}, r"block_m must be an int, got float 8.0"),
    ({"block_m": True}, r"block_m must be an int, got bool True"),
    ({"block_m": "8"}, r"block_m must be an int, got str '8'"),
    ({"block_m": torch.tensor(8)}, r"block_m must be an int, got Tensor"),
    ({"num_warps": 0}, r"num_warps must be a power of two in \[1, 32\].*got 0"),
    ({"num_warps": 3}, r"num_warps must be a power of two in \[1, 32\].*got 3"),
    ({"num_warps": -1}, r"num_warps must be a power of two .*got -1"),
    ({"num_warps": 64}, r"num_warps must be a power of two .*got 64"),
    ({"num_warps": 1.5}, r"num_warps must be an int, got float 1.5"),
    ({"check_finite": 1}, r"check_finite must be True or False, got int 1"),
    ({"unsafe_skip_launch_checks": "yes"}, r"unsafe_skip_launch_checks must be True or False"),
])
def test_bad_choice(fn, kw, match):
    raises(fn, x_ok(), match, **kw)


@pytest.mark.usefixtures("no_launch")
@pytest.mark.parametrize("fn", KERNELS)
@pytest.mark.parametrize("kw", [{"block_m": np.int64(8)}, {"num_warps": np.int32(4)},
                                {"block_m": 1}, {"num_warps": 32}], ids=str)
def test_exact_integers_of_any_integer_type_are_accepted(fn, kw):
    # operator.index types (numpy integers) are exact: accepted and passed on as Python ints
    with pytest.raises(LaunchAttempted):
        fn(x_ok(), **kw)


@pytest.mark.usefixtures("no_launch")
@pytest.mark.parametrize("rows_axis", [2, -1, "1", True, 1.0])
def test_bad_rows_axis(rows_axis):
    raises(kernels.silu_mul_fp8_packed, x_ok(), rf"rows_axis must be one of \(0, 1\), got {rows_axis!r}",
           rows_axis=rows_axis)


@pytest.mark.usefixtures("no_launch")
@pytest.mark.parametrize("eps", [0.0, -1.0, math.nan, math.inf, None, True, "1e-10", 2.0**-118,
                                 1e-38, 2.0**-126, 1e39],
                         ids=["zero", "negative", "nan", "inf", "none", "bool", "str", "2^-118",
                              "1e-38", "2^-126", "above-flt-max"])
def test_bad_eps(eps):
    raises(kernels.silu_mul_fp8_colmajor, x_ok(), r"eps must be a (positive finite|real) number",
           eps=eps)


@pytest.mark.usefixtures("no_launch")
@pytest.mark.parametrize("eps", [2.0**-117, 1e-10, 1, 0.5, np.float32(1e-6), 3.4e38],
                         ids=["eps-min", "default", "int", "half", "np-float32", "near-flt-max"])
def test_eps_in_range_is_accepted(eps):
    with pytest.raises(LaunchAttempted):
        kernels.silu_mul_fp8_colmajor(x_ok(), eps=eps)


def test_eps_min_keeps_the_all_zero_scale_normal():
    # the bound's reason, checked in fp32: eps * fp32(1/448) is normal at EPS_MIN, subnormal below
    tiny = torch.finfo(torch.float32).tiny
    r = torch.tensor(1 / 448, dtype=torch.float32)
    assert (torch.tensor(validate.EPS_MIN, dtype=torch.float32) * r).item() >= tiny
    assert (torch.tensor(validate.EPS_MIN / 2, dtype=torch.float32) * r).item() < tiny


@pytest.mark.usefixtures("no_launch")
@pytest.mark.parametrize("gpp,n,match", [
    (0, 512, "power of two"), (-2, 512, "power of two"), (3, 768, "power of two"),
    (1.5, 1536, "must be an int"), (True, 512, "must be an int"), (128, 65536, "power of two"),
    # explicit values are never reduced: a non-divisor of N/256 is refused (upstream had 3 refused
    # while 5 was silently turned into 1)
    (5, 1536, "power of two"), (4, 1536, r"does not divide the 6 groups.*use one of \(1, 2\)"),
    (8, 1280, r"does not divide the 5 groups.*use one of \(1,\)"), (2, 768, "does not divide the 3"),
])
def test_bad_groups_per_program(gpp, n, match):
    raises(kernels.silu_mul_fp8_colmajor, x_ok(8, n), f"groups_per_program.*{match}",
           groups_per_program=gpp)


@pytest.mark.usefixtures("no_launch")
@pytest.mark.parametrize("gpp,n,launched", [(None, 768, 1), (None, 1536, 2), (None, 2048, 8),
                                            (None, 4096, 8), (4, 2048, 4), (np.int64(2), 1536, 2)])
@pytest.mark.usefixtures("fixed_tiles")
def test_groups_per_program_launched(monkeypatch, gpp, n, launched):
    # None picks the largest power of two <= 8 dividing N/256; explicit divisors are used as given
    spy = _Spy(raise_it=False)
    monkeypatch.setattr(validate, "check_launch", spy)
    with pytest.raises(LaunchAttempted):
        kernels.silu_mul_fp8_colmajor(x_ok(8, n), groups_per_program=gpp)
    assert spy.calls[0]["groups_per_program"] == launched


# ---------------------------------------------------------------------------------------------
# M = 0


@pytest.mark.usefixtures("no_launch")
@pytest.mark.parametrize("n", [256, 768, 2304])
@pytest.mark.parametrize("kind", ["colmajor", "packed"])
def test_m_zero_returns_empty_outputs_without_launch(kind, n):
    x = torch.empty(0, n, dtype=torch.bfloat16, device=DEVICE)
    g = n // 256
    if kind == "colmajor":
        q, s = kernels.silu_mul_fp8_colmajor(x)
        q_ref, s_ref = kernels.silu_mul_fp8_colmajor_ref(x.cpu())
        cols, sdtype = g, torch.float32
    else:
        q, s = kernels.silu_mul_fp8_packed(x)
        q_ref, s_ref = kernels.silu_mul_fp8_packed_ref(x.cpu())
        cols, sdtype = math.ceil(g / 4), torch.int32
    assert q.shape == (0, n // 2) and q.dtype == FP8 and q.device.type == x.device.type
    assert s.shape == (0, cols) and s.dtype == sdtype and s.device.type == x.device.type
    assert s.stride() == s_ref.stride() and q.stride() == q_ref.stride()
    assert s.stride()[0] == 1


# ---------------------------------------------------------------------------------------------
# launch checks: int32 offsets and the grid limit


def test_check_launch_refuses_the_overflowing_colmajor_launch():
    with pytest.raises(OffsetOverflowError) as info:
        validate.check_launch("colmajor", 524_416, 4096, "int32", 0, 8)
    msg = str(info.value)
    # C1 = 524,408 * 4,096 = 2,147,975,168 wraps to -2,146,992,128; the advice names the fix
    for part in ("C1", f"{524_408 * 4096:,}", "-2,146,992,128", "524,289", "index='int64'",
                 "unsafe_skip_launch_checks=True"):
        assert part in msg, f"{part!r} missing from: {msg}"
    assert isinstance(info.value, KernelInputError)


def test_check_launch_refuses_the_packed_grid():
    with pytest.raises(GridLimitError) as info:
        validate.check_launch("packed", 524_416, 4096, "int64", 1, 8)
    msg = str(info.value)
    for part in ("65,552", "65,535", "rows_axis=0", "524,281"):
        assert part in msg, f"{part!r} missing from: {msg}"
    assert isinstance(info.value, KernelInputError)


def test_check_launch_packed_int32_reports_the_offset_first():
    with pytest.raises(OffsetOverflowError, match="P1"):
        validate.check_launch("packed", 524_416, 4096, "int32", 1, 8)


@pytest.mark.parametrize("args", [("colmajor", 524_416, 4096, "int64", 0, 8),
                                  ("packed", 524_416, 4096, "int64", 0, 8),
                                  ("colmajor", 524_288, 4096, "int32", 0, 8),
                                  ("packed", 524_280, 4096, "int64", 1, 8),
                                  ("packed", 524_288, 4096, "int32", 0, 8)])
def test_check_launch_accepts_safe_launches(args):
    a = validate.check_launch(*args)
    assert a.safe, a.problems


class _Spy:
    """Records each check_launch call (by parameter name) and then raises or delegates."""

    def __init__(self, raise_it: bool):
        self.calls = []
        self.raise_it = raise_it
        self.real = validate.check_launch
        self.sig = inspect.signature(self.real)

    def __call__(self, *args, **kwargs):
        bound = self.sig.bind(*args, **kwargs)
        bound.apply_defaults()
        self.calls.append(dict(bound.arguments))
        if self.raise_it:
            raise OffsetOverflowError("spy: refused")
        return self.real(*args, **kwargs)


@pytest.mark.usefixtures("no_launch")
@pytest.mark.parametrize("index", ["int32", "int64"])
@pytest.mark.parametrize("kind,n,kw,expect", [
    # groups_per_program reaches the checks as gcd(groups, requested): the grid really launched
    ("colmajor", 1024, {"block_m": 16, "groups_per_program": 2},
     {"rows_axis": 0, "block_m": 16, "groups_per_program": 2}),
    ("colmajor", 1280, {}, {"rows_axis": 0, "block_m": 8, "groups_per_program": 1}),   # 5 groups
    ("colmajor", 3072, {}, {"rows_axis": 0, "block_m": 8, "groups_per_program": 4}),  # default 8
    ("packed", 1024, {"rows_axis": 1, "block_m": 4}, {"rows_axis": 1, "block_m": 4}),
    ("packed", 1024, {}, {"rows_axis": 0, "block_m": 8}),
])
@pytest.mark.usefixtures("fixed_tiles")
def test_wrappers_run_the_launch_checks_with_their_arguments(monkeypatch, kind, n, kw, expect, index):
    spy = _Spy(raise_it=False)
    monkeypatch.setattr(validate, "check_launch", spy)
    fn = kernels.silu_mul_fp8_colmajor if kind == "colmajor" else kernels.silu_mul_fp8_packed
    x = x_ok(24, n)
    with pytest.raises(LaunchAttempted):
        fn(x, index=index, **kw)
    assert len(spy.calls) == 1, spy.calls
    call = spy.calls[0]
    want = {"kernel": kind, "m": 24, "n": x.shape[1], "index": index} | expect
    got = {k: call[k] for k in want}
    assert got == want


@pytest.mark.usefixtures("no_launch")
@pytest.mark.parametrize("fn", KERNELS)
def test_unsafe_skip_launch_checks_is_the_only_way_past(monkeypatch, fn):
    spy = _Spy(raise_it=True)
    monkeypatch.setattr(validate, "check_launch", spy)
    x = x_ok()
    # every other combination of options still runs the checks (and is refused by the spy)
    for kw in ({}, {"index": "int64"}, {"index": "int32"}, {"check_finite": True},
               {"out": torch.empty(8, 256, dtype=FP8, device=DEVICE)}, {"block_m": 1}):
        with pytest.raises(OffsetOverflowError, match="spy"):
            fn(x, **kw)
    n_calls = len(spy.calls)
    assert n_calls == 6
    with pytest.raises(LaunchAttempted):
        fn(x, unsafe_skip_launch_checks=True)
    assert len(spy.calls) == n_calls, "unsafe_skip_launch_checks=True must not run the checks"


@pytest.mark.usefixtures("no_launch")
def test_packed_wrapper_raises_grid_limit_for_real():
    # rows on axis 1 with BLOCK_M = 1: grid y = M. A [65,536, 256] input is only 32 MB.
    x = torch.zeros(65_536, 256, dtype=torch.bfloat16, device=DEVICE)
    with pytest.raises(GridLimitError, match=r"axis 1 = 65,536 exceeds CUDA's limit of 65,535"):
        kernels.silu_mul_fp8_packed(x, rows_axis=1, block_m=1)
    with pytest.raises(LaunchAttempted, match=r"grid \(65536,\)"):       # the fixed 1-D grid is fine
        kernels.silu_mul_fp8_packed(x, rows_axis=0, block_m=1)
    # the grid covers the scales' TMA-aligned rows round_up(M, 4): 65,532 rows is the last legal M
    with pytest.raises(GridLimitError, match=r"axis 1 = 65,536"):
        kernels.silu_mul_fp8_packed(x[:65_533], rows_axis=1, block_m=1)
    with pytest.raises(LaunchAttempted, match=r"grid \(1, 65532\)"):
        kernels.silu_mul_fp8_packed(x[:65_532], rows_axis=1, block_m=1)
    with pytest.raises(LaunchAttempted, match=r"grid \(1, 65536\)"):     # only the unsafe flag
        kernels.silu_mul_fp8_packed(x, rows_axis=1, block_m=1, unsafe_skip_launch_checks=True)


@pytest.mark.usefixtures("no_launch")
def test_checks_run_in_order_input_out_choices():
    # several problems at once: the first check in the documented order wins
    bad_x = torch.ones(8, 300, dtype=torch.bfloat16, device=DEVICE)
    bad_out = torch.empty(1, 1, dtype=FP8, device=DEVICE)
    with pytest.raises(KernelInputError, match="N = 300"):
        kernels.silu_mul_fp8_colmajor(bad_x, out=bad_out, index="int16", eps=-1.0)
    with pytest.raises(KernelInputError, match="out must be"):
        kernels.silu_mul_fp8_colmajor(x_ok(), out=bad_out, index="int16", eps=-1.0)
    with pytest.raises(KernelInputError, match="index must be"):
        kernels.silu_mul_fp8_colmajor(x_ok(), index="int16", eps=-1.0)
    # finiteness is checked before the launch checks (int32 here would pass them anyway)
    x_nan = x_ok().cpu()
    x_nan[0, 0] = math.nan
    with pytest.raises(KernelInputError, match="NaN"):
        kernels.silu_mul_fp8_packed(x_nan.to(DEVICE), index="int32", check_finite=True)


def test_kernel_input_error_is_a_value_error():
    assert issubclass(KernelInputError, ValueError)
    assert issubclass(OffsetOverflowError, KernelInputError)
    assert issubclass(GridLimitError, KernelInputError)


def test_an_eps_beyond_any_float_is_a_clear_error():
    # found by the adversarial review: float(10**400) raised OverflowError from the check itself
    with pytest.raises(kernels.KernelInputError, match="eps must be"):
        kernels.silu_mul_fp8_colmajor(torch.zeros(8, 256, dtype=torch.bfloat16, device=DEVICE), eps=10**400)
