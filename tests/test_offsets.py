"""kernels.offsets against the kernels' own index arithmetic, and the exact figures the course quotes.

The brute force here does not share the model's formulas: kernels.probe.trace runs the real
@triton.jit kernels in Triton's interpreter (numpy int32/int64 arithmetic, wrapping like the GPU) for
chosen programs of a launch of any M, and records the element offset of every unmasked load and
store. Each traced program is compared with the offsets it *should* touch, enumerated here in Python
ints from the program id (rows of its row block below M, columns of its column program). A wrap shows
up as an offset ~2**32 away from the right one. The analysis is then checked against that: unsafe
exactly when the traced boundary programs go wrong, over many (M, N, tile) -- including M =
1,398,102, N = 1,536 (packed, int32, rows on axis 0), which the old model called safe.

Tracing needs the interpreter, so those tests run on the CPU tier; on a GPU machine,
tests/test_kernels_gpu.py launches the boundary M's for real.
"""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from kernels import offsets, tier
from kernels.offsets import INT32_MAX, analyze, first_bad_m, moe_workspace_rows, wrap_int32
from conftest import HAS_CUDA, model_first_unsafe

needs_interpreter = pytest.mark.skipif(not tier.INTERPRETED,
                                       reason="kernels.probe.trace replays kernels in the interpreter")


def cdiv(a, b):
    return -(-a // b)


def as_int32(v: int) -> int:
    """What an int32 register holds: numpy's wrapping cast (independent of wrap_int32)."""
    return int(np.array([v], dtype=np.int64).astype(np.int32)[0])


# ---------------------------------------------------------------------------------------------
# what each program should touch (Python ints, from the program id), and what it does touch


def program_cells(kernel, m, n, program, rows_axis, block_m, gpp):
    """(rows, output columns, scale columns) a program covers, from its ids; the scale rows run up
    to round_up(M, 4) (padding rows included), the data rows up to M."""
    g = n // 256
    cols_per = g // gpp if kernel == "colmajor" else cdiv(g, 4)
    if rows_axis == 0:
        pid_m, pid_c = divmod(program[0], cols_per)
    else:
        pid_c, pid_m = program
    r0 = pid_m * block_m
    if kernel == "colmajor":
        scale_cols = range(pid_c * gpp, (pid_c + 1) * gpp)             # its groups
        out_cols = range(pid_c * gpp * 128, (pid_c + 1) * gpp * 128)
    else:
        scale_cols = [pid_c]                                             # its packed word
        out_cols = range(pid_c * 512, min(n // 2, pid_c * 512 + 512))   # its (live) 4 groups
    return r0, range(r0, min(m, r0 + block_m)), out_cols, scale_cols


def expected_accesses(kernel, m, n, program, rows_axis, block_m, gpp):
    """Sorted element offsets of each buffer the program must touch (int64 holds them exactly)."""
    r0, rows, cols, scale_cols = program_cells(kernel, m, n, program, rows_axis, block_m, gpp)
    h = n // 2
    aligned = cdiv(m, 4) * 4
    r = np.arange(rows.start, rows.stop, dtype=np.int64)[:, None]
    c = np.arange(cols.start, cols.stop, dtype=np.int64)[None, :]
    x = np.concatenate([(r * n + c).ravel(), (r * n + c + h).ravel()])
    q = (r * h + c).ravel()
    srows = np.arange(r0, min(aligned, r0 + block_m), dtype=np.int64)
    s = (np.asarray(scale_cols, dtype=np.int64)[:, None] * aligned + srows[None, :]).ravel()
    return {"x": np.sort(x), "q": np.sort(q), "scales": np.sort(s)}


def traced(kernel, m, n, programs, index, rows_axis=0, block_m=8, gpp=1):
    """Sorted element offsets each traced program touched, per buffer; and the raw accesses."""
    from kernels.probe import trace
    acc = trace(kernel, m, n, programs, index=index, rows_axis=rows_axis, block_m=block_m,
                groups_per_program=gpp)
    per = {tuple(p): {"x": [], "q": [], "scales": []} for p in programs}
    for a in acc:
        per[a.program][a.buffer].append(a.offsets)
    return {p: {k: np.sort(np.concatenate(v)) if v else np.zeros(0, np.int64)
                for k, v in d.items()} for p, d in per.items()}, acc


def same(got: dict, want: dict) -> bool:
    return all(np.array_equal(got[k], want[k]) for k in ("x", "q", "scales"))


def boundary_programs(kernel, m, n, rows_axis, block_m, gpp, every_column=False, quick=False):
    """The first row block, the last two holding a row < M (the largest offsets live there) and the
    grid's last one (padding rows only when block_m < 4); the last column program of each, or all.
    quick: only the last column program of the last row block holding a row < M."""
    g = n // 256
    cols = g // gpp if kernel == "colmajor" else cdiv(g, 4)
    blocks = offsets.row_blocks(m, block_m)
    last_live = (m - 1) // block_m
    progs = []
    for pm in ([last_live] if quick else sorted({0, max(0, last_live - 1), last_live, blocks - 1})):
        for pc in (range(cols) if every_column else [cols - 1]):
            progs.append((pm * cols + pc, 0) if rows_axis == 0 else (pc, pm))
    return progs


def kernel_wraps(kernel, m, n, index, rows_axis=0, block_m=8, gpp=1, every_column=False,
                 quick=False):
    """True if a boundary program of the real kernel touches any offset it should not."""
    progs = boundary_programs(kernel, m, n, rows_axis, block_m, gpp, every_column, quick)
    got, _ = traced(kernel, m, n, progs, index, rows_axis, block_m, gpp)
    return not all(same(got[tuple(p)], expected_accesses(kernel, m, n, p, rows_axis, block_m, gpp))
                   for p in progs)




# ---------------------------------------------------------------------------------------------
# the tracer itself: at small sizes every program touches exactly what it should


@needs_interpreter
@pytest.mark.parametrize("kernel,m,n,rows_axis,block_m,gpp", [
    ("colmajor", 13, 1280, 0, 8, 1), ("colmajor", 5, 2048, 0, 1, 4), ("colmajor", 37, 512, 0, 16, 2),
    ("packed", 13, 2304, 0, 8, 1), ("packed", 6, 1280, 1, 2, 1), ("packed", 3, 256, 0, 4, 1),
])
def test_trace_covers_every_element_exactly_once(kernel, m, n, rows_axis, block_m, gpp):
    grid = offsets.grid(kernel, m, n, block_m, rows_axis, gpp)
    progs = [(i, 0) for i in range(grid[0])] if rows_axis == 0 else \
        [(p, r) for p in range(grid[0]) for r in range(grid[1])]
    got, acc = traced(kernel, m, n, progs, "int32", rows_axis, block_m, gpp)
    for p in progs:
        assert same(got[p], expected_accesses(kernel, m, n, p, rows_axis, block_m, gpp)), p
    # as a whole: every x element read once, every output and scale (padding rows included) once
    cols = n // 256 if kernel == "colmajor" else cdiv(n // 256, 4)
    for buf, count in (("x", m * n), ("q", m * n // 2), ("scales", cols * cdiv(m, 4) * 4)):
        every = np.sort(np.concatenate([d[buf] for d in got.values()]))
        assert np.array_equal(every, np.arange(count)), buf
    # the padding rows' scales are stored as 0
    aligned = cdiv(m, 4) * 4
    for a in acc:
        if a.buffer == "scales":
            pad = (a.offsets % aligned) >= m
            assert not np.any(a.values[pad]), f"padding scales written as {a.values[pad]}"


# ---------------------------------------------------------------------------------------------
# the analysis against the traced kernels at the boundary


@needs_interpreter
@pytest.mark.parametrize("index", ["int32", "int64"])
def test_issue_example_packed_1398102(index):
    # the issue's counter-example: the old model said "safe", an H200 crashed
    m, n = 1_398_102, 1_536
    wraps = kernel_wraps("packed", m, n, index, 0, every_column=True)
    a = analyze("packed", m, n, index, 0)
    assert wraps == (index == "int32") == (not a.safe)
    assert not kernel_wraps("packed", m - 1, n, index, 0, every_column=True)
    assert analyze("packed", m - 1, n, index, 0).safe
    if index == "int32":
        assert model_first_unsafe("packed", n, index) == m


def _threshold_cases():
    rng = random.Random(2026)
    cases = []
    # the issue's class: packed, int32, rows on axis 0, every N of 256 .. 32,768
    for k in range(1, 129):
        cases.append(("packed", 256 * k, "int32", 0, 8, 1, True))
    for _ in range(24):
        cases.append(("packed", 256 * rng.randint(1, 160), "int32", rng.randint(0, 1),
                      rng.choice([1, 2, 4, 8, 16, 32, 64, 128]), 1, False))
    for _ in range(40):
        n = 256 * rng.randint(1, 160)
        g = n // 256
        gpp = rng.choice([d for d in (1, 2, 4, 8) if g % d == 0])
        cases.append(("colmajor", n, "int32", 0, rng.choice([1, 2, 4, 8, 16, 32, 64, 128]), gpp,
                      False))
    return [pytest.param(*c, id=f"{c[0]}-N{c[1]}-ax{c[3]}-B{c[4]}-G{c[5]}") for c in cases]


@needs_interpreter
@pytest.mark.parametrize("kernel,n,index,rows_axis,block_m,gpp,quick", _threshold_cases())
def test_first_unsafe_m_is_where_the_kernel_wraps(kernel, n, index, rows_axis, block_m, gpp, quick):
    # quick: only the last live program (the every-N sweep); else the first and last row blocks
    first = model_first_unsafe(kernel, n, index, rows_axis, block_m, gpp)
    a = analyze(kernel, first, n, index, rows_axis, block_m, gpp)
    wraps = kernel_wraps(kernel, first, n, index, rows_axis, block_m, gpp, quick=quick)
    if not a.grid["ok"] and all(e["fits"] for e in a.exprs):
        # the grid limit comes first (upstream's packed grid): no offset wraps there yet
        assert not wraps
        return
    assert wraps, f"analysis: unsafe from M = {first:,}, but the kernel's offsets are right there"
    assert not kernel_wraps(kernel, first - 1, n, index, rows_axis, block_m, gpp, quick=quick), \
        f"analysis: safe at M = {first - 1:,}, but the kernel's offsets wrap there"


@needs_interpreter
def test_rows_times_n_stays_int32_in_the_fixed_colmajor_kernel():
    # rows * N (rows = tl.arange) is int32 even with index="int64": 127 * N > 2**31 for a huge N
    n = 256 * cdiv(INT32_MAX // 127 + 1, 256)
    a = analyze("colmajor", 128, n, "int64", 0, 128, 1)
    c4 = next(e for e in a.exprs if e["name"] == "C4")
    assert c4["type"] == "i32" and not c4["fits"] and not a.safe
    assert kernel_wraps("colmajor", 128, n, "int64", 0, 128, 1)
    assert analyze("colmajor", 128, n, "int64", 0, 64, 1).safe      # 63 * N still fits
    assert not kernel_wraps("colmajor", 128, n, "int64", 0, 64, 1)


@needs_interpreter
@pytest.mark.parametrize("kernel", ["colmajor", "packed"])
def test_int64_is_exact_far_beyond_int32(kernel):
    m, n = 1_000_000_001, 4096        # 4 T elements: offsets ~ 2**42; the 1-D grid still fits
    assert analyze(kernel, m, n, "int64", 0).safe and not analyze(kernel, m, n, "int32", 0).safe
    assert not kernel_wraps(kernel, m, n, "int64", 0, 8, 1)
    assert kernel_wraps(kernel, m, n, "int32", 0, 8, 1)


# ---------------------------------------------------------------------------------------------
# the table and its verdict: one set of numbers


def _random_analyses(count=60, seed=7):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        kernel = rng.choice(["colmajor", "packed"])
        n = 256 * rng.randint(1, 64)
        m = rng.choice([rng.randint(1, 64), rng.randint(1, 5000), rng.randint(200_000, 2_000_000),
                        rng.randint(1, 10**12)])
        b = rng.choice([1, 2, 4, 8, 16, 32, 64, 128])
        axis = rng.randint(0, 1) if kernel == "packed" else 0
        gpp = rng.choice([d for d in (1, 2, 4, 8) if (n // 256) % d == 0]) if kernel == "colmajor" else 1
        out.append((kernel, m, n, rng.choice(["int32", "int64"]), axis, b, gpp))
    return out


@pytest.mark.parametrize("args", _random_analyses())
def test_verdict_is_derived_from_the_table(args):
    a = analyze(*args)
    rows = [ln for ln in a.table().splitlines() if ln[:1] in "CPS" and ln[1:2].isdigit()]
    assert len(rows) == len(a.exprs)
    any_no = any(ln.split()[-4] == "NO" for ln in rows)
    assert all(ln.split()[-4] in ("yes", "NO") for ln in rows)
    grid_bad = "TOO LARGE" in a.table()
    verdict = a.table().splitlines()[-1]
    assert verdict.startswith("verdict: safe") == (not any_no and not grid_bad) == a.safe
    for e in a.exprs:   # each row is internally consistent
        limit = INT32_MAX if e["type"] == "i32" else 2**63 - 1
        assert e["fits"] == (e["max"] <= limit)
        assert e["as_computed"] == (as_int32(e["max"]) if e["type"] == "i32" else e["max"])  # < 2**63
    assert a.grid["ok"] == all(s <= lim for s, lim in zip(a.grid["size"], a.grid["limits"]))


@pytest.mark.parametrize("m,n", [(1, 256), (3, 768), (13, 1280), (37, 2304)])
@pytest.mark.parametrize("kernel", ["colmajor", "packed"])
def test_pointer_extents_by_enumeration(kernel, m, n):
    g = n // 256
    aligned = cdiv(m, 4) * 4
    r, c = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    inp = int((r * n + c).max())
    r, c = np.meshgrid(np.arange(m), np.arange(n // 2), indexing="ij")
    out = int((r * (n // 2) + c).max())
    cols = g if kernel == "colmajor" else cdiv(g, 4)
    r, c = np.meshgrid(np.arange(aligned), np.arange(cols), indexing="ij")   # padding rows too
    sc = int((c * aligned + r).max())
    p = analyze(kernel, m, n).pointers
    assert (p["input"]["max"], p["output"]["max"], p["scales"]["max"]) == (inp, out, sc)


def test_first_bad_m_is_cached_per_n_and_tile():
    offsets.first_bad_m.cache_clear()
    offsets.first_grid_m.cache_clear()
    for m in (1_000, 2_000, 524_416, 10**9):
        analyze("packed", m, 4096, "int32", 1, 8)
    info = offsets.first_bad_m.cache_info()
    per_analysis = 2 * len(offsets.EXPRS["packed"])   # first bad M, and aligned to 128
    assert info.misses <= per_analysis and info.hits >= 3 * per_analysis - per_analysis
    assert offsets.first_grid_m.cache_info().misses == 1


# ---------------------------------------------------------------------------------------------
# the grid: one function, also used by the launchers


@pytest.mark.parametrize("kernel,m,n,b,axis,gpp,want", [
    ("colmajor", 524_416, 1536, 8, 0, 2, (65_552 * 3,)),   # 6 groups / 2 per program
    ("colmajor", 5, 512, 1, 0, 1, (8 * 2,)),                 # rows 5..7 are padding: 8 row blocks
    ("packed", 524_416, 4096, 8, 1, 1, (4, 65_552)),
    ("packed", 65_535, 256, 1, 1, 1, (1, 65_536)),           # round_up(65,535, 4) = 65,536 rows
    ("packed", 13, 2304, 8, 0, 1, (2 * 3,)),
])
def test_grid(kernel, m, n, b, axis, gpp, want):
    assert offsets.grid(kernel, m, n, b, axis, gpp) == want


def test_grid_refuses_a_non_divisor():
    with pytest.raises(ValueError, match="must divide the 6 groups"):
        offsets.grid("colmajor", 524_416, 1536, 8, 0, 8)


# ---------------------------------------------------------------------------------------------
# the figures quoted in the course (kernels.md §7, the issue and the PR)


def test_pr_shape_largest_input_offset():
    a = analyze("colmajor", 524_416, 4096, "int32")
    assert a.pointers["input"]["max"] == 2_148_007_935
    assert 524_416 * 4096 - 1 == 2_148_007_935


def test_issue_workspace_figure():
    assert moe_workspace_rows(36_000, 16, 8, 16) == 4_610_048
    a = analyze("colmajor", 4_610_048, 4096, "int32")
    assert a.pointers["input"]["max"] == 18_882_756_607
    assert not next(e for e in a.exprs if e["name"] == "C1")["fits"]
    assert analyze("packed", 4_610_048, 4096, "int64", 1).grid["size"][1] == 576_256


@pytest.mark.parametrize("name,n,first8,first128", [
    ("C1", 4096, 524_296, 524_416), ("C1", 2048, 1_048_584, 1_048_704),
    ("C2", 4096, 1_048_584, 1_048_704), ("C2", 2048, 2_097_160, 2_097_280),
])
def test_colmajor_thresholds(name, n, first8, first128):
    assert first_bad_m("colmajor", name, n, 8, 8) == first8
    assert first_bad_m("colmajor", name, n, 8, 128) == first128


def test_colmajor_524288_is_safe():
    a = analyze("colmajor", 524_288, 4096, "int32")
    c1 = next(e for e in a.exprs if e["name"] == "C1")
    assert c1["max"] == 2_147_450_880 and c1["fits"] and a.safe
    assert not analyze("colmajor", 524_416, 4096, "int32").safe


@pytest.mark.parametrize("n,first,first128", [
    # kernels.md §7's P1 figures hold where N is a power of two; for others the load offset
    # x_row + gid * 128 + k (P7) leaves int32 one row before x_row (P1) does
    (4096, 524_289, 524_416), (2048, 1_048_577, 1_048_704), (8192, 262_145, 262_272),
    (1536, 1_398_102, 1_398_144), (14336, 149_798, 149_888), (6144, 349_526, 349_568),
])
def test_packed_thresholds(n, first, first128):
    assert first_bad_m("packed", "P7", n, 8) == first
    assert first_bad_m("packed", "P7", n, 8, 128) == first128
    assert model_first_unsafe("packed", n, "int32") == first


@pytest.mark.parametrize("n", [256, 2048, 4096, 8192, 14336])
def test_packed_grid_y_limit_is_n_independent(n):
    a = analyze("packed", 524_416, n, "int64", rows_axis=1)
    assert a.grid["first_bad_M"] == 524_281 and not a.grid["ok"]
    assert analyze("packed", 524_280, n, "int64", 1).grid["ok"]          # 65,535 row blocks
    assert not analyze("packed", 524_281, n, "int64", 1).grid["ok"]      # 65,536
    fixed = analyze("packed", 524_416, n, "int64", 0)
    assert fixed.safe and fixed.grid["size"] == [cdiv(524_416, 8) * cdiv(n // 256, 4)]
    assert fixed.grid["first_bad_M"] > 10**9


def test_wrap_example_from_the_pr_shape():
    v = 524_408 * 4096
    assert wrap_int32(v) == -2_146_992_128 == as_int32(v)
    c1 = next(e for e in analyze("colmajor", 524_416, 4096, "int32").exprs if e["name"] == "C1")
    assert c1["as_computed"] == -2_146_992_128


@pytest.mark.parametrize("v", [0, 1, INT32_MAX, INT32_MAX + 1, 2**32, 2**32 + 5, -1, -2**31,
                               -2**31 - 1, 18_882_756_607, 2**40 + 2**31])
def test_wrap_int32_matches_a_real_int32_cast(v):
    assert wrap_int32(v) == as_int32(v)
    assert wrap_int32(v) == int(torch.tensor([v], dtype=torch.int64).to(torch.int32)[0])


def test_analysis_json_and_table_carry_the_numbers():
    a = analyze("colmajor", 524_416, 4096, "int32")
    d = json.loads(a.to_json())
    assert d["safe"] is False and d["pointers"]["input"]["max"] == 2_148_007_935
    assert "-2,146,992,128" in a.table() and "verdict: UNSAFE" in a.table()


@pytest.mark.parametrize("args,match", [
    (("rowmajor", 8, 256), "kernel must be"), (("colmajor", 8, 300), "multiple of 256"),
    (("colmajor", 0, 256), "M >= 1"), (("colmajor", 8, 256, "int16"), "index must be"),
    (("colmajor", 8, 256, "int32", 1), "axis 0"), (("packed", 8, 256, "int32", 2), "rows_axis"),
    (("colmajor", 8, 256, "int32", 0, 3), "power of two"),
    (("colmajor", 8, 1536, "int32", 0, 8, 4), "must divide"),
])
def test_analyze_rejects_nonsense(args, match):
    with pytest.raises(ValueError, match=match):
        analyze(*args)


# ---------------------------------------------------------------------------------------------
# the CLI (python -m kernels ...): several child processes started together


CLI = {
    "text": ["overflow", "--M", "524416", "--N", "4096", "--upstream"],
    "json": ["overflow", "--M", "524416", "--N", "4096", "--upstream", "--json"],
    "issue": ["overflow", "--M", "1398102", "--N", "1536", "--kernel", "packed", "--index", "int32",
              "--rows-axis", "0"],
    "gcd": ["overflow", "--M", "524416", "--N", "1536", "--kernel", "colmajor"],
    "help": ["--help"],
}
BAD = {
    "M0": (["overflow", "--M", "0"], "--M: must be a positive integer"),
    "Mfloat": (["overflow", "--M", "1e6"], "--M: must be a positive integer"),
    "N100": (["overflow", "--N", "100"], "--N: must be a positive multiple of 256"),
    "bm-8": (["overflow", "--block-m", "-8"], "--block-m: must be a power of two in [1, 128]"),
    "bm0": (["overflow", "--block-m", "0"], "--block-m: must be a power of two"),
    "bm3": (["overflow", "--block-m", "3"], "--block-m: must be a power of two"),
    "gpp8": (["overflow", "--N", "1536", "--kernel", "colmajor", "--groups-per-program", "8"],
             "does not divide the 6 groups"),
    "gpp0": (["overflow", "--groups-per-program", "0"], "--groups-per-program: must be a power"),
    "axis2": (["overflow", "--rows-axis", "2"], "invalid choice"),
    "repro-nan": (["repro", "--timeout", "nan"], "--timeout: must be a finite number > 0"),
    "repro-neg": (["repro", "--timeout", "-1"], "--timeout: must be a finite number > 0"),
    "repro-M": (["repro", "--M", "-5"], "--M: must be a positive integer"),
    "repro-N": (["repro", "--N", "384"], "--N: must be a positive multiple of 256"),
    "repro-warps": (["repro", "--num-warps", "3"], "--num-warps: must be a power of two in [1, 32]"),
    "repro-axis-colmajor": (["repro", "--kernel", "colmajor", "--rows-axis", "1"],
                            "the colmajor kernel always puts rows on grid axis 0"),
    # found by the adversarial review: accepted before, then ignored or crashing later
    "repro-seed": (["repro", "--seed", "99999999999999999999999"], "--seed: must be an integer in [0, 2**63)"),
    "packed-gpp": (["overflow", "--kernel", "packed", "--groups-per-program", "2"],
                   "--groups-per-program is a colmajor option"),
    "compile-arch": (["compile", "--arch", "999"], "--arch: must be a compute capability"),
    "compile-jobs": (["compile", "--jobs", "0"], "--jobs: must be a positive integer"),
}


@pytest.fixture
def cli(capsys):
    """Run `python -m kernels <case>` in this process (argparse exits with 2 on a bad argument)."""
    from kernels.__main__ import main

    def run(case):
        argv = CLI[case] if case in CLI else BAD[case][0] if case in BAD else ["repro"]
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
        out, err = capsys.readouterr()
        return rc, out, err
    return run


def test_cli_overflow_text(cli):
    rc, out, err = cli("text")
    assert rc == 1, err            # unsafe: the exit status says so too
    assert "C1" in out and "-2,146,992,128" in out and "524,416" in out
    assert "TOO LARGE from M = 524,281" in out     # the packed kernel's grid (rows on axis 1)


def test_cli_overflow_json(cli):
    rc, out, err = cli("json")
    assert rc == 1, err
    col, pk = json.loads(out)
    assert (col["kernel"], pk["kernel"]) == ("colmajor", "packed")
    assert (col["index"], pk["index"], pk["rows_axis"]) == ("int32", "int32", 1)
    c1 = next(e for e in col["exprs"] if e["name"] == "C1")
    assert (c1["max"], c1["as_computed"], c1["fits"]) == (2_147_975_168, -2_146_992_128, False)
    assert pk["grid"]["size"] == [4, 65_552] and pk["grid"]["first_bad_M"] == 524_281
    # the launcher's default tile: 8 groups per program -> 65,552 row blocks x 2 column programs
    assert col["grid"]["size"] == [65_552 * 2] and col["grid"]["ok"] is True
    assert col["safe"] is False and pk["safe"] is False


def test_cli_issue_example_is_unsafe(cli):
    rc, out, err = cli("issue")
    assert rc == 1, err
    assert "verdict: UNSAFE" in out and "P7" in out, out


def test_cli_exit_status_is_the_verdict(cli):
    assert cli("gcd")[0] == 0                       # the fixed kernel at the issue's M: safe
    assert cli("text")[0] == 1                      # upstream's: unsafe


def test_cli_grid_is_the_launchers(cli):
    rc, out, err = cli("gcd")
    assert rc == 0, err
    # 6 groups: the default picks 2 per program (as the launcher does) -> 3 column programs
    assert f"axis 0: {65_552 * 3:,}" in out and "2 groups per program" in out, out


def test_cli_help_lists_every_subcommand(cli):
    rc, out, err = cli("help")
    assert rc == 0
    for sub in ("overflow", "repro", "bench", "tier"):
        assert sub in out


@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_bad_arguments_are_clear_errors(cli, case):
    rc, out, err = cli(case)
    assert rc == 2, (case, rc, out, err)
    assert "Traceback" not in err
    assert BAD[case][1] in err, err


def test_cli_repro_without_gpu(cli):
    if HAS_CUDA:
        pytest.skip("this machine has a CUDA GPU: the no-GPU verdict does not apply")
    rc, out, err = cli("repro")
    assert "NO-GPU" in out, out + err
    assert "colmajor index=int64, M=524,416 N=4,096" in out
    assert rc == 6


@pytest.mark.parametrize("kernel,index,axis", [("colmajor", "int64", 0), ("colmajor", "int32", 0),
                                               ("packed", "int64", 0), ("packed", "int64", 1),
                                               ("packed", "int32", 0)])
@pytest.mark.parametrize("block_m", [8, 128])
def test_absurd_m_is_never_safe(kernel, index, axis, block_m):
    # the issue: M = 10**12 was called safe. Every grid runs out first (or an offset wraps)
    a = analyze(kernel, 10**12, 4096, index, axis, block_m, 1)
    assert not a.safe and a.problems
