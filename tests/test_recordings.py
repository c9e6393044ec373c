"""The committed GPU recordings (results/gpu/<device>/*.json) agree with the offset analysis and with the
verdicts the lessons teach from them.

A recorded launch verdict is judged against kernels.offsets for its shape and tile: a launch the
analysis calls safe must have run ("ok"); one whose int32 offsets wrap must have crashed or gone
wrong ("illegal-memory-access" or "wrong-result"); one whose grid is too large must have been
refused ("launch-error"). Editing a recording so the crash at M = 524,416 reads "ok" fails here.
"""
from __future__ import annotations

import glob
import json
import math
import os
import re

import pytest

from kernels import offsets
from conftest import ROOT

RESULTS = os.path.join(ROOT, "results", "gpu")
DEVICES = sorted(d for d in os.listdir(RESULTS) if glob.glob(os.path.join(RESULTS, d, "*.json")))


def _devices_with(name: str) -> list[str]:
    return [d for d in DEVICES if os.path.exists(os.path.join(RESULTS, d, f"{name}.json"))]


def test_recordings_are_kept_per_device():
    # one folder per GPU; the first set (H100) stays
    assert "h100" in DEVICES and not glob.glob(os.path.join(RESULTS, "*.json"))
OFFSET_FAILURES = {"illegal-memory-access", "wrong-result"}
LAUNCH_KEYS = {"kernel", "M", "N", "index", "verdict"}


def _launch_records():
    out = []
    for path in sorted(glob.glob(os.path.join(RESULTS, "*", "*.json"))):
        with open(path) as f:
            data = json.load(f)
        records = data.get("records") if isinstance(data, dict) else None
        if not isinstance(records, list):
            continue
        for i, r in enumerate(records):
            if isinstance(r, dict) and LAUNCH_KEYS <= r.keys():
                name = os.path.relpath(path, RESULTS)
                out.append(pytest.param(name, r, id=f"{name}-{i}"))
    return out


def expected_verdicts(r: dict) -> set[str]:
    """What the analysis says a launch of this record's shape and tile must do."""
    kernel, m, n = r["kernel"], r["M"], r["N"]
    b = r.get("block_m", 8)
    gpp = r.get("groups_per_program") or (math.gcd(n // 256, 8) if kernel == "colmajor" else 1)
    a = offsets.analyze(kernel, m, n, r["index"], r.get("rows_axis", 0) if kernel == "packed" else 0,
                        b, gpp)
    if not a.grid["ok"]:
        return {"launch-error"}          # refused at launch: no offset is ever computed
    if all(e["fits"] for e in a.exprs):
        return {"ok"}
    return OFFSET_FAILURES               # a crash, or wrong rows when the wrap lands in live memory


@pytest.mark.parametrize("name,record", _launch_records())
def test_recorded_launch_agrees_with_the_analysis(name, record):
    want = expected_verdicts(record)
    assert record["verdict"] in want, (
        f"{name}: {record['kernel']} index={record['index']} M={record['M']:,} N={record['N']:,} "
        f"rows_axis={record.get('rows_axis')}: recorded {record['verdict']!r}, the analysis says "
        f"{sorted(want)}")
    from kernels.repro import EXIT
    assert record["exit"] == EXIT[record["verdict"]]
    if record["verdict"] == "ok":
        # the shapes a successful launch returns
        g = record["N"] // 256
        cols = g if record["kernel"] == "colmajor" else math.ceil(g / 4)
        assert record["q"] == [record["M"], record["N"] // 2]
        assert record["scales"] == [record["M"], cols]
        assert record["scale_strides"] == [1, offsets.round_up(record["M"], 4)]


# the launches the lessons (06, 07, 08) show from repro.json: they must be recorded
TAUGHT = [("colmajor", 524_288, 4096, "int32", 0), ("colmajor", 524_416, 4096, "int32", 0),
          ("colmajor", 524_416, 4096, "int64", 0), ("packed", 524_416, 4096, "int64", 1),
          ("packed", 524_416, 4096, "int64", 0), ("packed", 524_416, 4096, "int32", 0),
          ("packed", 524_280, 8192, "int32", 1)]


@pytest.mark.parametrize("device", _devices_with("repro"))
def test_the_launches_the_lessons_teach_are_recorded(device):
    with open(os.path.join(RESULTS, device, "repro.json")) as f:
        recs = json.load(f)["records"]
    have = {(r["kernel"], r["M"], r["N"], r["index"], r.get("rows_axis", 0)): r for r in recs}
    for key in TAUGHT:
        assert key in have, f"repro.json lacks {key}"
        assert have[key]["verdict"] in expected_verdicts(have[key])
    assert {r["device"] for r in recs} and json.load(open(os.path.join(RESULTS, device, "repro.json")))["date"]


@pytest.mark.parametrize("device", _devices_with("detection"))
def test_detection_recording_names_wrapping_blocks_only(device):
    with open(os.path.join(RESULTS, device, "detection.json")) as f:
        rec = json.load(f)["records"]
    n = 4096
    # the colmajor tile of the recorded launch (recordings before tiles were recorded used 8 rows x
    # 8 groups, the launcher's default then)
    tile = rec.get("tile") or {"block_m": 8, "groups_per_program": 8}
    cols = (n // 256) // tile["groups_per_program"]
    # TRITON_DEBUG's int32 overflow asserts and compute-sanitizer's bad access: every block they
    # name must be one whose input block base row0 * N leaves int32
    lines = rec["triton_debug_int32"]["lines"] + rec["compute_sanitizer"]["lines"]
    blocks = {int(b) for ln in lines for b in re.findall(r"block:? [\[(](\d+),", ln)}
    assert blocks, "no block named in the detection recording"
    for tile_id in blocks:
        row0 = (tile_id // cols) * tile["block_m"]
        assert row0 * n > offsets.INT32_MAX, f"block {tile_id}: row0 * N = {row0 * n:,} fits in int32"
    assert rec["triton_debug_int32"]["verdict"] != "ok" and rec["triton_debug_int64"]["verdict"] == "ok"
    # the TTIR: the int32 build multiplies row0 by N in i32, the int64 build in i64
    assert any("x_blk" in ln and "muli" in ln and ": i32" in ln for ln in rec["ttir"]["int32"])
    assert any("x_blk" in ln and "muli" in ln and ": i64" in ln for ln in rec["ttir"]["int64"])
    assert not any("x_blk" in ln and "muli" in ln and ": i32" in ln for ln in rec["ttir"]["int64"])


@pytest.mark.parametrize("device", _devices_with("gpu_vs_cpu"))
def test_gpu_vs_cpu_recording_is_inside_the_envelope(device):
    with open(os.path.join(RESULTS, device, "gpu_vs_cpu.json")) as f:
        recs = json.load(f)["records"]
    for r in recs:
        assert r["ok"] is True, r
        if "cause" in r:
            assert r["cause"].get("elsewhere", 0) == 0, r
            assert sum(r["cause"].values()) == r["code_diffs"], r


def test_recordings_hold_no_absolute_paths_of_the_recording_machine():
    # a sanitizer or TRITON_DEBUG line names the kernel's file: stored relative to the repository
    bad = []
    for path in sorted(glob.glob(os.path.join(RESULTS, "*", "*"))):
        if path.endswith((".json", ".log")):
            with open(path, errors="replace") as f:
                bad += [(os.path.relpath(path, RESULTS), m) for m in
                        re.findall(r"(?:/work|/root|/home|/tmp)/\S*?(?:kernels|scripts|course)/\w+\.py", f.read())]
    assert not bad, bad[:5]
