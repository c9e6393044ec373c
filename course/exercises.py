"""Exercise notebooks: the generator (solutions -> exercises), reset and reveal.

One source of truth: ``solutions/NN_name.ipynb`` are the authored, executed notebooks. In their code
cells, the lines between ``# BEGIN SOLUTION: <what to write>`` and ``# END SOLUTION`` are the
learner's part. :func:`generate` writes ``exercises/NN_name.ipynb`` with each region replaced by a
comment saying roughly how much code is expected and ``raise NotImplementedError(...)``, outputs
stripped, and cells tagged ``solution-only`` dropped. ``exercises/README.md`` is generated from the
catalog (course/exercises.toml).

Learner work is never overwritten without a backup: ``exercises/.manifest.json`` (committed) keeps the
hash of what was last generated; a file that matches neither that hash nor the new content holds the
learner's edits. Every command first validates everything it needs (the solution notebook, the
manifest, that the files are writable), then copies the learner's file to ``.backups/<time>/`` and
says where, and only then writes. If a write fails, nothing of the learner's is lost and the copy
that was made for it is removed again.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import hashlib
import html
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from . import colab
from .catalog import EXERCISES, NOTEBOOKS, ExerciseError, get, resolve_notebook
from .root import PACKAGE_ROOT, course_root, read_json

ROOT = PACKAGE_ROOT   # this package's own checkout (tests use it for the authored files)
BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?::\s*(?P<what>.*?))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
SOLUTION_ONLY = "solution-only"   # cell tag: kept in solutions/, dropped from exercises/
MANIFEST = ".manifest.json"
README = "README.md"

Say = Callable[[str], None]


def _root(root) -> Path:
    return Path(root) if root is not None else course_root()


# ---------------------------------------------------------------- building

def _nbformat():
    import nbformat  # ships with jupyter; imported lazily so `import course` stays light
    return nbformat


def _strip_markers(source: str) -> str:
    return "\n".join(ln for ln in source.split("\n") if not (BEGIN.match(ln) or END.match(ln)))


def _stub_source(source: str, ex_id: str, where: str) -> str:
    out, region, head = [], None, None
    for n, line in enumerate(source.split("\n"), 1):
        if region is None:
            m = BEGIN.match(line)
            if m:
                region, head = [], m
            elif END.match(line):
                raise ExerciseError(f"{where}: '# END SOLUTION' at line {n} without a BEGIN")
            else:
                out.append(line)
            continue
        if END.match(line):
            count = sum(1 for ln in region if ln.strip() and not ln.strip().startswith("#"))
            what = head.group("what") or "your code"
            ind = head.group("indent")
            out.append(f"{ind}# about {count} line{'s' if count != 1 else ''}: {what}")
            out.append(f'{ind}raise NotImplementedError("exercise {ex_id}: not implemented yet")')
            region = None
        elif BEGIN.match(line):
            raise ExerciseError(f"{where}: nested '# BEGIN SOLUTION' at line {n}")
        else:
            region.append(line)
    if region is not None:
        raise ExerciseError(f"{where}: '# BEGIN SOLUTION' without '# END SOLUTION'")
    return "\n".join(out)


def exercise_of(cell) -> str | None:
    """The exercise id a notebook cell belongs to (cell metadata course.exercise), or None."""
    return cell.get("metadata", {}).get("course", {}).get("exercise")


def _read_notebook(path: Path, way_out: str = ""):
    nbf = _nbformat()
    way_out = way_out or f"Restore it with `git checkout -- {path.name}` in its folder."
    try:
        return nbf.read(path, as_version=4)
    except FileNotFoundError:
        raise ExerciseError(f"{path} is missing. {way_out}") from None
    except Exception as e:  # noqa: BLE001 -- nbformat raises several types for a damaged file
        first = str(e).splitlines()[0][:200] if str(e) else ""
        raise ExerciseError(f"{path} is not a readable notebook ({type(e).__name__}: {first}). "
                            f"{way_out}") from None


def _text(path: Path) -> str:
    """A file's text; undecodable bytes (a damaged file) become U+FFFD, so it reads as changed."""
    return path.read_text(errors="replace")


def build_exercise(notebook: str, root: Path | None = None) -> str:
    """The exercise notebook generated from solutions/<notebook>.ipynb, as the text written to disk."""
    root = _root(root)
    src_path = root / "solutions" / f"{notebook}.ipynb"
    nb = _read_notebook(src_path)
    out = copy.deepcopy(nb)
    out.cells = []
    seen = []
    for i, cell in enumerate(nb.cells):
        if SOLUTION_ONLY in cell.get("metadata", {}).get("tags", []):
            continue
        cell = copy.deepcopy(cell)
        ex_id = exercise_of(cell)
        if cell.cell_type == "code":
            has_region = any(BEGIN.match(ln) for ln in cell.source.split("\n"))
            if has_region and not ex_id:
                raise ExerciseError(f"{src_path.name} cell {i}: a solution region in a cell without "
                                    "metadata course.exercise")
            if ex_id:
                if not has_region:
                    raise ExerciseError(f"{src_path.name} cell {i}: exercise {ex_id} has no solution region")
                cell.source = _stub_source(cell.source, ex_id, f"{src_path.name} cell {i}")
                seen.append(ex_id)
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        out.cells.append(cell)
    want = [e.id for e in EXERCISES if e.notebook == notebook]
    if seen != want:
        raise ExerciseError(f"{src_path.name}: exercise cells {seen} do not match the catalog {want}")
    # the learner's copy opens in Colab: a badge first, the (no-op elsewhere) setup cell before the
    # first code cell, both naming the exercise notebook's own path
    rel = f"exercises/{notebook}.ipynb"
    nbf = _nbformat()
    first_code = next((i for i, c in enumerate(out.cells) if c.cell_type == "code"), len(out.cells))
    out.cells.insert(first_code, nbf.from_dict(colab.setup_cell(rel)))
    out.cells.insert(0, nbf.from_dict(colab.badge_cell(rel)))
    return nbf.writes(out) + "\n"


def build_readme() -> str:
    """exercises/README.md: the one table of every exercise, with every hint tier but the last."""
    lines = [
        "# Exercises",
        "",
        "<!-- generated by `python -m course generate` from course/exercises.toml; do not edit -->",
        "",
        "Each notebook here is generated from `solutions/` (the single source of truth): run its cells, "
        "fill in every `raise NotImplementedError`, and run the check under it. A check prints ✅, or ❌ "
        "with what is wrong. Stuck? `hint(\"<exercise>\")` in the notebook shows the next hint, "
        "`python -m course hint <exercise>` does the same in a shell. The table shows the first hints; "
        "the last one, nearly the code, only comes on request.",
        "",
        "- `python -m course progress` shows what you have passed.",
        "- `python -m course reset NN` gives you a fresh notebook (your old one is copied to `.backups/` first).",
        "- `python -m course reveal NN [exercise]` copies the solution in (after a backup), "
        "`--print` only prints it.",
        "",
        "| # | exercise | notebook | lesson | goal | check | hints |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in EXERCISES:
        shown = e.hints[:-1]
        body = "<br>".join(f"{i}. {html.escape(t, quote=False)}" for i, t in enumerate(shown, 1))
        body += (f"<br>{len(e.hints)}. nearly the code: <code>python -m course hint {e.id} "
                 f"--tier {len(e.hints)}</code>")
        hints = f"<details><summary>{len(e.hints)} hints</summary>{body}</details>"
        lines.append(f"| {e.number} | `{e.id}` | [{e.notebook}]({e.notebook}.ipynb) | {e.lesson} | "
                     f"{e.goal.replace('|', '&#124;')} | `{e.check_name}` | {hints.replace('|', '&#124;')} |")
    return "\n".join(lines) + "\n"


def generated_files(root: Path | None = None) -> dict[str, str]:
    """{file name under exercises/: content} for everything `generate` writes."""
    files = {f"{nb}.ipynb": build_exercise(nb, root) for nb in NOTEBOOKS}
    files[README] = build_readme()
    return files


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------- manifest and backups

def load_manifest(root: Path | None = None) -> dict[str, str]:
    p = _root(root) / "exercises" / MANIFEST
    way_out = (f"Restore it with `git checkout -- exercises/{MANIFEST}` (nothing of yours is in it: it "
               "only lists what `python -m course generate` last wrote).")
    data = read_json(p, ExerciseError, str(p), way_out, missing={})
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                             for k, v in data.items()):
        raise ExerciseError(f"{p} is not an object of file name -> hash. {way_out}")
    return data


def _save_manifest(manifest: dict, root: Path) -> None:
    _write(root / "exercises" / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def _write(path: Path, text: str) -> None:
    """Write atomically (a reader never sees half a notebook); a failure says what to do."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise ExerciseError(f"cannot write {path}: {e.strerror}. Make {path.parent} writable (e.g. "
                            f"`chmod u+w {path.parent} {path}`) and run the command again.") from None


def _check_writable(paths: list[Path]) -> None:
    for p in paths:
        target = p if p.exists() else p.parent
        if not os.access(target, os.W_OK) or (p.exists() and not os.access(p.parent, os.W_OK)):
            raise ExerciseError(f"{target} is read-only, so nothing was changed. Make it writable "
                                f"(e.g. `chmod u+w {p.parent}`) and run the command again.")


def _backup_dir(root: Path) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    d, k = root / ".backups" / stamp, 1
    while d.exists():
        k += 1
        d = root / ".backups" / f"{stamp}-{k}"
    return d


def backup(path: Path, root: Path | None = None, into: Path | None = None) -> Path:
    """Copy `path` to .backups/<time>/<its path under root>; return the copy's path.

    A copy, not a move: the learner's file stays in place until the new content is written over it."""
    root = _root(root)
    dest = (into or _backup_dir(root)) / path.resolve().relative_to(root.resolve())
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    except OSError as e:
        _remove_orphan(dest)
        raise ExerciseError(f"cannot back up {path} to {dest}: {e.strerror}; nothing was changed. "
                            f"Make {root / '.backups'} writable and run the command again.") from None
    return dest


def _remove_orphan(dest: Path) -> None:
    try:
        dest.unlink(missing_ok=True)
        for d in (dest.parent, *dest.parents):
            if d.name == ".backups" or not d.is_dir() or any(d.iterdir()):
                break
            d.rmdir()
    except OSError:
        pass


def learner_modified(name: str, root: Path | None = None, manifest: dict | None = None) -> bool:
    """True when exercises/<name> exists and is not what `generate` last wrote."""
    root = _root(root)
    path = root / "exercises" / name
    manifest = load_manifest(root) if manifest is None else manifest
    return path.exists() and sha(_text(path)) != manifest.get(name)


@dataclasses.dataclass
class Action:
    file: str
    action: str            # created | updated | unchanged | kept (learner work) | replaced
    backup: Path | None = None

    def __str__(self) -> str:
        text = {"created": "created", "updated": "regenerated", "unchanged": "up to date",
                "kept": "NOT overwritten: it holds your changes (run `python -m course generate "
                        "--backup` to copy it to .backups/ and write a fresh one, or `python -m course "
                        "reset NN`)",
                "replaced": f"regenerated; your version is saved in {self.backup}"}[self.action]
        return f"exercises/{self.file}: {text}"


def _replace_with_backup(path: Path, text: str, root: Path, into: Path | None, say: Say) -> Path:
    """Back up `path`, say where, then write `text` over it; undo the backup if the write fails."""
    saved = backup(path, root, into)
    say(f"your version of {path.relative_to(root)} is saved in {saved}")
    try:
        _write(path, text)
    except ExerciseError:
        _remove_orphan(saved)
        raise
    return saved


def generate(root: Path | None = None, backup_modified: bool = False, only: list[str] | None = None,
             say: Say = print) -> list[Action]:
    """Write exercises/ from solutions/; never overwrite learner edits without a backup."""
    root = _root(root)
    manifest = load_manifest(root)
    files = generated_files(root)
    if only:
        files = {k: v for k, v in files.items() if k in only}
    ex_dir = root / "exercises"
    try:
        ex_dir.mkdir(exist_ok=True)
    except OSError as e:
        raise ExerciseError(f"cannot create {ex_dir}: {e.strerror}") from None
    plan = []
    for name, text in files.items():
        path = ex_dir / name
        if not path.exists():
            plan.append((name, text, "created"))
        elif _text(path) == text:
            plan.append((name, text, "unchanged"))
        elif not learner_modified(name, root, manifest):
            plan.append((name, text, "updated"))
        else:
            plan.append((name, text, "replaced" if backup_modified else "kept"))
    writes = [ex_dir / n for n, _, a in plan if a in ("created", "updated", "replaced")]
    if writes:
        _check_writable(writes + [ex_dir / MANIFEST])
    actions, into = [], None
    for name, text, act in plan:
        path = ex_dir / name
        if act == "kept":
            actions.append(Action(name, "kept"))
            continue
        saved = None
        if act == "replaced":
            into = into or _backup_dir(root)
            saved = _replace_with_backup(path, text, root, into, say)
        elif act != "unchanged":
            _write(path, text)
        manifest[name] = sha(text)
        actions.append(Action(name, act, saved))
    _save_manifest(manifest, root)
    return actions


def reset(notebook: str, root: Path | None = None, say: Say = print) -> Action:
    """A fresh exercises/<notebook>.ipynb; a learner's version is copied to .backups/ first."""
    root = _root(root)
    nb = resolve_notebook(notebook)
    name = f"{nb}.ipynb"
    text = build_exercise(nb, root)          # validate everything before touching anything
    manifest = load_manifest(root)
    path = root / "exercises" / name
    if path.exists() and _text(path) == text:
        act = Action(name, "unchanged")
    else:
        _check_writable([path, root / "exercises" / MANIFEST])
        if path.exists():
            act = Action(name, "replaced", _replace_with_backup(path, text, root, None, say))
        else:
            _write(path, text)
            act = Action(name, "created")
    manifest[name] = sha(text)
    _save_manifest(manifest, root)
    return act


def solution_code(notebook: str, ex_id: str | None = None, root: Path | None = None) -> dict[str, str]:
    """{exercise id: its cell's solution code (markers removed)} for one notebook."""
    root = _root(root)
    nb_name = resolve_notebook(notebook)
    if ex_id is not None and get(ex_id).notebook != nb_name:
        raise ExerciseError(f"exercise {ex_id} is in {get(ex_id).notebook}, not {nb_name}")
    nb = _read_notebook(root / "solutions" / f"{nb_name}.ipynb")
    return {exercise_of(c): _strip_markers(c.source) for c in nb.cells
            if c.cell_type == "code" and exercise_of(c) and ex_id in (None, exercise_of(c))}


def reveal(notebook: str, ex_id: str | None = None, root: Path | None = None,
           say: Say = print) -> tuple[list[str], Path | None]:
    """Copy the solution of one exercise (or all of a notebook) into the learner's notebook.

    The learner's file is backed up to .backups/ first. Returns (exercise ids revealed, backup path).
    """
    root = _root(root)
    nbf = _nbformat()
    nb_name = resolve_notebook(notebook)
    code = solution_code(nb_name, ex_id, root)
    path = root / "exercises" / f"{nb_name}.ipynb"
    if not path.exists():
        reset(nb_name, root, say)
    learner = _read_notebook(path, f"`python -m course reveal {nb_name} --print` prints the solution; "
                                   f"`python -m course reset {nb_name}` gives a fresh notebook (yours is "
                                   "copied to .backups/ first).")
    done = []
    for cell in learner.cells:
        cid = exercise_of(cell)
        if cell.cell_type == "code" and cid in code:
            cell.source = code[cid]
            cell.outputs = []
            cell.execution_count = None
            done.append(cid)
    missing = sorted(set(code) - set(done))
    if missing:
        raise ExerciseError(f"{path}: no cell for {', '.join(missing)} (deleted?). Print the solution "
                            f"with `python -m course reveal {nb_name} {missing[0]} --print`, or "
                            f"`python -m course reset {nb_name}`.")
    _check_writable([path])
    saved = _replace_with_backup(path, nbf.writes(learner) + "\n", root, None, say)
    return done, saved
