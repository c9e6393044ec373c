"""Exercises 7 (lesson 10, audit a kernel you did not write): wrong answers get the right diagnosis,
and the check's expected thresholds agree with the lint, an independent analysis of the kernel's
source. (That every solution passes and every stub says "not implemented yet" is tested for every
notebook of the catalog in tests/test_exercises.py.)"""
from __future__ import annotations

import pytest
import triton
import triton.language as tl

import kernels  # noqa: F401  (first: picks the tier before anything imports triton)
from course import audit_lesson, catalog, checks, progress
from course.audit import Launch
from course.checks import audit as audit_checks
from test_exercises import _module, _progress, _run_check, _solution  # noqa: F401  (_progress: autouse fixture)

NB = "07_audit"
SCATTER = "return pid.to(tl.int64) * D, dst.to(tl.int64) * D"
ROWS = "return INT32_MAX // n_cols + 2"

WRONG = {
    # case: (exercise, {solution text: wrong text}, [phrases the diagnosis must contain])
    "cast_after_multiply": ("scatter_offsets", {SCATTER: "return (pid * D).to(tl.int64), (dst * D).to(tl.int64)"},
                            ["int32 wrap", "Both", "before the multiply", "2**32", "pid 524,288"]),
    "no_cast_at_all": ("scatter_offsets", {SCATTER: "return pid * D, dst * D"},
                       ["int32 wrap", "Both", "before the multiply"]),
    "loaded_index_left_int32": ("scatter_offsets", {SCATTER: "return pid.to(tl.int64) * D, dst * D"},
                                ["source is fixed", "dst * D", "loaded from memory", "dst 524,288"]),
    "program_id_left_int32": ("scatter_offsets", {SCATTER: "return pid * D, dst.to(tl.int64) * D"},
                              ["destination is fixed", "pid * D", "From pid 524,288 on"]),
    "offsets_swapped": ("scatter_offsets", {SCATTER: "return dst.to(tl.int64) * D, pid.to(tl.int64) * D"},
                        ["swapped"]),
    "last_safe_rows": ("first_wrapping_rows", {ROWS: "return INT32_MAX // n_cols + 1"},
                       ["still safe", "16,744", "M - 1", "expected 16,745"]),
    "threshold_2_pow_31": ("first_wrapping_rows", {ROWS: "return 2**31 // n_cols + 2"},
                           ["Wrong threshold", "exactly 2**31", "expected 524,289, got 524,290"]),
    "a_later_wrap": ("first_wrapping_rows", {ROWS: "return INT32_MAX // n_cols + 3"},
                     ["a smaller M already does", "16,745"]),
    "not_an_int": ("first_wrapping_rows", {ROWS: "return (INT32_MAX + 1) / n_cols + 1"},
                   ["Python int"]),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_wrong_answer_gets_the_right_diagnosis(case, tmp_path, capsys):
    ex_id, edits, phrases = WRONG[case]
    mod, calls = _module(_solution(NB), tmp_path, edits)
    res, out = _run_check(ex_id, mod, calls, capsys)
    assert not res, out
    assert out.startswith(f"❌ {ex_id}:") and "not implemented" not in out
    for p in phrases:
        assert p in out, f"{case}: {p!r} missing from the diagnosis:\n{out}"
    assert catalog.get(ex_id).hints[-1] not in out, out          # the answer only on request
    assert ".to(tl.int64) * D" not in out and "// n_cols" not in out, out
    assert progress.status(ex_id) == "not yet"


@pytest.mark.parametrize("n_cols", audit_checks._VOCABS)
def test_expected_threshold_is_the_lints(n_cols):
    """The check's bisection over (M - 1) * n_cols and the lint's interval analysis of softmax_rows's
    source, at a launch of that width, name the same first wrapping M."""
    want = audit_checks._first_wrap(n_cols)
    assert audit_checks._row_offset(want, n_cols) > 2**31 - 1 >= audit_checks._row_offset(want - 1, n_cols)
    launch = audit_lesson.realistic_launch("softmax_rows").merged(
        Launch({"M": want + 1000, "n_cols": n_cols}, None, {}, ("M", 1)))
    found = audit_lesson.verdicts(audit_lesson.example_source("softmax"), "softmax_rows", launch)
    assert [d for _, e, d in found["wraps"]] == [f"first wraps at M = {want:,}"] * 2, found


def test_scatter_check_recognises_a_wrong_scatter_with_exact_offsets(tmp_path, capsys):
    """Offsets exact for every program id the harness tries (not 3), wrong for program 3 (it reads
    source row 0, in bounds): the end-to-end scatter against index_add catches it."""
    capsys.readouterr()
    res = checks.check_scatter_offsets(_reads_row_0_for_program_3)
    out = capsys.readouterr().out
    assert not res and "differs from torch's index_add" in out, out


@triton.jit
def _reads_row_0_for_program_3(pid, dst, D):
    return (pid - (pid == 3) * 3).to(tl.int64) * D, dst.to(tl.int64) * D


def test_lesson_lint_helper_reports_the_exit_status(capsys):
    assert audit_lesson.lint("course/audit/examples/persistent.py", "--config",
                             "course/audit/examples/bounds.toml") == 0
    out = capsys.readouterr().out
    assert "SAFE" in out and "exit status 0" in out
    assert audit_lesson.lint("course/audit/examples/softmax.py", "--bound", "M=x") == 2
    assert "error:" in capsys.readouterr().out


def test_missing_recording_says_not_recorded_yet(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(audit_lesson, "ROOT", tmp_path)
    assert audit_lesson.show_recording() is None
    assert "not recorded yet: results/gpu/h200/audit_examples.json" in capsys.readouterr().out
    rec_path = tmp_path / audit_lesson.RECORDING
    rec_path.parent.mkdir(parents=True)
    rec_path.write_text("[1, 2]")
    assert audit_lesson.show_recording() is None
    assert "could not be read" in capsys.readouterr().out
    rec_path.write_text(
        '{"device": "GPU X", "torch": "t", "triton": "3.6.0", "cases": [{"kernel": "softmax_rows", '
        '"size": 16745, "audit": "wraps", "completed": false, "error": "illegal memory access"}, '
        '{"kernel": "softmax_rows_fixed", "size": 16745, "audit": "safe (fixed)", "completed": true, '
        '"correct": true, "max_abs_err": 0.0}]}')
    rec = audit_lesson.show_recording()
    out = capsys.readouterr().out
    assert rec and "[recorded GPU run] GPU X" in out and "not recorded" not in out
    assert "FAILED: illegal memory access" in out and "equal the reference" in out


def test_live_proof_runs_its_children(capsys):
    """The GPU cell's code path, at 2 rows (the CPU tier: the interpreter ignores TRITON_DEBUG, and
    at 2 rows nothing wraps, so both children complete and match the reference)."""
    got = audit_lesson.live_proof(debug=True, size=2, timeout=240)
    out = capsys.readouterr().out
    assert [c["kernel"] for c in got] == ["softmax_rows", "softmax_rows_fixed"], out
    assert all(c["completed"] and c["correct"] for c in got), out
    assert "TRITON_DEBUG=1 softmax_rows at M = 2: completed" in out
