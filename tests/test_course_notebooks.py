"""Committed notebooks are clean, within budget, and re-executing one changes nothing.

`python -m course nb execute` re-runs a notebook and cleans it; for a deterministic notebook the
result must be byte-identical to the committed file, run after run (an empty `git diff`).
"""
from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys

import pytest

import kernels  # noqa: F401  (first: picks the tier)
from course import notebooks
from course.root import PACKAGE_ROOT as ROOT

nbformat = pytest.importorskip("nbformat")

# lessons and solutions: authored files. exercises/ are the learner's once they work in them (a saved,
# executed exercise is not an error); their committed text is checked against the generator
# (test_exercises.py) and by `make lint`.
COMMITTED = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_notebook_is_clean_and_within_budget(path):
    assert notebooks.problems(path) == []


def test_clean_drops_what_changes_between_runs_and_keeps_outputs():
    nb = nbformat.read(ROOT / "solutions" / "05_offsets_and_fix.ipynb", as_version=4)
    dirty = copy.deepcopy(nb)
    dirty.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"ab12": {}}}}
    dirty.metadata["language_info"]["version"] = "3.11.7"
    code = [c for c in dirty.cells if c.cell_type == "code"]
    code[0].metadata["execution"] = {"iopub.status.busy": "2026-11-27T21:46:09.577866Z"}
    code[0].execution_count = 7
    with_out = next(c for c in code if c.outputs and c.outputs[0].output_type == "stream")
    text = with_out.outputs[0].text
    half = len(text) // 2
    with_out.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text[:half]),
                        nbformat.v4.new_output("stream", name="stdout", text=text[half:])]
    widget = nbformat.v4.new_output("display_data", data={
        "text/plain": "[interactive controls: M]",
        "application/vnd.jupyter.widget-view+json": {"model_id": "ab12", "version_major": 2}})
    with_out.outputs.append(widget)
    assert notebooks.dumps(dirty) != notebooks.dumps(nb)
    cleaned = notebooks.clean(dirty)
    assert "widgets" not in cleaned.metadata and "version" not in cleaned.metadata["language_info"]
    c0 = [c for c in cleaned.cells if c.cell_type == "code"][0]
    assert "execution" not in c0.metadata and c0.execution_count == 1
    outs = next(c for c in cleaned.cells if c.get("outputs") and c.source == with_out.source).outputs
    assert outs[0].text == text and len(outs) == 2                       # merged stream, widget as text
    assert outs[1].data == {"text/plain": "[interactive controls: M]"}


def test_check_reports_a_dirty_notebook_a_duplicate_image_and_the_budget(tmp_path):
    src = ROOT / "notebooks" / "01_triton_programming_model.ipynb"
    nb = nbformat.read(src, as_version=4)
    pic = next(c for c in nb.cells if c.cell_type == "code" and any("image/png" in o.get("data", {})
                                                                    for o in c.outputs))
    twice = copy.deepcopy(nb)
    dup = copy.deepcopy(pic)
    dup["id"] = "duplicate-picture"
    twice.cells.append(dup)
    p = tmp_path / "twice.ipynb"
    p.write_text(notebooks.dumps(twice))
    assert any("same image" in x for x in notebooks.problems(p))
    nb.cells[1].metadata["execution"] = {"iopub.execute_input": "2026-11-27T21:50:32.124973Z"}
    p.write_text(notebooks.dumps(nb))
    assert any("volatile" in x for x in notebooks.problems(p))
    big = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("x" * (notebooks.BUDGET_BYTES + 1))])
    p.write_text(notebooks.dumps(notebooks.clean(big)))
    assert any("over the budget" in x for x in notebooks.problems(p))


@pytest.mark.slow
def test_executing_a_notebook_twice_leaves_the_committed_file_unchanged(tmp_path):
    """The proof behind `make execute`: run, clean, run again -- byte-identical to what is committed."""
    name = "05_offsets_and_fix.ipynb"
    committed = (ROOT / "solutions" / name).read_text()
    path = tmp_path / name
    shutil.copy(ROOT / "solutions" / name, path)
    runs = []
    for _ in range(2):
        notebooks.execute_file(path)
        runs.append(path.read_text())
    assert runs[0] == runs[1], "a second run changed the notebook"
    assert runs[0] == committed, "re-executing changes the committed notebook: commit the executed version"


@pytest.mark.slow
def test_tests_pass_in_a_checkout_whose_exercises_a_learner_edited(tmp_path):
    """A learner edits exercises and breaks their progress file, then runs the tests (the README's
    test command runs these files and nbval): they use pristine copies and stay green."""
    clone = tmp_path / "clone"
    r = subprocess.run(["git", "clone", "--quiet", "--local", str(ROOT), str(clone)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot clone this checkout: {r.stderr.strip()[:200]}")
    for name in ("02_group_quant.ipynb", "05_offsets_and_fix.ipynb"):
        ex = clone / "exercises" / name
        ex.write_text(ex.read_text().replace("not implemented yet", "my work in progress"))
    (clone / ".progress.json").write_text("[]")          # and a progress file in a state we cannot read
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_PROGRESS_FILE", "COURSE_ROOT")}
    p = subprocess.run([sys.executable, "-m", "pytest", "tests/test_exercises.py", "tests/test_course_tooling.py",
                        "-q", "-p", "no:cacheprovider"], cwd=clone, capture_output=True, text=True, env=env,
                       timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert "failed" not in p.stdout.splitlines()[-1]
    assert "my work in progress" in (clone / "exercises" / "02_group_quant.ipynb").read_text()
    # nbval of a solution notebook, with the learner's (unreadable) progress file as the only one
    p = subprocess.run([sys.executable, "-m", "pytest", "solutions/05_offsets_and_fix.ipynb", "--nbval",
                        "--nbval-current-env", "--nbval-sanitize-with", "nbval_sanitize.cfg", "-q",
                        "-p", "no:cacheprovider"], cwd=clone, capture_output=True, text=True, env=env, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert (clone / ".progress.json").read_text() == "[]"


def test_a_verdict_is_its_line_only():
    # found by the new-learner review: a cell ending in kit.verdict(...) also showed a bare `True`
    from course import kit
    v = kit.verdict("a label", True)
    assert v and v == True and bool(kit.verdict("a label", False)) is False   # noqa: E712
    assert hasattr(v, "_ipython_display_")
    stray = []
    for path in COMMITTED:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.source.rstrip().splitlines()[-1:] and \
                    cell.source.rstrip().splitlines()[-1].startswith("kit.verdict("):
                stray += [path.name for o in cell.outputs if o.output_type == "execute_result"]
    assert not stray, stray
