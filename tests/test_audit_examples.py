"""The unfamiliar kernels of lesson 10 (course/audit/examples): they compute what their torch
references compute (in the interpreter on CPU), and the audit's verdicts at the realistic launches
of bounds.toml are right -- the first wrapping sizes checked against brute force over the grid."""
import json
import pathlib

import pytest
import torch

from course.audit.cli import main
from course.audit.examples import persistent, scatter, softmax
from kernels.tier import DEVICE   # inputs are made on the CPU, then moved (see tests/conftest.py)

EXAMPLES = pathlib.Path(softmax.__file__).parent
BOUNDS = EXAMPLES / "bounds.toml"
INT32_MAX = 2**31 - 1


@pytest.mark.parametrize("fixed", [False, True])
def test_softmax_matches_torch(fixed):
    torch.manual_seed(0)
    for m, n, block in ((1, 1, 16), (5, 100, 1024), (3, 257, 64)):    # 1, 1 and 5 column blocks
        x = torch.randn(m, n) * 4
        torch.testing.assert_close(softmax.softmax(x.to(DEVICE), fixed, block).cpu(),
                                   softmax.softmax_ref(x), rtol=1e-5, atol=1e-6)
    xh = (torch.randn(4, 64) * 4).half()
    torch.testing.assert_close(softmax.softmax(xh.to(DEVICE), fixed).cpu(), softmax.softmax_ref(xh),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fixed", [False, True])
def test_scatter_matches_torch(fixed):
    torch.manual_seed(1)
    src = torch.randn(24, 200)
    idx = torch.randint(0, 5, (24,), dtype=torch.int32)
    out = torch.randn(5, 200)
    got = scatter.scatter_add(src.to(DEVICE), idx.to(DEVICE), out.clone().to(DEVICE), fixed,
                              block_d=64).cpu()
    torch.testing.assert_close(got, scatter.scatter_add_ref(src, idx, out), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("m, d, programs", [(9, 300, 4), (1, 7, 8), (16, 64, 16)])
def test_persistent_rms_norm_matches_torch(m, d, programs):
    torch.manual_seed(2)
    x = torch.randn(m, d)
    torch.testing.assert_close(persistent.rms_norm(x.to(DEVICE), programs=programs).cpu(),
                               persistent.rms_norm_ref(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("call, message", [
    (lambda: softmax.softmax(torch.randn(4)), "2-D"),
    (lambda: softmax.softmax(torch.randn(4, 4).t()), "contiguous"),
    (lambda: softmax.softmax(torch.randn(4, 4), block=100), "power of two"),
    (lambda: scatter.scatter_add(torch.randn(2, 4), torch.tensor([0, 9], dtype=torch.int32),
                                 torch.zeros(3, 4)), "idx must lie"),
    (lambda: scatter.scatter_add(torch.randn(2, 4), torch.tensor([0, 1]), torch.zeros(3, 4)), "int32"),
    (lambda: persistent.rms_norm(torch.randn(2, 4), eps=0.0), "eps"),
    (lambda: persistent.rms_norm(torch.randn(2, 4), programs=0), "programs"),
])
def test_launchers_refuse_bad_input_before_the_launch(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def audit_examples(capsys, *extra):
    status = main([str(EXAMPLES), "--config", str(BOUNDS), "--json", *extra])
    return status, json.loads(capsys.readouterr().out)


def test_realistic_launches_verdicts(capsys):
    status, rep = audit_examples(capsys)
    assert status == 1 and not rep["files"]["skipped"]
    by = {}
    for f in rep["findings"]:
        by.setdefault(f["kernel"], []).append(f)
    assert {f["verdict"] for f in by["softmax_rows"]} == {"wraps"}
    assert {f["verdict"] for f in by["scatter_add_rows"]} == {"wraps", "safe"}
    for ok in ("softmax_rows_fixed", "scatter_add_rows_fixed", "rms_norm_persistent"):
        assert {f["verdict"] for f in by.get(ok, [])} <= {"safe"}, ok
    # brute force over the kernels' own expressions: the first M (rows) whose last program forms
    # a row offset beyond int32
    n_cols, d = 128_256, 4096
    first_softmax = next(m for m in range(1, 10**6) if (m - 1) * n_cols > INT32_MAX)
    assert {f["first_wrap"]["value"] for f in by["softmax_rows"]} == {first_softmax} == {16_745}
    src = next(f for f in by["scatter_add_rows"] if f["expr"] == "pid * D")
    assert src["first_wrap"]["value"] == next(r for r in range(1, 10**7) if (r - 1) * d > INT32_MAX)
    dst = next(f for f in by["scatter_add_rows"] if f["expr"] == "dst * D")
    assert dst["max"] == 575_999 * d and "does not depend on R" in dst["first_wrap"]["note"]
    rms = by["rms_norm_persistent"]
    assert [f["expr"] for f in rms] == ["i * nprog"]
    assert rms[0]["max"] == (-(-4_610_048 // 132) - 1) * 132


def test_without_a_bound_the_loaded_index_is_unknown(capsys):
    status = main([str(EXAMPLES / "scatter.py"), "--kernel", "scatter_add_rows", "--bound", "R=1000",
                   "--bound", "D=4096", "--const", "BLOCK_D=128", "--grid", "R,32", "--json"])
    rep = json.loads(capsys.readouterr().out)
    dst = next(f for f in rep["findings"] if f["expr"] == "dst * D")
    assert status == 0 and dst["verdict"] == "unknown" and "loaded from memory" in dst["reason"]


def test_gpu_proof_plan_comes_from_the_audit_and_its_harness_runs_small():
    """prove.py (run on a GPU by the coordinator) launches at the audit's own thresholds; its
    per-launch harness is checked here at small sizes in the interpreter."""
    from course.audit.examples import prove
    t = prove.audit_thresholds()
    assert t["softmax_rows"][:2] == ("wraps", 16_745) and t["scatter_add_rows"][:2] == ("wraps", 524_289)
    assert {k: v[0] for k, v in t.items() if k.endswith("fixed") or k.startswith("rms")} == \
        {"softmax_rows_fixed": "safe", "scatter_add_rows_fixed": "safe", "rms_norm_persistent": "safe"}
    for kernel in prove.SIZE_ARG:
        r = prove.run_case(kernel, 9, small=True)
        assert r["completed"] and r["correct"], r


def test_docs_audit_sample_output_is_todays_output():
    """docs/audit.md shows the audit of kernels/ at the issue's shape: its WRAPS lines and summary
    must be what the command prints today (kernel lines move when a kernel changes)."""
    import re
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "audit.md").read_text()
    block = doc[doc.index("python -m course lint kernels/ --config course/audit/examples/course_kernels.toml\n"):]
    block = block[:block.index("```")]
    shown = [ln for ln in block.splitlines()[1:] if ln.startswith("kernels/") or "analysed" in ln
             or ln.startswith("    reaches")]
    out = subprocess.run([sys.executable, "-m", "course", "lint", "kernels/", "--config",
                          "course/audit/examples/course_kernels.toml"], cwd=root, capture_output=True,
                         text=True, timeout=300).stdout.splitlines()
    lines = [ln for i, ln in enumerate(out) if "WRAPS" in ln or "analysed" in ln
             or (ln.startswith("    reaches") and i and "WRAPS" in out[i - 1])]
    assert shown == lines, "docs/audit.md's sample differs from today's output:\n" + "\n".join(lines)
    assert re.search(r"\d+ file\(s\) analysed", shown[-1])
