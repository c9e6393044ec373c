"""kernels.offsets against brute force, and the exact figures the course quotes.

Brute force = enumerate every program id (and every row lane) of a launch, evaluate the index
expression the kernel computes for it, and take the maximum over the lanes that are dereferenced
(live rows). numpy int64 does the enumeration so M up to a few million stays fast; int64 holds
every value exactly here. The int32 view of a value is numpy's own int64 -> int32 cast.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from kernels import offsets
from kernels.offsets import INT32_MAX, analyze, first_bad_m, moe_workspace_rows, wrap_int32
from conftest import HAS_CUDA, ROOT


def cdiv(a, b):
    return -(-a // b)


def brute_max(kernel: str, name: str, m: int, n: int, block_m: int) -> int:
    """Largest value of expression `name` over every program id and live row lane."""
    g = n // 2 // 128
    aligned = cdiv(m, 4) * 4
    if kernel == "colmajor":
        if name == "S1":
            return int((np.arange(g, dtype=np.int64) * aligned).max())
        pid_m = np.arange(cdiv(m, block_m), dtype=np.int64)
        row0 = pid_m * block_m
        if name == "C3":
            v = row0
        elif name == "C1":
            v = row0 * n
        elif name == "C2":
            v = row0 * (n // 2)
        else:
            raise KeyError(name)
        return int(v.max())
    if name == "P3":
        return int((np.arange(cdiv(g, 4), dtype=np.int64) * aligned).max())
    pid_m = np.arange(cdiv(m, block_m), dtype=np.int64)
    rows = pid_m[:, None] * block_m + np.arange(block_m, dtype=np.int64)[None, :]
    live = rows[rows < m]                     # masked lanes compute offsets but never load them
    if name == "P1":
        v = live * n
    elif name == "P2":
        v = live * (n // 2)
    else:
        raise KeyError(name)
    return int(v.max())


def as_int32(v: int) -> int:
    """What an int32 register holds: numpy's wrapping cast (independent of wrap_int32)."""
    return int(np.array([v], dtype=np.int64).astype(np.int32)[0])


def _random_launches(count=24, seed=7):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        kernel = rng.choice(["colmajor", "packed"])
        m = rng.choice([rng.randint(1, 64), rng.randint(1, 5000), rng.randint(200_000, 700_000)])
        n = 256 * rng.randint(1, 64)
        block_m = rng.choice([1, 2, 4, 8, 16, 32, 64, 128])
        out.append(pytest.param(kernel, m, n, block_m, id=f"{kernel}-M{m}-N{n}-B{block_m}"))
    return out


@pytest.mark.parametrize("index", ["int32", "int64"])
@pytest.mark.parametrize("kernel,m,n,block_m", _random_launches())
def test_analysis_matches_brute_force(kernel, m, n, block_m, index):
    rows_axis = 1 if kernel == "packed" and m % 2 else 0
    a = analyze(kernel, m, n, index, rows_axis, block_m)
    names = [e["name"] for e in a.exprs]
    assert names == (["C3", "C1", "C2", "S1"] if kernel == "colmajor" else ["P1", "P2", "P3"])
    for e in a.exprs:
        want = brute_max(kernel, e["name"], m, n, block_m)
        assert e["max"] == want, f"{e['name']}: analysis {e['max']:,}, brute force {want:,}"
        assert e["type"] == ("i32" if index == "int32" else "i64")
        fits = want <= INT32_MAX or index == "int64"
        assert e["fits"] == fits
        assert e["as_computed"] == (as_int32(want) if index == "int32" else want)
    # the grid: the course's 1-D grid of (row block, column block) tiles (limit 2**31-1), or
    # upstream's packed grid (words, row blocks) whose axis 1 is capped at 65,535
    g = n // 256
    cols = g if kernel == "colmajor" else cdiv(g, 4)
    size = [cdiv(m, block_m) * cols] if rows_axis == 0 else [cols, cdiv(m, block_m)]
    assert a.grid["size"] == size
    limits = [2**31 - 1, 65_535][:len(size)]
    assert a.grid["limits"] == limits
    assert a.grid["ok"] == all(s <= lim for s, lim in zip(size, limits))
    assert a.safe == (all(e["fits"] for e in a.exprs) and a.grid["ok"])


@pytest.mark.parametrize("m,n", [(1, 256), (3, 768), (13, 1280), (37, 2304)])
@pytest.mark.parametrize("kernel", ["colmajor", "packed"])
def test_pointer_extents_by_enumeration(kernel, m, n):
    # every element offset each kernel dereferences, enumerated
    g = n // 256
    aligned = cdiv(m, 4) * 4
    r, c = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    inp = int((r * n + c).max())
    r, c = np.meshgrid(np.arange(m), np.arange(n // 2), indexing="ij")
    out = int((r * (n // 2) + c).max())
    cols = g if kernel == "colmajor" else cdiv(g, 4)
    r, c = np.meshgrid(np.arange(m), np.arange(cols), indexing="ij")
    sc = int((c * aligned + r).max())
    p = analyze(kernel, m, n).pointers
    assert (p["input"]["max"], p["output"]["max"], p["scales"]["max"]) == (inp, out, sc)


def _first_bad_cases():
    cases = []
    for kernel, names in (("colmajor", ("C1", "C2", "C3", "S1")), ("packed", ("P1", "P2", "P3"))):
        for name in names:
            for n in (256, 2048, 4096, 6144, 14336):
                for multiple in (1, 8, 128):
                    cases.append(pytest.param(kernel, name, n, multiple,
                                              id=f"{name}-N{n}-x{multiple}"))
    return cases


@pytest.mark.parametrize("kernel,name,n,multiple", _first_bad_cases())
def test_first_bad_m_is_the_boundary(kernel, name, n, multiple):
    first = first_bad_m(kernel, name, n, 8, multiple)
    if first is None:    # only a single scale column (one group / one pack): the base is always 0
        assert name in ("S1", "P3"), f"{name} N={n}: no first bad M below 2**44?"
        assert brute_max(kernel, name, 2**44, n, 8) == 0
        return
    assert first % multiple == 0
    if first > 4_000_000:  # S1, P3, C3 at astronomically large M: the closed form is brute force enough
        e = next(e for e in offsets.EXPRS[kernel] if e.name == name)
        assert e.value(first - multiple, n, 8) <= INT32_MAX < e.value(first, n, 8)
        return
    assert brute_max(kernel, name, first - multiple, n, 8) <= INT32_MAX, "one step earlier must fit"
    assert brute_max(kernel, name, first, n, 8) > INT32_MAX, "first_bad_m itself must overflow"


# ---------------------------------------------------------------------------------------------
# the figures quoted in the course (kernels.md §7, the issue and the PR)


def test_pr_shape_largest_input_offset():
    a = analyze("colmajor", 524_416, 4096, "int32")
    assert a.pointers["input"]["max"] == 2_148_007_935
    assert not a.pointers["input"]["fits_int32"]
    assert 524_416 * 4096 - 1 == 2_148_007_935


def test_issue_workspace_figure():
    assert moe_workspace_rows(36_000, 16, 8, 16) == 4_610_048
    assert moe_workspace_rows(36_000, 16, 8, 16, align=128) % 128 == 0
    a = analyze("colmajor", 4_610_048, 4096, "int32")
    assert a.pointers["input"]["max"] == 18_882_756_607
    assert not next(e for e in a.exprs if e["name"] == "C1")["fits"]
    # and the packed kernel would need a grid y of 576,256 (far beyond 65,535)
    assert analyze("packed", 4_610_048, 4096, "int64", 1).grid["size"][1] == 576_256


@pytest.mark.parametrize("name,n,first8,first128", [
    ("C1", 4096, 524_296, 524_416), ("C1", 2048, 1_048_584, 1_048_704),
    ("C2", 4096, 1_048_584, 1_048_704), ("C2", 2048, 2_097_160, 2_097_280),
])
def test_colmajor_thresholds(name, n, first8, first128):
    # the upstream colmajor launcher accepts only M % 8 == 0 (and vLLM's M_sum is a multiple of 128)
    assert first_bad_m("colmajor", name, n, 8, 8) == first8
    assert first_bad_m("colmajor", name, n, 8, 128) == first128


def test_colmajor_524288_is_safe():
    a = analyze("colmajor", 524_288, 4096, "int32")
    c1 = next(e for e in a.exprs if e["name"] == "C1")
    assert c1["max"] == 2_147_450_880 and c1["fits"] and a.safe
    c1 = next(e for e in analyze("colmajor", 524_416, 4096, "int32").exprs if e["name"] == "C1")
    assert (c1["first_bad_M"], c1["first_bad_M_aligned"]) == (524_289, 524_416)


@pytest.mark.parametrize("name,n,first,first128", [
    ("P1", 4096, 524_289, 524_416), ("P1", 2048, 1_048_577, 1_048_704),
    ("P2", 4096, 1_048_577, 1_048_704), ("P2", 2048, 2_097_153, 2_097_280),
    ("P1", 8192, 262_145, 262_272), ("P1", 6144, 349_527, 349_568), ("P1", 14336, 149_798, 149_888),
])
def test_packed_thresholds(name, n, first, first128):
    assert first_bad_m("packed", name, n, 8) == first
    assert first_bad_m("packed", name, n, 8, 128) == first128
    e = next(e for e in analyze("packed", first, n, "int32").exprs if e["name"] == name)
    assert e["first_bad_M"] == first and not e["fits"]


@pytest.mark.parametrize("n", [256, 2048, 4096, 8192, 14336])
def test_packed_grid_y_limit_is_n_independent(n):
    a = analyze("packed", 524_416, n, "int64", rows_axis=1)
    assert a.grid["first_bad_M"] == 524_281 and not a.grid["ok"]
    assert analyze("packed", 524_280, n, "int64", 1).grid["ok"]          # 65,535 row blocks
    assert not analyze("packed", 524_281, n, "int64", 1).grid["ok"]      # 65,536
    # aligned to vLLM's 128: 524,160 launches, 524,288 does not
    assert analyze("packed", 524_160, n, "int64", 1).grid["ok"]
    assert not analyze("packed", 524_288, n, "int64", 1).grid["ok"]
    # the fixed 1-D grid of cdiv(M, 8) * words tiles is limited only by 2**31 - 1 tiles, and int64
    # leaves no i32 expression
    fixed = analyze("packed", 524_416, n, "int64", 0)
    words = cdiv(n // 256, 4)
    assert fixed.safe and fixed.grid["size"] == [cdiv(524_416, 8) * words]
    first = fixed.grid["first_bad_M"]
    assert cdiv(first - 1, 8) * words <= 2**31 - 1 < cdiv(first, 8) * words
    assert first > 10**9   # over a thousand times the largest workspace the issue mentions


def test_wrap_example_from_the_pr_shape():
    v = 524_408 * 4096
    assert v == 2_147_975_168
    assert wrap_int32(v) == -2_146_992_128 == as_int32(v)
    c1 = next(e for e in analyze("colmajor", 524_416, 4096, "int32").exprs if e["name"] == "C1")
    assert c1["as_computed"] == -2_146_992_128


@pytest.mark.parametrize("v", [0, 1, INT32_MAX, INT32_MAX + 1, 2**32, 2**32 + 5, -1, -2**31,
                               -2**31 - 1, 18_882_756_607, 2**40 + 2**31])
def test_wrap_int32_matches_a_real_int32_cast(v):
    assert wrap_int32(v) == as_int32(v)
    t = torch.tensor([v], dtype=torch.int64).to(torch.int32)   # a second, independent int32 cast
    assert wrap_int32(v) == int(t[0])


def test_analysis_json_and_table_carry_the_numbers():
    a = analyze("colmajor", 524_416, 4096, "int32")
    d = json.loads(a.to_json())
    assert d["safe"] is False and d["pointers"]["input"]["max"] == 2_148_007_935
    assert "2,148,007,935" in a.table() and "-2,146,992,128" in a.table()


def test_analyze_rejects_nonsense():
    with pytest.raises(ValueError):
        analyze("rowmajor", 8, 256)
    with pytest.raises(ValueError):
        analyze("colmajor", 8, 300)
    with pytest.raises(ValueError):
        analyze("colmajor", 0, 256)
    with pytest.raises(ValueError):
        analyze("colmajor", 8, 256, "int16")
    with pytest.raises(ValueError):
        analyze("colmajor", 8, 256, "int32", rows_axis=1)


# ---------------------------------------------------------------------------------------------
# the CLI (python -m kernels ...), three child processes started together


@pytest.fixture(scope="module")
def cli():
    cmds = {
        "text": ["overflow", "--M", "524416", "--N", "4096"],
        "json": ["overflow", "--M", "524416", "--N", "4096", "--json"],
    }
    if not HAS_CUDA:   # with a GPU this would be a real full-size launch: test_kernels_gpu does that
        cmds["repro"] = ["repro"]
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    procs = {k: subprocess.Popen([sys.executable, "-m", "kernels", *v], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
             for k, v in cmds.items()}
    res = {}
    for k, p in procs.items():
        out, err = p.communicate(timeout=300)
        res[k] = (p.returncode, out, err)
    return res


def test_cli_overflow_text(cli):
    rc, out, err = cli["text"]
    assert rc == 0, err
    assert "2,148,007,935" in out
    assert "C1" in out and "-2,146,992,128" in out and "524,416" in out
    assert "TOO LARGE from M = 524,281" in out     # the packed kernel's grid (rows on axis 1)


def test_cli_overflow_json(cli):
    rc, out, err = cli["json"]
    assert rc == 0, err
    data = json.loads(out)
    col, pk = data
    assert (col["kernel"], pk["kernel"]) == ("colmajor", "packed")
    assert col["pointers"]["input"]["max"] == 2_148_007_935
    c1 = next(e for e in col["exprs"] if e["name"] == "C1")
    assert (c1["max"], c1["as_computed"], c1["fits"]) == (2_147_975_168, -2_146_992_128, False)
    assert pk["grid"]["size"] == [4, 65_552] and pk["grid"]["first_bad_M"] == 524_281
    # the course launch: 65,552 row blocks x (16 groups / 8 per tile) column blocks, one 1-D axis
    assert col["grid"]["size"] == [65_552 * 2] and col["grid"]["ok"] is True
    assert col["safe"] is False and pk["safe"] is False


def test_cli_repro_without_gpu(cli):
    if HAS_CUDA:
        pytest.skip("this machine has a CUDA GPU: the no-GPU verdict does not apply")
    rc, out, err = cli["repro"]
    assert "NO-GPU" in out, out + err
    assert "colmajor index=int32, M=524,416 N=4,096" in out
    assert rc == 6

