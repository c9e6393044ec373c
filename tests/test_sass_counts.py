"""results/gpu/h200/sass_sm90.json is what scripts/sass_counts.py compiles from today's kernels.

Lesson 09 quotes the file (instructions per element, the order of loads and stores). The script
compiles for sm_90 without a GPU, so this test re-runs it on the committed tile table and compares:
a kernel change that moves the counts fails here until the file is re-recorded. It also checks the
claim the lesson draws from it: the GPU spelling saves about five to six instructions per element.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

RECORDED = f"{ROOT}/results/gpu/h200"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("sass")
    shutil.copy(f"{RECORDED}/tiles.json", out / "tiles.json")
    r = subprocess.run([sys.executable, f"{ROOT}/scripts/sass_counts.py", str(out)], capture_output=True,
                       text=True, timeout=600, env={"PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": ""})
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads((out / "sass_sm90.json").read_text())


KEYS = ("kernel", "shape", "M", "N", "tile", "spelling", "per_element", "instructions_per_warp",
        "loads_and_stores", "opcodes")


def test_recorded_counts_are_todays(fresh):
    with open(f"{RECORDED}/sass_sm90.json") as f:
        recorded = json.load(f)
    assert recorded["triton"] == fresh["triton"]
    assert [{k: r[k] for k in KEYS} for r in recorded["records"]] == \
        [{k: r[k] for k in KEYS} for r in fresh["records"]]


def test_gpu_spelling_saves_instructions(fresh):
    by = {(r["kernel"], r["shape"], r["spelling"]): r["per_element"] for r in fresh["records"]}
    for (kernel, shape, spelling), per in by.items():
        if spelling == "gpu":
            assert by[(kernel, shape, "plain")] - per >= 4.5, (kernel, shape, per)


def test_packed_loads_its_word_before_storing_and_the_group_loop_does_not(fresh):
    """Lesson 09, "The word as one tile": the packed kernel's SASS issues every load of its word before
    its first store; kernels.bench.group_loop() (upstream's structure) issues each group's loads after
    the previous group's store. The lesson times the two against each other, so they must differ in
    exactly that."""
    seen = set()
    for r in fresh["records"]:
        if r["kernel"] != "packed":
            continue
        order = r["loads_and_stores"]
        assert "L" in order and "S" in order, (r["shape"], order)
        loads_first = "SL" not in order      # no load after a store
        assert loads_first == (r["spelling"] != "group_loop"), (r["shape"], r["spelling"], order)
        seen.add(r["spelling"])
    assert seen == {"gpu", "plain", "group_loop"}


def _run(out, *args):
    return subprocess.run([sys.executable, f"{ROOT}/scripts/sass_counts.py", str(out), *args],
                          capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": ""})


@pytest.mark.parametrize("content,says", [
    (None, "cannot read"), ("{not json", "cannot read"), ("{}", "has no tile for"),
    ('{"tiles": {"colmajor": {}}}', "has no tile for"),
])
def test_a_bad_tile_table_gets_a_message_before_any_compile(tmp_path, content, says):
    if content is not None:
        (tmp_path / "tiles.json").write_text(content)
    r = _run(tmp_path)
    assert r.returncode != 0 and says in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / "sass_sm90.json").exists()


def test_a_disassembly_it_does_not_understand_is_an_error():
    import importlib.util
    import os
    before = os.environ.get("TRITON_INTERPRET")
    spec = importlib.util.spec_from_file_location("sass_counts", f"{ROOT}/scripts/sass_counts.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert os.environ.get("TRITON_INTERPRET") == before   # importing it must not switch this process's tier
    with pytest.raises(RuntimeError, match="not understood"):
        mod.count("        /*0000*/                   MOV R1, c[0x0][0x28] ;\n")
    lines = [f"        /*{16 * i:04x}*/                   {op} ;" for i, op in
             enumerate(["LDG.E R2, desc[UR4][R2.64]", "MUFU.EX2 R3, R2", "STG.E desc[UR4][R4.64], R3",
                        "EXIT", "BRA `(.L_x_0)", "NOP", "NOP"])]
    ops = mod.count("\n".join(lines))
    assert ops == {"LDG": 1, "MUFU": 1, "STG": 1, "EXIT": 1}   # padding and the final branch left out


@pytest.mark.parametrize("rec,says", [
    (ValueError("Expecting value"), "cannot be read"),
    ({}, "not what scripts/sass_counts.py writes"),
    ({"records": [], "target": "t", "triton": "3.6.0", "date": "d", "tiles_from": "f"}, "no record of the GPU"),
    ({"records": [{"kernel": "k", "shape": "s", "spelling": "gpu", "M": 1, "N": 1, "per_element": 1.0,
                   "opcodes": {}}], "target": "t", "triton": "3.6.0", "date": "d", "tiles_from": "f"},
     "not what scripts/sass_counts.py writes"),
])
def test_sass_table_explains_a_broken_recording(monkeypatch, rec, says):
    from course import perf, recorded

    def fake(name, device):
        if isinstance(rec, Exception):
            raise rec
        return rec
    monkeypatch.setattr(recorded, "load", fake)
    assert says in perf.sass_table("h200")
