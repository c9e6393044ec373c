"""The default call is as light as upstream's: no device->host sync, no pass over x, one launch,
O(1) launch checks. And the references refuse what the launchers refuse.

CPU tier: every PyTorch operation the launcher issues is recorded with a TorchDispatchMode (the
kernel launch itself replaced by a recorder): only allocations and views may appear -- a sync
(``.item()``, ``bool(tensor)``: ``_local_scalar_dense``), a pass over x (``isfinite``, ``all``) or
a memset (``zero_``, ``fill_``) fails the test. The GPU tier checks the same with CUDA-graph
capture and torch's sync debug mode (tests/test_kernels_gpu.py).
"""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import kernels
from kernels import colmajor as colmajor_mod
from kernels import offsets, validate
from kernels import packed as packed_mod
from kernels.validate import KernelInputError
from conftest import DEVICE, make_x

# allocation and view operations only: no data is read or written by the launcher itself
ALLOWED = {"empty.memory_format", "empty_strided.default", "t.default", "slice.Tensor",
           "as_strided.default", "view.default", "transpose.int", "alias.default",
           "detach.default"}


class OpLog(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func.overloadpacket.__name__) + "." + func._overloadname)
        return func(*args, **(kwargs or {}))


class Launches:
    """Stands in for a @triton.jit kernel: counts launches, records the grid, runs nothing."""

    def __init__(self):
        self.grids = []

    def __getitem__(self, grid):
        def launch(**kwargs):
            self.grids.append(grid)
        return launch


CALLS = [
    pytest.param("colmajor", {}, id="colmajor-default"),
    pytest.param("colmajor", {"use_ue8m0": True, "index": "int32"}, id="colmajor-ue8m0"),
    pytest.param("packed", {}, id="packed-default"),
    pytest.param("packed", {"rows_axis": 1}, id="packed-upstream-grid"),
]


def _call(kind, x, **kw):
    fn = kernels.silu_mul_fp8_colmajor if kind == "colmajor" else kernels.silu_mul_fp8_packed
    return fn(x, **kw)


@pytest.mark.parametrize("kind,kw", CALLS)
@pytest.mark.usefixtures("fixed_tiles")
def test_default_call_only_allocates_and_launches_once(monkeypatch, kind, kw):
    rec = Launches()
    mod = colmajor_mod if kind == "colmajor" else packed_mod
    monkeypatch.setattr(mod, f"silu_mul_fp8_{kind}_kernel", rec)
    x = make_x(37, 1280, seed=1)
    validate.check_launch.cache_clear()
    with OpLog() as log:
        q, s = _call(kind, x, **kw)
    extra = [op for op in log.ops if op not in ALLOWED]
    assert not extra, f"the default call issued {extra}: a sync, a pass over x or a memset"
    assert len(rec.grids) == 1, f"{len(rec.grids)} launches"
    assert rec.grids[0] == offsets.grid(kind, 37, 1280, 8, kw.get("rows_axis", 0),
                                        1 if kind == "colmajor" else 1)


@pytest.mark.parametrize("kind", ["colmajor", "packed"])
def test_opt_in_finite_check_is_seen_by_the_recorder(monkeypatch, kind):
    # the recorder can fail: check_finite=True reads x (isfinite, all) and syncs (bool -> item)
    monkeypatch.setattr(colmajor_mod if kind == "colmajor" else packed_mod,
                        f"silu_mul_fp8_{kind}_kernel", Launches())
    x = make_x(8, 512)
    with OpLog() as log:
        _call(kind, x, check_finite=True)
    assert "all.default" in log.ops and "_local_scalar_dense.default" in log.ops, log.ops


def test_opt_in_memset_would_be_seen(monkeypatch):
    # and a memset of the scales (the old torch.zeros) shows up as well
    with OpLog() as log:
        kernels.reference.mn_major(8, 2, torch.float32, DEVICE, zeros=True)
    assert any(op.startswith(("zero_", "fill_", "zeros")) for op in log.ops), log.ops


def test_check_launch_is_cached_per_shape_and_o1_per_new_m(monkeypatch):
    validate.check_launch.cache_clear()
    offsets.first_bad_m.cache_clear()
    offsets.first_grid_m.cache_clear()
    calls = {"analyze": 0}
    real = offsets.analyze

    def counting(*a, **k):
        calls["analyze"] += 1
        return real(*a, **k)
    monkeypatch.setattr(offsets, "analyze", counting)
    for _ in range(5):
        validate.check_launch("packed", 4096, 7168, "int64", 0, 8, 1)
    assert calls["analyze"] == 1, "a repeated shape must hit the cache"
    # a new M with the same N and tile: one analysis, and no new first-failing-M search
    misses = offsets.first_bad_m.cache_info().misses
    grid_misses = offsets.first_grid_m.cache_info().misses
    for m in (4095, 4097, 100_000, 524_416):
        validate.check_launch("packed", m, 7168, "int64", 0, 8, 1)
    assert calls["analyze"] == 5
    assert offsets.first_bad_m.cache_info().misses == misses
    assert offsets.first_grid_m.cache_info().misses == grid_misses


def test_analysis_cost_does_not_grow_with_m(monkeypatch):
    # closed forms: each expression is evaluated once per analysis, whatever M is
    offsets.first_bad_m.cache_clear()
    offsets.first_grid_m.cache_clear()
    offsets.analyze("colmajor", 8, 4096, "int32")        # fills the per-N caches
    evals = {"n": 0}

    def counting(fn):
        def value(m, n, b):
            evals["n"] += 1
            return fn(m, n, b)
        return value
    monkeypatch.setitem(offsets.EXPRS, "colmajor", tuple(
        dataclasses.replace(e, value=counting(e.value)) for e in offsets.EXPRS["colmajor"]))
    counts = []
    for m in (16, 10_000, 524_416, 10**9):
        evals["n"] = 0
        offsets.analyze("colmajor", m, 4096, "int32")
        counts.append(evals["n"])
    assert counts == [len(offsets.EXPRS["colmajor"])] * 4, counts


# ---------------------------------------------------------------------------------------------
# the references check their arguments like the launchers


REFS = [pytest.param(kernels.silu_mul_fp8_colmajor_ref, id="colmajor_ref"),
        pytest.param(kernels.silu_mul_fp8_packed_ref, id="packed_ref")]


@pytest.mark.parametrize("ref", REFS)
@pytest.mark.parametrize("x,match", [
    (torch.ones(512, dtype=torch.bfloat16), r"must be 2-D \[M, N\]"),
    (torch.ones(2, 4, 512, dtype=torch.bfloat16), r"must be 2-D \[M, N\]"),
    (torch.ones(8, 384, dtype=torch.bfloat16), r"N = 384 must be a positive multiple of 256"),
    (torch.ones(8, 512, dtype=torch.int8), r"bfloat16 or float16, got torch.int8"),
    (torch.ones(8, 512, dtype=torch.float32), r"bfloat16 or float16, got torch.float32"),
    ([[1.0] * 512], r"must be a torch.Tensor"),
], ids=["ndim1", "ndim3", "N384", "int8", "fp32", "list"])
def test_reference_refuses_bad_input(ref, x, match):
    with pytest.raises(KernelInputError, match=match):
        ref(x)


@pytest.mark.parametrize("kw,match", [({"eps": 0.0}, "eps must be"), ({"eps": math.nan}, "eps must be"),
                                      ({"eps": 1e-45}, "eps must be"),
                                      ({"use_ue8m0": 1}, "use_ue8m0 must be True or False")])
def test_colmajor_reference_refuses_bad_options(kw, match):
    with pytest.raises(KernelInputError, match=match):
        kernels.silu_mul_fp8_colmajor_ref(make_x(8, 512).cpu(), **kw)


@pytest.mark.parametrize("ref", REFS)
def test_reference_accepts_any_device_and_layout(ref):
    x = make_x(16, 1024).cpu()
    a = ref(x[::2])                      # a row-strided view: the references do not need contiguity
    b = ref(x[::2].contiguous())
    assert torch.equal(a[0].view(torch.uint8), b[0].view(torch.uint8)) and torch.equal(a[1], b[1])


# ---------------------------------------------------------------------------------------------
# launch plans (kernels.plan): validation once per shape and configuration, never skipped for a
# call that differs


class PlanCount:
    """Counts how often a launcher builds a plan (its full validation)."""

    def __init__(self, monkeypatch, mod):
        self.n, real = 0, mod._plan
        mod._PLANS.clear()   # room for this test's plans: a full cache is cleared, which would recount

        def counting(*a, **k):
            self.n += 1
            return real(*a, **k)
        monkeypatch.setattr(mod, "_plan", counting)


@pytest.mark.parametrize("kind", ["colmajor", "packed"])
def test_a_repeated_call_reuses_its_plan(monkeypatch, kind):
    count = PlanCount(monkeypatch, colmajor_mod if kind == "colmajor" else packed_mod)
    x1, x2 = make_x(24, 512, seed=1), make_x(24, 512, seed=2)
    first = _call(kind, x1)
    _call(kind, x2)
    again = _call(kind, x1)
    assert count.n == 1, "same shape and options: one plan"
    assert torch.equal(first[0].view(torch.uint8), again[0].view(torch.uint8))
    assert torch.equal(first[1], again[1]), "a planned call gives the first call's result"
    _call(kind, make_x(25, 512, seed=1))
    assert count.n == 2, "a new M is a new plan"
    _call(kind, x1, index="int32")
    assert count.n == 3, "a new option is a new plan"
    _call(kind, x1, index="int32")
    assert count.n == 3


@pytest.mark.parametrize("kind", ["colmajor", "packed"])
def test_a_cached_plan_never_lets_bad_input_through(kind):
    x = make_x(16, 512, seed=3)
    _call(kind, x)                                  # the default plan is cached now
    flags = ["unsafe_skip_launch_checks", "check_finite"] + (["use_ue8m0"] if kind == "colmajor"
                                                             else [])
    for flag in flags:
        _call(kind, x, **{flag: True})              # a plan with the flag set ...
        with pytest.raises(KernelInputError, match=flag):
            _call(kind, x, **{flag: 1})             # ... does not serve 1 (== True, not a bool)
    with pytest.raises(KernelInputError, match="contiguous"):
        _call(kind, make_x(16, 1024, seed=3)[:, :512])   # same shape, other strides
    with pytest.raises(KernelInputError, match="torch.Tensor"):
        _call(kind, x.tolist())                     # no key can be built: full validation
    with pytest.raises(KernelInputError):
        _call(kind, x, index=["int64"])             # unhashable option: full validation
    if kind == "colmajor":
        for bad in (float("nan"), -1.0):
            with pytest.raises(KernelInputError, match="eps"):
                _call(kind, x, eps=bad)
    # `out`: a separate buffer makes a plan; a buffer with the same shape, strides and alignment
    # that overlaps x must still be refused (the overlap depends on this call's addresses)
    q = torch.empty(16, 256, dtype=torch.float8_e4m3fn, device=x.device)
    _call(kind, x, out=q)
    inside = x.view(torch.float8_e4m3fn).view(-1)[:16 * 256].view(16, 256)
    assert inside.stride() == q.stride() and inside.data_ptr() % 16 == q.data_ptr() % 16
    with pytest.raises(KernelInputError, match="overlaps"):
        _call(kind, x, out=inside)


def test_a_tile_table_change_replans(monkeypatch):
    from kernels import tiles
    count = PlanCount(monkeypatch, colmajor_mod)
    x = make_x(8, 512, seed=4)
    kernels.silu_mul_fp8_colmajor(x)
    kernels.silu_mul_fp8_colmajor(x)
    tiles.use_table(None)                           # a benchmark does this after its sweep
    kernels.silu_mul_fp8_colmajor(x)
    assert count.n == 2


def test_the_fp8_path_override_is_part_of_the_plan(monkeypatch):
    from kernels import fp8
    x = make_x(8, 512, seed=5)
    monkeypatch.delenv(fp8.ENV, raising=False)
    kernels.silu_mul_fp8_colmajor(x)
    monkeypatch.setenv(fp8.ENV, "nonsense")
    with pytest.raises(fp8.Fp8PathError):           # read again, not served from the plan
        kernels.silu_mul_fp8_colmajor(x)


@pytest.mark.parametrize("kind", ["colmajor", "packed"])
def test_an_empty_batch_plans_no_launch(monkeypatch, kind):
    rec = Launches()
    monkeypatch.setattr(colmajor_mod if kind == "colmajor" else packed_mod,
                        f"silu_mul_fp8_{kind}_kernel", rec)
    for _ in range(2):
        q, s = _call(kind, make_x(0, 512))
        assert q.shape == (0, 256) and s.shape[0] == 0
    assert rec.grids == []


def test_the_plan_cache_is_bounded(monkeypatch):
    from kernels import plan
    monkeypatch.setattr(plan, "MAX_PLANS", 3)
    colmajor_mod._PLANS.clear()
    for m in range(1, 8):
        kernels.silu_mul_fp8_colmajor(make_x(m, 256, seed=m))
        assert len(colmajor_mod._PLANS) <= 3


@pytest.mark.parametrize("kind", ["colmajor", "packed"])
def test_a_cached_plan_is_keyed_on_dtype_layout_and_out(kind):
    x = make_x(16, 512, seed=7)
    _call(kind, x)                                             # bf16, out=None: cached
    with pytest.raises(KernelInputError, match="bfloat16 or float16"):
        _call(kind, x.float())                                 # same shape, another dtype
    with pytest.raises(KernelInputError):                      # no strides or storage: no key,
        _call(kind, x.to_sparse())                             # the full validation's message
    q = torch.empty(16, 256, dtype=torch.float8_e4m3fn, device=x.device)
    _call(kind, x, out=q)                                      # a plan with a contiguous out
    strided = torch.empty(16, 512, dtype=torch.float8_e4m3fn, device=x.device)[:, ::2]
    with pytest.raises(KernelInputError, match="contiguous"):
        _call(kind, x, out=strided)
    fp16 = _call(kind, x.half())                               # another dtype, another plan ...
    fresh = (kernels.silu_mul_fp8_colmajor_ref if kind == "colmajor"
             else kernels.silu_mul_fp8_packed_ref)(x.half().cpu())
    assert torch.equal(fp16[0].cpu().view(torch.uint8), fresh[0].view(torch.uint8))  # ... its bits
