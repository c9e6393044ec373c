"""The benchmark (kernels.bench): its byte count, its baselines, its rounds and its files.

Timing itself needs a GPU; everything around it -- what is counted, what the baselines compute, how
rounds interleave and ratios are formed, what is written where -- is checked here on the CPU tier.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

import kernels
from kernels import bench, colmajor, tiles
from kernels import reference as R

from conftest import DEVICE, ROOT, TIER


def _x(m, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(m, n, generator=g) * 3).to(torch.bfloat16).to(DEVICE)


@pytest.mark.parametrize("m,n", [(1, 256), (37, 2_048), (128, 7_168), (5, 1_536)])
def test_bytes_moved_counts_the_tensors_the_references_produce(m, n):
    x = _x(m, n)
    for kernel, ref in (("colmajor", R.silu_mul_fp8_colmajor_ref), ("packed", R.silu_mul_fp8_packed_ref)):
        q, s = ref(x)
        want = x.numel() * x.element_size() + q.numel() * q.element_size() + s.numel() * s.element_size()
        assert bench.bytes_moved(kernel, m, n)["total"] == want   # s is [M, cols]: padding not counted
    assert bench.bytes_moved("colmajor_ue8m0", m, n) == bench.bytes_moved("colmajor", m, n)


def test_provider_table_is_a_table_not_parsed_names():
    ps = bench._providers()
    assert len(ps) == len(set(ps)) and all(k == p.name for k, p in ps.items())
    for p in ps.values():
        assert "-" not in p.name and p.bytes_as in ("colmajor", "packed")
        assert set(p.modes) <= {"call", "kernel", "loop"} and p.modes[0] == "call"
        assert p.tile_of in (None, *tiles.KERNELS)
    assert "split(" not in open(bench.__file__).read()


def test_mix_baseline_reads_and_writes_what_it_claims():
    m, n = 19, 2_048
    x = _x(m, n, 5)
    fn = bench._mix(x)
    fn()
    q, s = fn.outputs
    bits = x.view(torch.int16)
    want = (bits[:, : n // 2] ^ bits[:, n // 2:]).to(torch.int8)   # low byte, two's complement
    assert torch.equal(q, want)
    rows = torch.arange(m, dtype=torch.float32)[:, None]
    assert torch.equal(s, (rows + torch.arange(n // 256)[None, :]).to(DEVICE))
    assert s.stride() == (1, R.round_up(m, 4))


def _no_exp_reference(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The colmajor reference with exp(-g) replaced by g*g, written out from kernels.reference's steps."""
    m, n = x.shape
    g, u = x[:, : n // 2].float(), x[:, n // 2:].float()
    s = (g / (1.0 + g * g)).to(x.dtype).float()
    y = (s * u).to(x.dtype).float().view(m, n // 256, 128)
    scale = y.abs().amax(dim=-1).clamp_min(1e-10) * (1.0 / 448.0)
    q = (y / scale[..., None]).clamp(-448.0, 448.0).to(torch.float8_e4m3fn).view(m, n // 2)
    return q, scale


@pytest.mark.skipif(TIER != "cpu", reason="bit-exact on the CPU tier")
def test_no_exp_variant_is_the_kernel_with_exactly_that_change():
    x = _x(24, 1_024, 9)
    fn = bench._no_exp("colmajor")(x)
    q, s = fn()
    rq, rs = _no_exp_reference(x)
    assert torch.equal(q.view(torch.uint8), rq.view(torch.uint8)) and torch.equal(s, rs)
    # and the module got its kernel back
    assert colmajor.silu_mul_fp8_colmajor_kernel is not None
    q2, _ = kernels.silu_mul_fp8_colmajor(x)
    assert torch.equal(q2.view(torch.uint8), R.silu_mul_fp8_colmajor_ref(x)[0].view(torch.uint8))


def test_loads_first_variant_is_bit_identical_to_the_packed_kernel():
    """kernels.bench.LOADS_FIRST only moves the loads (lesson 09, "The order of loads and stores"):
    same bytes out, the last word's unused lanes and the padding rows included (N/256 = 5 groups, M
    not a multiple of 4)."""
    x = _x(13, 1_280, 5)
    q, s = bench._variant("packed", *bench.LOADS_FIRST, "loads_first")(x)()
    rq, rs = R.silu_mul_fp8_packed_ref(x)
    assert torch.equal(q.view(torch.uint8), rq.view(torch.uint8))
    assert torch.equal(s.t().contiguous(), rs.t().contiguous())   # padding rows too
    assert s.stride() == rs.stride()


def test_the_tune_stage_ships_the_tile_that_is_fast_in_every_round():
    steady = {"tile": "steady", "us": 10.4, "us_rounds": [10.4, 10.5, 10.3]}
    fast_twice = {"tile": "fast twice", "us": 9.6, "us_rounds": [9.6, 12.9, 9.5]}
    assert bench.fastest_every_round([fast_twice, steady]) is steady
    assert bench.fastest_every_round([steady, dict(steady, tile="same, faster median", us=10.3)])["tile"] \
        == "same, faster median"


def test_kernel_variant_refuses_an_expression_that_is_not_there_once():
    with pytest.raises(RuntimeError, match="exactly one"):
        bench.kernel_variant(colmajor, "silu_mul_fp8_colmajor_kernel", "tl.sin(g)", "g", "x")
    with pytest.raises(RuntimeError, match="exactly one"):   # occurs twice
        bench.kernel_variant(colmajor, "silu_mul_fp8_colmajor_kernel", "tl.load(", "tl.load(", "x")


@pytest.mark.parametrize("old,new,error", [
    (("gpu_math.exp_neg(g)", "gpu_math.clamp_e4m3(ys)"), "gy", TypeError),   # a str walks its characters
    ("gpu_math.exp_neg(g)", ("g",), TypeError),
    ((), (), ValueError),
    (("gpu_math.exp_neg(g)",), ("g", "h"), ValueError),
    (("gpu_math.exp_neg(g)", "gpu_math.exp_neg(g)"), ("g", "h"), ValueError),
    (("gpu_math.exp_neg(g)",), ("",), ValueError),
    (("gpu_math.exp_neg(g)",), (None,), ValueError),
    ("gpu_math.exp_neg(g)", "gpu_math.exp_neg(g)", ValueError),   # the variant would be the kernel
])
def test_kernel_variant_refuses_arguments_that_do_not_name_one_change_each(old, new, error):
    with pytest.raises(error):
        bench.kernel_variant(colmajor, "silu_mul_fp8_colmajor_kernel", old, new, "x")


class _FakeTimer:
    """Deterministic times per case, and a log of the order in which cases were timed."""

    def __init__(self, times):
        self.times, self.order = times, []

    def call(self, fn):
        name, rnd = fn()
        self.order.append(name)
        return self.times[name][rnd]


def test_rounds_interleave_and_ratios_are_taken_per_round(tmp_path):
    run = bench.Run(tmp_path, gpu=False, rounds=3, rep_ms=1, budget_s=60, command="test")
    run.timer = _FakeTimer({"copy": [10.0, 20.0, 10.0], "a": [20.0, 20.0, 20.0],
                            "b": [5.0, 10.0, 40.0]})
    counter = {"copy": 0, "a": 0, "b": 0}

    def case(name):
        def fn():
            r = counter[name]
            counter[name] += 1
            return name, r
        return (name, "call", fn, "colmajor", None)

    recs = run.measure(64, 2_048, [case("copy"), case("a"), case("b")])
    assert run.timer.order == ["copy", "a", "b"] * 3
    by = {r["name"]: r for r in recs}
    assert by["copy"]["us"] == 10.0 and by["a"]["us"] == 20.0 and by["b"]["us"] == 10.0
    # per round: a is 0.5x, 1x, 0.5x the copy's throughput -> 0.5; b is 2x, 2x, 0.25x -> 2.0, where the
    # ratio of the two medians (10 us vs 10 us) would have said 1.0
    assert by["a"]["vs_copy"] == 0.5 and by["b"]["vs_copy"] == 2.0
    assert by["b"]["time_vs_copy"] == 0.5


@pytest.mark.skipif(TIER != "cpu", reason="a tiny end-to-end run on the CPU tier (on a GPU: python -m kernels bench)")
def test_stages_write_valid_files_and_resume(tmp_path, monkeypatch):
    """A tiny end-to-end run on the CPU tier: tune -> tiles.json (a valid table) -> targets -> sizes
    -> plots; every JSON carries the device, versions, date, command and each kernel record its tile."""
    monkeypatch.setattr(tiles, "use_table", lambda path: None)   # keep this process's tables as they are
    run = bench.Run(tmp_path, gpu=False, rounds=1, rep_ms=1, budget_s=600, command="test")
    cands = {"colmajor": [(8, 8, 8), (4, 8, 4)], "colmajor_ue8m0": [(8, 8, 8)], "packed": [(8, 4)]}
    table = bench.stage_tune(run, [(8, 1_024)], cands)
    tiles.check_table(json.loads((tmp_path / "tiles.json").read_text()))
    assert set(table["tiles"]) == set(cands)
    bench.stage_targets(run, (8, 1_024), (4, 512), (4, 512))
    bench.stage_sizes(run, (4,), (512,))
    for name in ("tune.json", "tiles.json", "targets.json", "sizes.json"):
        res = json.loads((tmp_path / name).read_text())
        for key in ("device", "torch", "triton", "date", "command"):
            assert res[key], (name, key)
        for r in res.get("records", []):
            assert "error" not in r, r
            if r["name"] in ("colmajor", "colmajor_ue8m0", "packed"):
                assert set(r["tile"]["tile"]) == set(tiles.FIELDS[r["name"]])
    assert json.loads((tmp_path / "targets.json").read_text())["complete"]
    prev = json.loads((tmp_path / "sizes.json").read_text())["records"]
    again = bench.stage_sizes(run, (4, 8), (512,), resume=prev)   # continues: only M=8 is new
    assert {(r["M"], r["N"]) for r in again} == {(4, 512), (8, 512)}
    assert len([r for r in again if r["M"] == 4]) == len(prev)
    pytest.importorskip("matplotlib")
    made = bench.plot(tmp_path)
    assert sorted(p.rsplit("/", 1)[1] for p in made) == ["sizes.png", "targets.png"]


def test_default_output_is_ignored_by_git():
    path = f"{bench.DEFAULT_OUT}/targets.json"
    r = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
    assert r.returncode == 0, f"{path} would be committed: the default output must be ignored"


@pytest.mark.skipif(TIER != "cpu", reason="the no-GPU message")
def test_bench_without_a_gpu_says_so():
    r = subprocess.run([sys.executable, "-m", "kernels", "bench"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 6 and "needs a CUDA GPU" in r.stdout
