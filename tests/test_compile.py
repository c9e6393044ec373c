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


def test_forced_software_path_compiles_on_sm90():
    rows = kc.check([90], dtypes=("bf16",), path="software", jobs=1)
    assert rows and not kc.failures(rows) and {r.path for r in rows} == {"software"}, kc.table(rows)


def test_a_target_triton_cannot_build_is_skipped_not_failed():
    rows = kc.check([999], dtypes=("bf16",), jobs=1)   # there is no sm_999: ptxas refuses it
    assert rows and all(r.status == "unsupported" for r in rows), kc.table(rows)
    assert "sm_999" in rows[0].reason and not kc.failures(rows)


def test_cli_table_and_exit_status_with_the_hardware_path_forced():
    # the check can fail: the hardware cast below sm_89 is what broke the course before kernels.fp8
    p = run_python("import sys, kernels.__main__ as m; sys.exit(m.main(['compile', '--arch', '80', "
                   "'90', '--dtype', 'bf16', '--path', 'hardware']))", timeout=300)
    assert p.returncode == 1, p.stdout + p.stderr
    lines = {ln.split()[0] + " " + " ".join(ln.split()[1:3]): ln for ln in p.stdout.splitlines()
             if ln.startswith(("colmajor", "packed"))}
    assert len(lines) == 8, p.stdout
    for ln in lines.values():
        assert "FAIL [1]" in ln and "ok (hw fp8)" in ln and ln.index("FAIL") < ln.index("ok"), ln
    assert "[1] ValueError: type fp8e4nv not supported in this architecture" in p.stdout
    assert "8 compiled, 8 failed" in p.stdout


def test_choose_refuses_hardware_below_sm89():
    with pytest.raises(fp8.Fp8PathError, match="sm_89"):
        fp8.choose((8, 0), "hardware")
    assert fp8.choose((8, 6), "auto")[0] == "software"
    assert fp8.choose((8, 9), "auto")[0] == "hardware"
    assert fp8.choose((9, 0), "software")[0] == "software"
    with pytest.raises(fp8.Fp8PathError, match="auto, hardware, software"):
        fp8.choose((9, 0), "fast")
