"""The doctor names the CPU tier's fp8 conversion for what runs there.

kernels.fp8 calls Triton's own cast path "hardware" (it is the GPU's conversion once compiled), but
on the CPU tier no fp8 hardware is involved: the interpreter's cast runs, and only kernels/interp.py
makes it round like the GPU. The doctor used to print "fp8 conversion  hardware" there.
"""
from __future__ import annotations

import json

import pytest

from conftest import run_python
from kernels import tier

REPORT = "import json; from kernels import doctor; print(json.dumps(doctor.report()))"


def _child_report(**env) -> dict:
    r = run_python(REPORT, env={"CUDA_VISIBLE_DEVICES": "", "TRITON_INTERPRET": "1", **env})
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _line(report: dict) -> str:
    from kernels import doctor
    return next(ln for ln in doctor.text(report).splitlines() if ln.startswith("fp8 conversion"))


@pytest.mark.skipif(not tier.INTERPRETED, reason="CPU tier only")
def test_corrected_cpu_tier_is_not_labelled_hardware():
    from kernels import doctor
    r = doctor.report()
    line = _line(r)
    assert "hardware" not in line and "interpreter" in line and "kernels/interp.py" in line, line
    assert "corrected" in r["fp8_path"] and "PyTorch" in r["fp8_why"]


@pytest.mark.parametrize("env, words, absent", [
    ({"KERNELS_RAW_INTERPRETER": "1", "KERNELS_FP8_PATH": None}, ("raw", "NOT the GPU"), "corrected"),
    ({"KERNELS_RAW_INTERPRETER": None, "KERNELS_FP8_PATH": "software"}, ("software", "integer encoder"),
     "hardware"),
])
def test_raw_and_software_cpu_paths_say_what_runs(env, words, absent):
    r = _child_report(**env)
    assert r["tier"] == "cpu"
    line = _line(r)
    assert all(w in line for w in words) and absent not in line, line
    if env.get("KERNELS_RAW_INTERPRETER") == "1":   # the why no longer claims GPU rounding
        assert "round like the GPU" not in r["fp8_why"], r["fp8_why"]
