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
