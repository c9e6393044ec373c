"""Every course kernel, in every mode, compiles for sm_75, 80, 86, 89, 90 and 100 (no GPU needed).

Runs kernels.compile.check -- the code behind ``python -m kernels compile`` -- which compiles in
child processes with TRITON_INTERPRET=0 (this process has the interpreter on). Before kernels.fp8
this failed for sm_75/80/86: "type fp8e4nv not supported in this architecture".
"""
from __future__ import annotations

import pytest

from kernels import compile as kc
from kernels import fp8
from conftest import run_python

ARCHS = (75, 80, 86, 89, 90, 100)


@pytest.fixture(scope="module")
def rows():
    return kc.check(ARCHS)


def test_every_kernel_mode_and_dtype_compiles_for_every_target(rows):
    print(kc.table(rows))
    assert len(rows) == len(ARCHS) * 16, kc.table(rows)   # 2 kernels x 4 modes x 2 dtypes
    assert not kc.failures(rows), kc.table(rows)
    skipped = [r for r in rows if r.status == "unsupported"]
    assert not skipped, f"triton refused a listed target: {skipped[0].reason}"


def test_the_path_follows_the_capability(rows):
    for r in rows:
        want = "hardware" if r.arch >= 89 else "software"
        assert r.path == want, r


def test_forced_hardware_path_fails_below_sm89_with_the_compilers_reason():
    # the check can fail: the hardware cast on sm_80 is exactly what broke the course before
    bad = kc.check([80, 90], dtypes=("bf16",), path="hardware", jobs=1)
    assert {r.arch for r in kc.failures(bad)} == {80}, kc.table(bad)
    assert all("sm_89" in r.reason or "fp8e4nv" in r.reason for r in kc.failures(bad))


def test_forced_software_path_compiles_on_sm90():
    rows = kc.check([90], dtypes=("bf16",), path="software", jobs=1)
    assert rows and not kc.failures(rows) and {r.path for r in rows} == {"software"}, kc.table(rows)


def test_a_target_triton_cannot_build_is_skipped_not_failed():
    rows = kc.check([7], dtypes=("bf16",), jobs=1)   # sm_07 does not exist
    assert rows and all(r.status == "unsupported" for r in rows), kc.table(rows)
    assert not kc.failures(rows)


def test_cli_prints_the_table_and_exits_nonzero_on_failure():
    ok = run_python("import sys, kernels.__main__ as m; sys.exit(m.main(['compile', '--arch', '80', "
                    "'--dtype', 'fp16']))", timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "sm_80" in ok.stdout and "ok (sw fp8)" in ok.stdout and "0 failed" in ok.stdout
    bad = run_python("import sys, kernels.__main__ as m; sys.exit(m.main(['compile', '--arch', '80', "
                     "'--dtype', 'fp16', '--path', 'hardware']))", timeout=300)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "FAIL" in bad.stdout


def test_choose_refuses_hardware_below_sm89():
    with pytest.raises(fp8.Fp8PathError, match="sm_89"):
        fp8.choose((8, 0), "hardware")
    assert fp8.choose((8, 6), "auto")[0] == "software"
    assert fp8.choose((8, 9), "auto")[0] == "hardware"
    assert fp8.choose((9, 0), "software")[0] == "software"
    with pytest.raises(fp8.Fp8PathError, match="auto, hardware, software"):
        fp8.choose((9, 0), "fast")
