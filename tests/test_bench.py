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


@pytest.mark.parametrize("clamp", [None, 0.75], ids=["no-clamp", "clamp"])
def test_group_loop_variant_is_bit_identical_to_the_packed_kernel(clamp):
    """kernels.bench.group_loop() only changes the structure (lesson 09, "The word as one tile"): the
    reference's bytes out, the last word's unused lanes and the scales' padding rows included (N/256 =
    5 groups, M not a multiple of 4), read from the scales' storage; with and without the clamp."""
    x = _x(13, 1_280, 5)
    q, s = bench._variant("packed", *bench.group_loop(), "group_loop", clamp_limit=clamp)(x)()
    rq, rs = R.silu_mul_fp8_packed_ref(x, clamp_limit=clamp)
    assert torch.equal(q.view(torch.uint8), rq.view(torch.uint8))
    assert s.stride() == rs.stride()
    words, stride = s.shape[1], s.stride(1)
    assert torch.equal(s.as_strided((words, stride), (stride, 1)),      # rows 13..15 too
                       rs.as_strided((words, stride), (stride, 1)))


@pytest.mark.skipif(TIER != "cpu", reason="kernels.probe.trace replays kernels in the interpreter")
def test_group_loop_variant_reads_and_writes_exactly_what_the_kernel_does(monkeypatch):
    """Every unmasked load and store of the variant, traced in the interpreter, against the kernel's:
    a variant that dropped a mask would read past x (the padding rows, the last word's unused lanes)
    without changing a stored byte."""
    from kernels import offsets, packed, probe
    m, n, block_m = 6, 1_280, 4
    programs = [(p, 0) for p in range(offsets.grid("packed", m, n, block_m, 0)[0])]

    def accesses():
        out = {}
        for a in probe.trace("packed", m, n, programs, block_m=block_m):
            out.setdefault((a.buffer, a.store), []).extend(a.offsets.tolist())
        return {k: sorted(v) for k, v in out.items()}

    want = accesses()
    monkeypatch.setattr(packed, "silu_mul_fp8_packed_kernel",
                        bench.kernel_variant(packed, "silu_mul_fp8_packed_kernel", *bench.group_loop(),
                                             "group_loop"))
    got = accesses()
    assert got == want
    assert 0 <= min(got[("x", False)]) and max(got[("x", False)]) < m * n


def test_the_group_loop_provider_builds_that_variant(monkeypatch):
    seen = []
    real = bench.kernel_variant
    monkeypatch.setattr(bench, "kernel_variant", lambda *a: seen.append(a[2:]) or real(*a))
    bench._providers()["packed_group_loop"].make(_x(8, 1_024))
    assert seen == [(*bench.group_loop(), "group_loop")]


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
    # what each stage records: lesson 09 reads these names
    for name, shape, want in (("targets.json", (8, 1_024), {"mix_baseline", "packed_group_loop"}),
                              ("targets.json", (4, 512), {"mix_baseline", "packed_group_loop"}),
                              ("sizes.json", (4, 512), {"mix_baseline", "packed"})):
        names = {r["name"] for r in json.loads((tmp_path / name).read_text())["records"]
                 if (r["M"], r["N"]) == shape}
        assert want <= names, (name, shape, want - names)
    prev = json.loads((tmp_path / "sizes.json").read_text())["records"]
    again = bench.stage_sizes(run, (4, 8), (512,), resume=prev)   # continues: only M=8 is new
    assert {(r["M"], r["N"]) for r in again} == {(4, 512), (8, 512)}
    assert len([r for r in again if r["M"] == 4]) == len(prev)
    pytest.importorskip("matplotlib")
    made = bench.plot(tmp_path)
    assert sorted(p.rsplit("/", 1)[1] for p in made) == ["sizes.png", "targets.png"]


class _TileTimer:
    """Fake GPU timer for the tune stage: times by tile and round, and the modes it was asked for."""

    def __init__(self, by_block_m):
        self.by_block_m, self.rounds, self.modes, self.loop_ms = by_block_m, {}, [], set()

    def _time(self, mode, fn):
        tile = (fn.__defaults__ or (None, {}))[1]    # the stage's lambdas bind their tile
        key = tile.get("block_m", "copy") if isinstance(tile, dict) else "copy"
        self.modes.append((key, mode))
        rnd = self.rounds[(key, mode)] = self.rounds.get((key, mode), -1) + 1
        return self.by_block_m.get(key, [10.0] * 9)[rnd]

    def call(self, fn):
        return self._time("call", fn)

    def kernel(self, fn):
        return self._time("kernel", fn)

    def loop(self, fn, ms=None):
        self.loop_ms.add(ms)
        return self._time("loop", fn), 1.0


def _fake_gpu_run(tmp_path, monkeypatch):
    """A bench.Run that takes the GPU branches on this machine: give it a fake timer, nothing launches."""
    monkeypatch.setattr(tiles, "use_table", lambda path: None)   # keep this process's tables
    run = bench.Run(tmp_path, gpu=False, rounds=3, rep_ms=1, budget_s=600, command="test", log=lambda s: None)
    run.gpu = True
    monkeypatch.setattr(run, "x", lambda m, n: torch.zeros(1, n, dtype=torch.bfloat16))
    return run


def test_the_tune_stage_times_large_m_back_to_back_and_ships_the_steady_tile(tmp_path, monkeypatch):
    """On a GPU (faked here: no kernel runs), M > 16,384 is timed as back-to-back calls of
    bench.SUSTAINED_MS each against the copy's own loop, M <= 16,384 as kernel-only replays; each
    bucket ships the tile whose slowest round was the fastest, not the one with the best median."""
    run = _fake_gpu_run(tmp_path, monkeypatch)
    for m, bucket, mode, copy_modes in ((20_000, "M>16384", "loop", {"call", "loop"}),
                                        (4_096, "M<=16384", "kernel", {"call"})):
        run.timer = _TileTimer({16: [9.6, 12.9, 9.5], 8: [10.4, 10.5, 10.3]})
        table = bench.stage_tune(run, [(m, 1_024)], {"packed": [(16, 4), (8, 4)]})
        assert table["tiles"]["packed"][bucket]["1024"]["block_m"] == 8, m
        assert {md for k, md in run.timer.modes if k != "copy"} == {mode}, m
        assert {md for k, md in run.timer.modes if k == "copy"} == copy_modes, m
        assert run.timer.loop_ms == ({bench.SUSTAINED_MS} if mode == "loop" else set()), m
    recs = json.loads((tmp_path / "tune.json").read_text())["records"]
    assert all("vs_copy" in r for r in recs if r["name"] == "packed")


def test_a_tile_that_failed_in_some_round_is_never_shipped(tmp_path, monkeypatch):
    """measure() keeps the rounds a case completed before it raised; such a record carries the error,
    and the tune stage does not ship it however fast its one round was."""
    run = _fake_gpu_run(tmp_path, monkeypatch)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)   # measure() syncs after an error
    timer = _TileTimer({16: [1.0], 8: [10.4, 10.5, 10.3]})   # block_m 16 raises after its first round
    run.timer = timer
    table = bench.stage_tune(run, [(20_000, 1_024)], {"packed": [(16, 4), (8, 4)]})
    assert table["tiles"]["packed"]["M>16384"]["1024"]["block_m"] == 8
    broken = [r for r in json.loads((tmp_path / "tune.json").read_text())["records"]
              if r["name"] == "packed" and r["tile"]["tile"]["block_m"] == 16]
    assert broken and "error" in broken[0]


def test_default_output_is_ignored_by_git():
    path = f"{bench.DEFAULT_OUT}/targets.json"
    r = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
    assert r.returncode == 0, f"{path} would be committed: the default output must be ignored"


@pytest.mark.parametrize("setup,says", [
    (None, "is not a folder"),                                            # a folder that is not there
    ({}, "has no sizes.json or targets.json"),                            # nothing to plot
    ({"sizes.json": "{not json"}, "sizes.json is not a bench recording"),     # truncated
    ({"sizes.json": '{"records": [{"M": "x", "N": 1, "vs_copy": 1}]}'}, "sizes.json is not a bench"),
    ({"targets.json": '{"records": []}'}, "targets.json is not a bench recording"),
], ids=["missing", "empty", "not-json", "bad-fields", "no-records"])
def test_plot_refuses_what_is_not_a_recording_with_a_message(tmp_path, setup, says):
    """bench --plot on a missing or empty folder, or on a hand-broken file: exit 2 and one line saying
    what is wrong, no traceback and no partial success (before: a traceback, or nothing and exit 0)."""
    folder = tmp_path / "rec"
    if setup is not None:
        folder.mkdir()
        for name, text in setup.items():
            (folder / name).write_text(text)
    r = subprocess.run([sys.executable, "-m", "kernels", "bench", "--plot", str(folder)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr[-2000:])
    assert says in r.stdout and "Traceback" not in r.stdout + r.stderr, (r.stdout, r.stderr[-2000:])


def test_lesson_tables_read_broken_recordings_with_a_message(tmp_path, monkeypatch):
    """course.perf's size and clock tables on a recording whose fields are wrong: a line, not a traceback."""
    from course import perf, recorded
    (tmp_path / "h200").mkdir()
    (tmp_path / "h200" / "sizes.json").write_text('{"records": [{"vs_copy": 1.0, "M": 8}]}')
    (tmp_path / "h200" / "clocks.json").write_text('{"M": 8, "N": 256, "phase_s": 6, "phases": [{"name": "x"}]}')
    monkeypatch.setattr(recorded, "ROOT", tmp_path)
    for table, name in ((perf.sizes_table, "sizes"), (perf.clocks_table, "clocks")):
        out = table("h200")
        assert out.startswith(f"(results/gpu/h200/{name}.json is not a recording this table can read"), out


@pytest.mark.skipif(TIER != "cpu", reason="the no-GPU message")
def test_bench_without_a_gpu_says_so():
    r = subprocess.run([sys.executable, "-m", "kernels", "bench"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 6 and "needs a CUDA GPU" in r.stdout


def test_lesson_tables_read_failed_records_and_other_modes():
    """course.perf's tables of bench records (lesson 09): a case that failed gets a line saying so, not a
    traceback; tune_table's ratio is the record's own (its copy in the same mode), failed tiles are
    left out, and a shape without records says so."""
    from course import perf
    rows = [{"name": "copy", "mode": "call", "M": 8, "N": 256, "us": 10.0, "tbps": 2.0},
            {"name": "packed_group_loop", "mode": "kernel", "M": 8, "N": 256, "error": "RuntimeError: x"}]
    table = perf.ratio_table(perf.pick_rows(rows, 8, 256, modes=("call", "kernel")))
    assert "failed: RuntimeError: x" in table
    tune = [{"name": "copy", "mode": "call", "M": 8, "N": 256, "us": 10.0, "tbps": 2.0},
            {"name": "copy", "mode": "loop", "M": 8, "N": 256, "us": 9.0, "tbps": 2.2},
            {"name": "packed", "mode": "loop", "M": 8, "N": 256, "us": 9.0, "tbps": 2.2, "vs_copy": 1.0,
             "tile": {"tile": {"block_m": 8, "num_warps": 4}}},
            {"name": "packed", "mode": "loop", "M": 8, "N": 256, "us": 1.0, "tbps": 20.0, "vs_copy": 9.0,
             "error": "RuntimeError: y", "tile": {"tile": {"block_m": 16, "num_warps": 4}}}]
    lines = perf.tune_table(tune, 8, 256).splitlines()
    assert len(lines) == 2 and lines[1].split()[1:] == ["8", "-", "4", "2.200", "1.000"]
    assert perf.tune_table(tune, 8, 512) == "(no tune records at M = 8, N = 512)"


def test_a_loop_runs_for_about_the_time_it_is_given(monkeypatch):
    """Timer.loop (faked events: each measured stretch 2 ms): with ms, about ms / 2 calls, at most
    2,000; without, a quarter of rep_ms. The tune stage's SUSTAINED_MS reaches the loop only this way."""
    class Event:
        def __init__(self, **kw):
            pass

        def record(self):
            pass

        def elapsed_time(self, other):
            return 2.0
    monkeypatch.setattr(torch.cuda, "Event", Event)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    timer = bench.Timer(True, 100)
    for ms, want in ((400, 200), (None, 12), (10_000, 2_000), (1, 3)):
        calls = []
        timer.loop(lambda c=calls: c.append(1), ms)
        assert len(calls) == 2 + want, (ms, len(calls))   # a warm-up call, a timed one, then the loop


@pytest.mark.parametrize("args", [["--rounds", "0"], ["--rounds", "-1"], ["--rep-ms", "0"],
                                  ["--budget-s", "-5"], ["--budget-s", "nan"], ["--rounds", "x"]])
def test_bench_refuses_counts_that_measure_nothing(args):
    """Zero or negative rounds, rep or budget (and NaN) are usage errors before anything runs."""
    r = subprocess.run([sys.executable, "-m", "kernels", "bench", "--dry-run", *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "must be a number >=" in r.stderr, (r.returncode, r.stderr[-1500:])
