"""Exercises: solutions pass, stubs fail cleanly, wrong answers get the right diagnosis, exercises/ is
in sync with solutions/, and learner files are never overwritten silently.

Solution and exercise code is taken from the notebooks themselves (code cells written to a module
file, so @triton.jit can read its source); checks record into a temporary progress file. Tests never
read a learner's exercises/: they generate pristine copies, or compare the committed files.
"""
from __future__ import annotations

import importlib.util
import itertools
import json
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

import kernels  # noqa: F401  (first: picks the tier before anything imports triton)
from course import catalog, checks, exercises, hints, progress
from course.__main__ import main as cli

ROOT = exercises.ROOT
CHECK_CALL = re.compile(r"^check_(\w+)\((\w+)\)", re.M)
_counter = itertools.count()


@pytest.fixture(autouse=True)
def _progress(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(tmp_path / "progress.json"))
    checks.record_progress(True)
    yield tmp_path / "progress.json"


def _cells(nb_json: str):
    return nbformat.reads(nb_json, as_version=4).cells


def _module(nb_json: str, tmp_path, edits: dict[str, str] | None = None):
    """Import the notebook's code cells (minus checks, progress and solution-only cells) as a module.

    edits: {exact old text: new text}, each must occur exactly once (so a stale edit fails loudly).
    Returns (module, {exercise id: name of the function its check is given}).
    """
    code, calls = [], {}
    for c in _cells(nb_json):
        if c.cell_type != "code" or exercises.SOLUTION_ONLY in c.metadata.get("tags", []):
            continue
        found = CHECK_CALL.findall(c.source)
        if found:
            calls.update(found)
            continue
        if "progress_table()" in c.source:
            continue
        code.append(c.source)
    src = "\n\n".join(code) + "\n"
    for old, new in (edits or {}).items():
        assert src.count(old) == 1, f"edit target not found exactly once: {old!r}"
        src = src.replace(old, new)
    path = tmp_path / f"nbmod_{next(_counter)}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = mod
    spec.loader.exec_module(mod)
    return mod, calls


def _solution(notebook: str) -> str:
    return (ROOT / "solutions" / f"{notebook}.ipynb").read_text()


def _run_check(ex_id: str, mod, calls, capsys):
    capsys.readouterr()   # drop what importing the notebook's cells printed
    res = getattr(checks, f"check_{ex_id}")(getattr(mod, calls[ex_id]))
    out = capsys.readouterr().out
    return res, out


# ---------------------------------------------------------------- catalog

def test_catalog_is_complete():
    ids = [e.id for e in catalog.EXERCISES]
    assert len(ids) == len(set(ids)) and len(catalog.NOTEBOOKS) >= 5
    for e in catalog.EXERCISES:
        fn = e.check_function()
        assert callable(fn) and fn is getattr(checks, e.check_name), e.check
        assert e.check.split(":")[0] == e.notebook.split("_", 1)[1], f"{e.id}: one check module per notebook"
        assert len(e.hints) >= 2, e.id
        assert (ROOT / "solutions" / f"{e.notebook}.ipynb").exists()
    assert list(catalog.NOTEBOOKS) == sorted(catalog.NOTEBOOKS)


@pytest.mark.parametrize("notebook", catalog.NOTEBOOKS)
def test_solution_notebooks_hold_each_exercise_once(notebook):
    cells = _cells(_solution(notebook))
    learner = [exercises.exercise_of(c) for c in cells if exercises.exercise_of(c)]
    checked = [m[0] for c in cells if c.cell_type == "code" for m in CHECK_CALL.findall(c.source)]
    want = [e.id for e in catalog.EXERCISES if e.notebook == notebook]
    assert learner == want and checked == want
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    for e in catalog.EXERCISES:
        if e.notebook == notebook:
            assert e.goal in text, f"catalog goal of {e.id} differs from the notebook's"


# ---------------------------------------------------------------- solutions pass, stubs fail

@pytest.mark.parametrize("notebook", catalog.NOTEBOOKS)
def test_every_solution_passes_its_check(notebook, tmp_path, capsys, _progress):
    mod, calls = _module(_solution(notebook), tmp_path)
    for e in catalog.EXERCISES:
        if e.notebook != notebook:
            continue
        res, out = _run_check(e.id, mod, calls, capsys)
        assert res and out.startswith(f"✅ {e.id}:"), out
        assert progress.status(e.id) == "passed"


@pytest.mark.parametrize("notebook", catalog.NOTEBOOKS)
def test_every_stub_fails_with_not_implemented(notebook, tmp_path, capsys):
    mod, calls = _module(exercises.build_exercise(notebook), tmp_path)
    for e in catalog.EXERCISES:
        if e.notebook != notebook:
            continue
        res, out = _run_check(e.id, mod, calls, capsys)
        assert not res and res.exercise == e.id
        assert out.startswith(f"❌ {e.id}: not implemented yet"), out
        assert f'hint("{e.id}")' in out
        assert progress.status(e.id) == "not yet"


def test_stub_called_through_a_solved_function_is_not_a_crash(tmp_path, capsys):
    """The launcher is solved but the kernel it calls is still a stub (notebook 01)."""
    nb = exercises.build_exercise("01_silu_mul")
    sol = exercises.solution_code("01_silu_mul", "silu_mul_launch")["silu_mul_launch"]
    cells = nbformat.reads(nb, as_version=4)
    for c in cells.cells:
        if exercises.exercise_of(c) == "silu_mul_launch":
            c.source = sol
    mod, calls = _module(nbformat.writes(cells), tmp_path)
    res, out = _run_check("silu_mul_launch", mod, calls, capsys)
    assert not res and "not implemented yet" in out and "earlier exercise" in out


# ---------------------------------------------------------------- wrong answers, right diagnosis

WRONG = {
    # exercise: (notebook, {solution text: wrong text}, [phrases the diagnosis must contain])
    "cast_after_multiply": ("05_offsets_and_fix", "fix_offsets",
                            {"off = pid.to(tl.int64) * BLOCK_M * stride":
                             "off = (pid * BLOCK_M * stride).to(tl.int64)"},
                            ["int32 wrap", "65,536", "before the first multiply", "2**32"]),
    "row_major_offsets": ("03_colmajor_store", "scale_offsets",
                          {"return groups[None, :] * s_stride + rows[:, None]":
                           "return rows[:, None] * 4 + groups[None, :]"},
                          ["row-major", "strides (4, 1)", "MN-major", "(1, 40)"]),
    "row_major_alloc": ("03_colmajor_store", "scale_alloc",
                        {"torch.zeros(G, aligned, dtype=torch.float32, device=DEV).t()[:M]":
                         "torch.zeros(M, G, dtype=torch.float32, device=DEV)"},
                        ["row-major", "strides (4, 1)", "(1, 40)"]),
    "unaligned_alloc": ("03_colmajor_store", "scale_alloc",
                        {"torch.zeros(G, aligned, dtype=torch.float32, device=DEV).t()[:M]":
                         "torch.zeros(G, M, dtype=torch.float32, device=DEV).t()"},
                        ["not a multiple of 4", "round_up(M, 4) = 40"]),
    "missing_eps": ("02_group_quant", "group_scale",
                    {"amax = tl.maximum(tl.max(tl.abs(y), axis=1), eps)": "amax = tl.max(tl.abs(y), axis=1)"},
                    ["all zeros", "eps", "NaN", "row 5"]),
    "eps_on_scale": ("02_group_quant", "group_scale",
                     {"amax = tl.maximum(tl.max(tl.abs(y), axis=1), eps)\n    return amax * (1.0 / 448.0)":
                      "return tl.maximum(tl.max(tl.abs(y), axis=1) / 448.0, eps)"},
                     ["floored the *scale*"]),
    "missing_clamp": ("02_group_quant", "fp8_quantize",
                      {"v = tl.minimum(tl.maximum(y / scale[:, None], -448.0), 448.0)": "v = y / scale[:, None]"},
                      ["unclamped", "448", "clamp to [-448, 448]"]),
    "fp32_precision_path": ("01_silu_mul", "silu_mul_kernel",
                            {"s = (g / (1.0 + tl.exp(-g))).to(T).to(tl.float32)": "s = g / (1.0 + tl.exp(-g))"},
                            ["rounds silu(gate) to the input dtype T first"]),
    "unmasked_store": ("01_silu_mul", "silu_mul_kernel",
                       {"(s * u).to(T), mask=mask)": "(s * u).to(T))"},
                       ["past the end of y", "rows < M"]),
    "grid_too_small": ("01_silu_mul", "silu_mul_launch",
                       {"grid = (triton.cdiv(M, BLOCK_M), N // 256)": "grid = (max(M // BLOCK_M, 1), N // 256)"},
                       ["differ in rows 32-36", "M=37", "never written", "cdiv(M, BLOCK_M)"]),
    "ue8m0_floor": ("04_ue8m0_packing", "ue8m0_round",
                    {"tl.exp2(tl.ceil(tl.log2(scale)))": "tl.exp2(tl.floor(tl.log2(scale)))"},
                    ["floor", "ceil"]),
    "bytes_reversed": ("04_ue8m0_packing", "pack_exponents",
                       {"return b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)":
                        "return b3 | (b2 << 8) | (b1 << 16) | (b0 << 24)"},
                       ["byte order is reversed", "0x"]),
    "element_offset": ("05_offsets_and_fix", "largest_offset",
                       {"return last_row0 * N": "return M * N - 1"},
                       ["*block base*", "524,408"]),
    "last_safe_m": ("05_offsets_and_fix", "first_failing_m",
                    {"return lo * multiple": "return (lo - 1) * multiple"},
                    ["still safe"]),
    "upstream_grid": ("06_grid_and_precheck", "packed_grid",
                      {"return (triton.cdiv(M, block_m), triton.cdiv(N // 256, 4))":
                       "return (triton.cdiv(N // 256, 4), triton.cdiv(M, block_m))"},
                      ["axis 1 = 65,552", "65,535", "invalid argument", "axis 0"]),
    "grid_misses_rows": ("06_grid_and_precheck", "packed_grid",
                         {"return (triton.cdiv(M, block_m), triton.cdiv(N // 256, 4))":
                          "return (max(M // block_m, 1), triton.cdiv(N // 256, 4))"},
                         ["never processed", "cdiv(M, block_m)"]),
    "precheck_assert": ("06_grid_and_precheck", "precheck",
                        {"    if last > INT32_MAX:\n        raise LaunchRefused(":
                         "    assert last <= INT32_MAX, (\n        "},
                        ["AssertionError", "python -O"]),
    "precheck_ignores_grid": ("06_grid_and_precheck", "precheck",
                              {"if blocks > limit:": "if False:"},
                              ["let an unsafe launch through", "grid axis 1"]),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_wrong_solution_gets_the_right_diagnosis(case, tmp_path, capsys):
    notebook, ex_id, edits, phrases = WRONG[case]
    mod, calls = _module(_solution(notebook), tmp_path, edits)
    res, out = _run_check(ex_id, mod, calls, capsys)
    assert not res, out
    assert out.startswith(f"❌ {ex_id}:") and "not implemented" not in out
    for p in phrases:
        assert p in out, f"{case}: {p!r} missing from the diagnosis:\n{out}"
    # a diagnosis points at the cause; the answer is the last hint tier, shown only on request
    assert catalog.get(ex_id).hints[-1] not in out, out
    assert "pid.to(tl.int64)" not in out, out
    assert progress.status(ex_id) == "not yet"


def test_learner_exception_is_a_diagnosis_not_a_crash(capsys):
    def largest_offset(M, N, block_m=8):
        return M * N // 0
    res = checks.check_largest_offset(largest_offset)
    out = capsys.readouterr().out
    assert not res and "ZeroDivisionError" in out and "largest_offset" in out


def test_verdicts_announce_the_raw_interpreter(monkeypatch, capsys):
    # KERNELS_RAW_INTERPRETER=1 makes correct code differ from the references: every verdict says so
    from kernels import tier
    def largest_offset(M, N, block_m=8):
        return M * N // 0
    monkeypatch.setattr(tier, "RAW_INTERPRETER", True)
    checks.check_largest_offset(largest_offset)
    assert "KERNELS_RAW_INTERPRETER=1" in capsys.readouterr().out
    monkeypatch.setattr(tier, "RAW_INTERPRETER", False)
    checks.check_largest_offset(largest_offset)
    assert "KERNELS_RAW_INTERPRETER" not in capsys.readouterr().out


# ---------------------------------------------------------------- generated files in sync

def _committed(rel: str) -> str | None:
    """The committed (HEAD) text of `rel`, or None outside a git checkout: a learner's edits to the
    working tree never make this test fail."""
    try:
        p = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=ROOT, capture_output=True)
    except FileNotFoundError:
        return None
    return p.stdout.decode() if p.returncode == 0 else None


@pytest.mark.parametrize("name", [f"{nb}.ipynb" for nb in catalog.NOTEBOOKS] + [exercises.README])
def test_generated_exercises_are_in_sync(name):
    text = exercises.generated_files(ROOT)[name]
    committed = _committed(f"exercises/{name}")
    if committed is None:
        pytest.skip("not a git checkout with exercises/ committed; `python -m course generate --check` checks it")
    assert committed == text, f"exercises/{name} is stale: run `python -m course generate` and commit it"
    manifest = json.loads(_committed(f"exercises/{exercises.MANIFEST}") or "{}")
    assert manifest.get(name) == exercises.sha(text), f"exercises/{exercises.MANIFEST} is stale"


@pytest.mark.parametrize("notebook", catalog.NOTEBOOKS)
def test_exercise_notebooks_have_stubs_and_no_outputs_or_solutions(notebook):
    nb = nbformat.reads(exercises.build_exercise(notebook), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    joined = "\n".join(c.source for c in code)
    assert "BEGIN SOLUTION" not in joined and "END SOLUTION" not in joined
    assert "record_progress(False)" not in joined
    for e in catalog.EXERCISES:
        if e.notebook == notebook:
            cell = next(c for c in code if exercises.exercise_of(c) == e.id)
            assert f'raise NotImplementedError("exercise {e.id}' in cell.source
            assert re.search(r"# about \d+ lines?: \S", cell.source)


def test_solutions_are_executed():
    for nb in catalog.NOTEBOOKS:
        cells = [c for c in _cells(_solution(nb)) if c.cell_type == "code"]
        checked = [c for c in cells if CHECK_CALL.search(c.source)]
        assert checked and all(c.outputs for c in checked), f"{nb}: execute it (python -m course nb execute)"
        assert not [o for c in cells for o in c.outputs if o.output_type == "error"], nb


# ---------------------------------------------------------------- learner files are never lost

@pytest.fixture
def course_copy(tmp_path):
    """A course root with the authored solutions and freshly generated (pristine) exercises."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "solutions", root / "solutions")
    acts = exercises.generate(root, say=lambda _m: None)
    assert {a.action for a in acts} == {"created"}
    return root


def _backups(root):
    return sorted(p for p in (root / ".backups").rglob("*.ipynb")) if (root / ".backups").exists() else []


def test_generate_keeps_learner_edits_unless_asked_to_back_up(course_copy):
    root = course_copy
    assert {a.action for a in exercises.generate(root)} == {"unchanged"}
    ex = root / "exercises" / "02_group_quant.ipynb"
    mine = ex.read_text().replace("not implemented yet", "my work in progress")
    ex.write_text(mine)
    acts = {a.file: a for a in exercises.generate(root)}
    assert acts["02_group_quant.ipynb"].action == "kept" and "NOT overwritten" in str(acts["02_group_quant.ipynb"])
    assert ex.read_text() == mine and not _backups(root)
    acts = {a.file: a for a in exercises.generate(root, backup_modified=True, say=lambda _m: None)}
    a = acts["02_group_quant.ipynb"]
    assert a.action == "replaced" and a.backup.exists() and str(a.backup) in str(a)
    assert a.backup.read_text() == mine and ".backups" in a.backup.parts
    assert ex.read_text() == exercises.build_exercise("02_group_quant", root)


def test_generate_updates_untouched_stale_files(course_copy):
    root = course_copy
    ex = root / "exercises" / "04_ue8m0_packing.ipynb"
    stale = ex.read_text().replace("Exercises 4", "Exercises four")
    ex.write_text(stale)   # as if an older generate had written it
    manifest = json.loads((root / "exercises" / ".manifest.json").read_text())
    manifest["04_ue8m0_packing.ipynb"] = exercises.sha(stale)
    (root / "exercises" / ".manifest.json").write_text(json.dumps(manifest))
    acts = {a.file: a.action for a in exercises.generate(root)}
    assert acts["04_ue8m0_packing.ipynb"] == "updated" and not _backups(root)
    assert ex.read_text() == exercises.build_exercise("04_ue8m0_packing", root)


def test_reset_backs_up_first(course_copy):
    root = course_copy
    ex = root / "exercises" / "05_offsets_and_fix.ipynb"
    mine = ex.read_text() + " "
    ex.write_text(mine)
    act = exercises.reset("05", root, say=lambda _m: None)
    assert act.action == "replaced" and act.backup.read_text() == mine and not list(root.glob("exercises/.*.tmp"))
    assert ex.read_text() == exercises.build_exercise("05_offsets_and_fix", root)
    assert exercises.reset("05_offsets_and_fix", root).action == "unchanged"


def test_reveal_copies_one_solution_after_a_backup(course_copy):
    root = course_copy
    ex = root / "exercises" / "06_grid_and_precheck.ipynb"
    before = ex.read_text()
    done, saved = exercises.reveal("06", "packed_grid", root, say=lambda _m: None)
    assert done == ["packed_grid"] and saved.read_text() == before
    cells = {exercises.exercise_of(c): c.source for c in _cells(ex.read_text()) if exercises.exercise_of(c)}
    want = exercises.solution_code("06", "packed_grid", root)["packed_grid"]
    assert cells["packed_grid"] == want and "BEGIN SOLUTION" not in want and "triton.cdiv(M" in want
    assert "NotImplementedError" in cells["precheck"]   # the other exercise stays unsolved


def test_cli_reveal_print_and_unknown_names(capsys):
    assert cli(["reveal", "03", "scale_alloc", "--print"]) == 0
    out = capsys.readouterr().out
    assert "solution of scale_alloc" in out and ".t()[:M]" in out
    assert cli(["reset", "99_nothing"]) == 2
    assert "unknown exercise notebook" in capsys.readouterr().err


# ---------------------------------------------------------------- progress and hints

def test_progress_and_hint_tiers(_progress, capsys):
    def largest_offset(M, N, block_m=8):
        return (-(-M // block_m) - 1) * block_m * N
    n = len(catalog.EXERCISES)
    assert f"0/{n}" in str(progress.progress_table())
    assert checks.check_largest_offset(largest_offset)
    table = progress.progress_table()
    assert f"1/{n}" in str(table) and "✅" in table._repr_html_()
    state = json.loads(_progress.read_text())
    assert state["exercises"]["largest_offset"]["status"] == "passed"
    capsys.readouterr()
    tiers = catalog.get("precheck").hints
    for want in (1, 2, 3, 3):
        hints.hint("precheck")
        out = capsys.readouterr().out
        assert f"precheck hint {want}/3: {tiers[want - 1]}" in out
    assert "reveal 06_grid_and_precheck precheck --print" in out
    hints.hint("group_scale", 2)
    assert "group_scale hint 2/3" in capsys.readouterr().out
    assert json.loads(_progress.read_text())["hints"] == {"precheck": 3}
    assert cli(["progress"]) == 0
    out = capsys.readouterr().out
    assert "largest_offset" in out and "✅ passed" in out and f"1/{n} exercises passed" in out
    assert "█" in out and str(_progress) in out
