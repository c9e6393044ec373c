"""Every state of a learner's files gets a message, not a traceback (issue 9, section 3), and the
course's own structure holds: one catalog, no import cycle, one source for the tier and constants.

Each test builds the state in a temporary course root; none touches the learner's files.
"""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
from pathlib import Path

import pytest

import kernels  # noqa: F401  (first: picks the tier)
from course import catalog, exercises, hints, progress
from course.__main__ import main as cli
from course.checks import check_largest_offset, record_progress
from course.root import PACKAGE_ROOT, course_root

ROOT = PACKAGE_ROOT


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A course root (solutions + pristine exercises + the catalog file) that is the working directory."""
    r = tmp_path / "clone"
    shutil.copytree(ROOT / "solutions", r / "solutions")
    (r / "course").mkdir()
    shutil.copy(ROOT / "course" / "exercises.toml", r / "course" / "exercises.toml")
    exercises.generate(r, say=lambda _m: None)
    monkeypatch.chdir(r)
    monkeypatch.delenv("COURSE_ROOT", raising=False)
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(r / ".progress.json"))
    return r


def _edit(path: Path) -> str:
    mine = path.read_text().replace("not implemented yet", "my work in progress")
    path.write_text(mine)
    return mine


def _backups(r: Path) -> list[Path]:
    return sorted(p for p in (r / ".backups").rglob("*") if p.is_file()) if (r / ".backups").exists() else []


# ---------------------------------------------------------------- reset / reveal / generate states

@pytest.mark.parametrize("manifest", ["<<<<<<< HEAD\n{}\n=======\n{}\n>>>>>>> theirs\n", "[]", '{"a": 1}',
                                      '{"a": ' + "9" * 5000 + "}", "[" * 100_000])
def test_reset_with_a_broken_manifest_moves_nothing_and_says_how_to_restore(root, manifest, capsys):
    ex = root / "exercises" / "01_silu_mul.ipynb"
    mine = _edit(ex)
    (root / "exercises" / exercises.MANIFEST).write_text(manifest)
    assert cli(["reset", "01"]) == 2
    err = capsys.readouterr().err
    assert ".manifest.json" in err and "git checkout" in err and "Traceback" not in err
    assert ex.read_text() == mine and not _backups(root)


def test_reset_prints_the_backup_before_a_failing_write_and_leaves_no_orphan(root, monkeypatch, capsys):
    ex = root / "exercises" / "02_group_quant.ipynb"
    mine = _edit(ex)
    said = []

    def failing_write(path, text):
        assert said, "the backup path must be printed before anything else can fail"
        raise exercises.ExerciseError(f"cannot write {path}: Read-only file system. Make it writable.")

    monkeypatch.setattr(exercises, "_write", failing_write)
    with pytest.raises(exercises.ExerciseError):
        exercises.reset("02", root, say=said.append)
    assert "saved in" in said[0] and str(root / ".backups") in said[0]
    assert ex.read_text() == mine, "the learner's notebook stays where it was"
    assert not _backups(root), "the copy made for a write that failed is removed"


def test_reset_backs_up_then_says_where(root, capsys):
    ex = root / "exercises" / "02_group_quant.ipynb"
    mine = _edit(ex)
    assert cli(["reset", "02"]) == 0
    out = capsys.readouterr().out
    assert f"course root: {root}" in out
    (saved,) = _backups(root)
    assert str(saved) in out and saved.read_text() == mine
    assert ex.read_text() == exercises.build_exercise("02_group_quant", root)


def test_read_only_exercises_give_a_message_and_no_orphan(root, monkeypatch, capsys):
    ex = root / "exercises" / "03_colmajor_store.ipynb"
    mine = _edit(ex)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if "exercises" in str(p) else real(p, mode))
    for argv in (["reset", "03"], ["reveal", "03", "scale_alloc"], ["generate", "--backup"]):
        assert cli(argv) == 2, argv
        err = capsys.readouterr().err
        assert "read-only" in err and "chmod" in err and "exercises" in err, err
    assert ex.read_text() == mine and not _backups(root)


def test_a_permission_error_while_writing_is_a_message(root, monkeypatch, capsys):
    ex = root / "exercises" / "06_grid_and_precheck.ipynb"
    mine = _edit(ex)
    real_write = Path.write_text

    def deny(self, *a, **k):
        if self.parent.name == "exercises":
            raise PermissionError(13, "Permission denied", str(self))
        return real_write(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", deny)
    assert cli(["reveal", "06", "packed_grid"]) == 2
    captured = capsys.readouterr()
    assert "Permission denied" in captured.err and "chmod" in captured.err and "Traceback" not in captured.err
    monkeypatch.setattr(Path, "write_text", real_write)
    assert ex.read_text() == mine and not _backups(root)


# ---------------------------------------------------------------- the progress file

BROKEN = {"list": "[]", "null": "null", "number": "42", "exercises-list": '{"exercises": []}',
          "bogus-status": '{"exercises": {"precheck": {"status": "maybe"}}}',
          "hint-string": '{"hints": {"precheck": "two"}}', "entry-string": '{"exercises": {"precheck": "ok"}}',
          "conflict": '<<<<<<< HEAD\n{"exercises": {}}\n=======\n{}\n>>>>>>> b\n',
          "unknown-key": '{"passed": "yes"}',
          "status-list": '{"exercises": {"precheck": {"status": ["passed"]}}}',
          "attempts-negative": '{"exercises": {"precheck": {"status": "passed", "attempts": -5}}}',
          "entry-typo": '{"exercises": {"precheck": {"status": "passed", "passsed": true}}}',
          "huge-number": '{"exercises": {"precheck": {"attempts": ' + "9" * 5000 + '}}}',
          "deep-nesting": "[" * 100_000}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_progress_file_is_a_message_everywhere(root, kind, capsys):
    pf = root / ".progress.json"
    pf.write_text(BROKEN[kind])
    with pytest.raises(progress.ProgressError, match=re.escape(str(pf))):
        progress.load_state()
    for argv in (["progress"], ["hint", "precheck"]):
        assert cli(argv) == 2, argv
        captured = capsys.readouterr()
        assert str(pf) in captured.out + captured.err and "Traceback" not in captured.err
    table = progress.progress_table()                 # a notebook cell: never raises
    assert str(pf) in str(table) and "mv " in str(table) and str(pf) in table._repr_html_()
    record_progress(True)

    def largest_offset(M, N, block_m=8):
        return (-(-M // block_m) - 1) * block_m * N
    res = check_largest_offset(largest_offset)        # ✅, then a note instead of an exception
    out = capsys.readouterr().out
    assert res and out.startswith("✅ largest_offset") and "not recorded in your progress" in out
    assert pf.read_text() == BROKEN[kind], "a file we cannot read is never overwritten"


def test_unsolved_is_not_yet_and_old_failed_reads_as_not_yet(root, capsys):
    record_progress(True)
    assert not check_largest_offset(lambda M, N, block_m=8: 0)
    assert json.loads((root / ".progress.json").read_text())["exercises"]["largest_offset"]["status"] == "not yet"
    (root / ".progress.json").write_text('{"exercises": {"precheck": {"status": "failed", "attempts": 2}}}')
    assert progress.status("precheck") == "not yet"
    assert "failed" not in str(progress.progress_table())


def test_shell_hint_names_the_shell_command_for_the_next_tier(root, capsys):
    assert cli(["hint", "precheck"]) == 0
    out = capsys.readouterr().out
    assert "`python -m course hint precheck` again for tier 2" in out and 'hint("precheck")' not in out
    hints.hint("group_scale")
    assert 'hint("group_scale") again for tier 2' in capsys.readouterr().out


def test_exercises_readme_keeps_the_last_hint_for_request():
    text = exercises.build_readme()
    for e in catalog.EXERCISES:
        assert e.hints[0] .replace("<", "&lt;").replace(">", "&gt;").replace("|", "&#124;")[:40] in text
        last = e.hints[-1].replace("<", "&lt;").replace(">", "&gt;").replace("|", "&#124;")
        assert last not in text, f"{e.id}: the answer tier is printed in exercises/README.md"
        assert f"python -m course hint {e.id} --tier {len(e.hints)}" in text


# ---------------------------------------------------------------- which checkout

def test_commands_act_on_the_checkout_of_the_working_directory(root, tmp_path, monkeypatch, capsys):
    assert course_root() == root
    monkeypatch.chdir(root / "exercises")
    assert course_root() == root
    _edit(root / "exercises" / "04_ue8m0_packing.ipynb")
    assert cli(["reset", "04"]) == 0
    assert _backups(root) and str(root) in capsys.readouterr().out
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    assert course_root() == PACKAGE_ROOT
    monkeypatch.setenv("COURSE_ROOT", str(root))
    assert course_root() == root


def test_tests_and_nbval_use_their_own_progress_file():
    own = os.environ.get("COURSE_PROGRESS_FILE")
    assert own and Path(own).resolve() != (ROOT / ".progress.json").resolve()
    make = (ROOT / "Makefile").read_text()
    recipe = make[make.index("\ntest: "):].split("\n\n")[0]
    assert "COURSE_PROGRESS_FILE=" in recipe, "make test must give nbval runs their own progress file"


# ---------------------------------------------------------------- structure

def _course_modules() -> dict[str, Path]:
    out = {}
    for p in (ROOT / "course").rglob("*.py"):
        rel = p.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _imports(mod: str, path: Path, known: set[str]) -> set[str]:
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")
                base = ".".join(up[:len(up) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n for n in names if n in known and n != mod}
    return found


def test_course_has_no_import_cycle():
    mods = _course_modules()
    graph = {m: _imports(m, p, set(mods)) for m, p in mods.items()}
    graph = {m: {d for d in deps if not (m.startswith(d + ".") or d == "course")} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert "course.catalog" in graph and not graph["course.catalog"], "the catalog imports nothing of the course"


def test_the_cycle_test_can_fail(tmp_path):
    a = {"x.a": {"x.b"}, "x.b": {"x.a"}}
    state = {}

    def visit(m, stack):
        state[m] = 1
        for d in a[m]:
            if state.get(d) == 1:
                raise AssertionError("cycle")
            if d not in state:
                visit(d, stack + [d])
        state[m] = 2
    with pytest.raises(AssertionError):
        visit("x.a", ["x.a"])


def _code_of(path: Path) -> str:
    if path.suffix == ".ipynb":
        import nbformat
        nb = nbformat.read(path, as_version=4)
        return "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return path.read_text()


def _owned_code() -> list[Path]:
    return ([p for p in (ROOT / "course").rglob("*.py") if p.name != "lint_int32.py"]
            + sorted((ROOT / "notebooks").glob("*.ipynb")))


def test_one_source_for_the_tier_and_the_constants():
    tier_again = re.compile(r"""["']cpu["']\s+if\s+[\w.]*INTERPRETED""")
    redefined = re.compile(r"^\s*(FP8_MAX|GROUP|INT32_MAX|PACKED_EPS)\s*=|^\s*def round_up\b", re.M)
    for p in _owned_code():
        code = _code_of(p)
        assert not tier_again.search(code), f"{p.name} recomputes the tier; use kernels.tier"
        assert not redefined.search(code), f"{p.name} redefines a constant of kernels.reference/offsets"
    # conftest names the rule kernels.compare.compare(tier=...) takes, from kernels.tier alone
    conftest = (ROOT / "tests" / "conftest.py").read_text()
    assert "from kernels import tier" in conftest and "cuda.is_available() else" not in conftest
    assert not redefined.search(conftest)


def test_no_lessons_module_and_one_import_convention():
    assert not (ROOT / "course" / "lessons_a.py").exists() and not (ROOT / "course" / "lessons_b.py").exists()
    import nbformat
    for p in sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb")):
        cells = [c for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code"]
        setup = next(c.source for c in cells if "kit.setup()" in c.source)
        first = [ln for ln in setup.splitlines() if ln.strip() and not ln.startswith("#")][0]
        assert first.startswith("import kernels"), f"{p.name}: `import kernels` comes first"
        assert re.search(r"^from course import kit\b", setup, re.M), p.name
        assert "DEV = kit.setup()" in setup, p.name
        code = "\n".join(c.source for c in cells)
        assert "warnings.filterwarnings" not in code and "lessons_" not in code, p.name
        assert code.count("kit.setup(") == 1, p.name


def test_lint_subcommand_delegates_everything_to_course_audit(monkeypatch, capsys):
    import sys
    import types
    seen = []
    cli_mod = types.ModuleType("course.audit.cli")
    cli_mod.main = lambda argv: seen.append(argv) or 0
    pkg = types.ModuleType("course.audit")
    pkg.__path__ = []
    pkg.cli = cli_mod
    monkeypatch.setitem(sys.modules, "course.audit", pkg)
    monkeypatch.setitem(sys.modules, "course.audit.cli", cli_mod)
    assert cli(["lint", "kernels/", "--json", "-h"]) == 0
    assert seen == [["kernels/", "--json", "-h"]]


def test_lint_subcommand_without_the_audit_package_says_so(monkeypatch, capsys):
    import sys
    monkeypatch.setitem(sys.modules, "course.audit", None)     # as if the package were absent
    monkeypatch.setitem(sys.modules, "course.audit.cli", None)
    assert cli(["lint"]) == 2
    assert "course.audit" in capsys.readouterr().err


def test_hint_in_a_notebook_still_helps_when_the_progress_file_is_broken(root, capsys):
    pf = root / ".progress.json"
    pf.write_bytes(b"\xff\xfe not json")
    hints.hint("precheck")                                    # a notebook call: no exception
    out = capsys.readouterr().out
    assert str(pf) in out and "precheck hint 1/3" in out
    assert pf.read_bytes() == b"\xff\xfe not json"
    assert cli(["hint", "precheck"]) == 2                     # the shell says it as an error
    assert str(pf) in capsys.readouterr().err


def test_a_damaged_exercise_notebook_is_kept_and_reveal_says_the_way_out(root, capsys):
    ex = root / "exercises" / "04_ue8m0_packing.ipynb"
    ex.write_bytes(b"\x00\xff{ not a notebook")
    acts = {a.file: a.action for a in exercises.generate(root, say=lambda _m: None)}
    assert acts["04_ue8m0_packing.ipynb"] == "kept" and ex.read_bytes() == b"\x00\xff{ not a notebook"
    assert cli(["reveal", "04", "ue8m0_round"]) == 2
    err = capsys.readouterr().err
    assert "not a readable notebook" in err and "python -m course reset 04_ue8m0_packing" in err
    assert cli(["reset", "04"]) == 0                          # the way out works, after a backup
    (saved,) = _backups(root)
    assert saved.read_bytes() == b"\x00\xff{ not a notebook"


def test_a_symlinked_progress_file_is_written_through(root, tmp_path, monkeypatch):
    real = tmp_path / "real.json"
    real.write_text('{"exercises": {}, "hints": {}}')
    link = tmp_path / "link.json"
    link.symlink_to(real)
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(link))
    progress.record("precheck", True)
    assert link.is_symlink(), "the link stays a link"
    assert json.loads(real.read_text())["exercises"], "and the file it points to got the update"
