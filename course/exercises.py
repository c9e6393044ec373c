"""Exercises: the catalog, the generator (solutions -> exercises), progress, reset and reveal.

One source of truth: ``solutions/NN_name.ipynb`` are the authored, executed notebooks. In their code
cells, the lines between ``# BEGIN SOLUTION: <what to write>`` and ``# END SOLUTION`` are the
learner's part. :func:`generate` writes ``exercises/NN_name.ipynb`` with each region replaced by a
comment saying roughly how much code is expected and ``raise NotImplementedError(...)``, outputs
stripped, and cells tagged ``solution-only`` dropped. ``exercises/README.md`` (the table of every
exercise and its hints) is generated too.

Learner work is never overwritten silently: ``exercises/.manifest.json`` (committed) keeps the hash
of what was last generated. A file on disk that matches neither that hash nor the new content holds
the learner's edits: :func:`generate` leaves it alone (or, with ``backup=True``, moves it to
``.backups/<timestamp>/`` and says where); :func:`reset` and :func:`reveal` always back up first.

Progress (checks passed, hint tiers shown) lives in ``.progress.json`` at the repository root
(git-ignored), or in the file named by ``$COURSE_PROGRESS_FILE``.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?::\s*(?P<what>.*?))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
SOLUTION_ONLY = "solution-only"   # cell tag: kept in solutions/, dropped from exercises/
MANIFEST = ".manifest.json"
README = "README.md"


@dataclasses.dataclass(frozen=True)
class Exercise:
    id: str          # also the name of its check (course.checks.check_<id>) and its hints key
    notebook: str    # stem of solutions/<notebook>.ipynb and exercises/<notebook>.ipynb
    number: str      # "2.1": notebook 2, exercise 1
    lesson: str      # the lesson notebook it practises
    goal: str        # one line

    @property
    def check(self) -> str:
        return f"check_{self.id}"


EXERCISES: tuple[Exercise, ...] = (
    Exercise("silu_mul_kernel", "01_silu_mul", "1.1", "01, 02",
             "Write a Triton kernel for y = silu(gate) * up on the colmajor precision path (rounded to T twice)."),
    Exercise("silu_mul_launch", "01_silu_mul", "1.2", "01, 02",
             "Launch it: a grid that covers every row and column block exactly once, for any M."),
    Exercise("group_scale", "02_group_quant", "2.1", "03",
             "Per-(row, group) absmax floored at eps, times 1/448: the fp32 dequant scale."),
    Exercise("fp8_quantize", "02_group_quant", "2.2", "03",
             "Divide by the scale, clamp to [-448, 448], cast to fp8 e4m3fn."),
    Exercise("scale_offsets", "03_colmajor_store", "3.1", "04",
             "Store the scales column-major (MN-major): where does scale (row r, group g) go?"),
    Exercise("scale_alloc", "03_colmajor_store", "3.2", "04",
             "Allocate the scale tensor DeepGEMM wants: [M, G] fp32, strides (1, round_up(M, 4))."),
    Exercise("ue8m0_round", "04_ue8m0_packing", "4.1", "05",
             "Round a scale up to a power of two, 2**ceil(log2(s)), exactly as the kernels do."),
    Exercise("pack_exponents", "04_ue8m0_packing", "4.2", "05",
             "Pack four UE8M0 exponent bytes (bias 127, clamped) into one int32, group 4p+j in byte j."),
    Exercise("largest_offset", "05_offsets_and_fix", "5.1", "06",
             "Largest input block offset row0 * N the colmajor kernel computes for a shape (pure Python)."),
    Exercise("first_failing_m", "05_offsets_and_fix", "5.2", "06",
             "First M (a multiple of `multiple`) at which that offset no longer fits in int32."),
    Exercise("fix_offsets", "05_offsets_and_fix", "5.3", "07",
             "Fix a kernel whose pid * BLOCK_M * stride wraps in int32: exact int64 offsets for every pid."),
    Exercise("packed_grid", "06_grid_and_precheck", "6.1", "08",
             "Lift the packed kernel's grid limit: rows on axis 0, every row covered exactly once."),
    Exercise("precheck", "06_grid_and_precheck", "6.2", "08",
             "A host-side precheck that refuses, with a clear exception, a launch that would overflow."),
)
BY_ID = {e.id: e for e in EXERCISES}
NOTEBOOKS: tuple[str, ...] = tuple(dict.fromkeys(e.notebook for e in EXERCISES))


class ExerciseError(Exception):
    """A request the exercise machinery cannot carry out (unknown name, malformed notebook...)."""


def get(ex_id: str) -> Exercise:
    try:
        return BY_ID[ex_id]
    except KeyError:
        raise ExerciseError(f"unknown exercise {ex_id!r}; known: {', '.join(BY_ID)}") from None


def resolve_notebook(name: str) -> str:
    """'1', '01', '01_silu_mul' or '01_silu_mul.ipynb' -> '01_silu_mul'."""
    stem = Path(name).stem
    hits = [nb for nb in NOTEBOOKS if nb == stem or nb.split("_")[0] == stem.zfill(2)]
    if len(hits) != 1:
        raise ExerciseError(f"unknown exercise notebook {name!r}; known: {', '.join(NOTEBOOKS)}")
    return hits[0]


# ---------------------------------------------------------------- progress state

def progress_file() -> Path:
    return Path(os.environ.get("COURSE_PROGRESS_FILE") or ROOT / ".progress.json")


def load_state() -> dict:
    p = progress_file()
    try:
        state = json.loads(p.read_text())
    except FileNotFoundError:
        state = {}
    except (OSError, json.JSONDecodeError) as e:
        raise ExerciseError(f"cannot read the progress file {p}: {e}. Delete it to start afresh.") from e
    state.setdefault("exercises", {})
    state.setdefault("hints", {})
    return state


def save_state(state: dict) -> None:
    p = progress_file()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    tmp.replace(p)


def record(ex_id: str, ok: bool) -> None:
    """Remember the outcome of the latest check of `ex_id`."""
    state = load_state()
    entry = state["exercises"].setdefault(ex_id, {"attempts": 0})
    entry["attempts"] += 1
    entry["status"] = "passed" if ok else "failed"
    if ok and "first_passed" not in entry:
        entry["first_passed"] = _dt.datetime.now().isoformat(timespec="seconds")
    save_state(state)


def status(ex_id: str, state: dict | None = None) -> str:
    state = load_state() if state is None else state
    return state["exercises"].get(ex_id, {}).get("status", "not yet")


def _bar(done: int, total: int, width: int = 26) -> str:
    full = round(width * done / total) if total else 0
    return "█" * full + "░" * (width - full)


class ProgressTable:
    """Every exercise with its status; shows as HTML in a notebook and as text elsewhere."""

    def __init__(self, state: dict):
        self.rows = [(e, status(e.id, state), state["hints"].get(e.id, 0)) for e in EXERCISES]
        self.passed = sum(s == "passed" for _, s, _ in self.rows)

    def summary(self) -> str:
        return f"{_bar(self.passed, len(self.rows))} {self.passed}/{len(self.rows)} exercises passed"

    def __str__(self) -> str:
        mark = {"passed": "✅ passed", "failed": "❌ failed", "not yet": "·  not yet"}
        lines = [f"{'#':<4} {'exercise':<17} {'status':<11} {'hints':<5} notebook"]
        for e, s, h in self.rows:
            lines.append(f"{e.number:<4} {e.id:<17} {mark[s]:<11} {h:<5} exercises/{e.notebook}.ipynb")
        return "\n".join(lines + ["", self.summary()])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        icon = {"passed": "✅", "failed": "❌", "not yet": "·"}
        rows = "".join(
            f"<tr><td>{e.number}</td><td><code>{e.id}</code></td><td>{icon[s]} {s}</td>"
            f"<td>{h}</td><td>{html.escape(e.goal)}</td></tr>" for e, s, h in self.rows)
        return ("<table><tr><th>#</th><th>exercise</th><th>status</th><th>hints seen</th><th>goal</th></tr>"
                f"{rows}</table><p><code>{self.summary()}</code></p>")


def progress_table() -> ProgressTable:
    """The table of every exercise and whether its check passed (for notebooks and the CLI)."""
    return ProgressTable(load_state())


# ---------------------------------------------------------------- generator

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
            code = [ln for ln in region if ln.strip() and not ln.strip().startswith("#")]
            count = len(code)
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


def _exercise_of(cell) -> str | None:
    return cell.get("metadata", {}).get("course", {}).get("exercise")


def build_exercise(notebook: str, root: Path = ROOT) -> str:
    """The exercise notebook generated from solutions/<notebook>.ipynb, as the text written to disk."""
    nbf = _nbformat()
    src_path = root / "solutions" / f"{notebook}.ipynb"
    nb = nbf.read(src_path, as_version=4)
    out = copy.deepcopy(nb)
    out.cells = []
    seen = []
    for i, cell in enumerate(nb.cells):
        if SOLUTION_ONLY in cell.get("metadata", {}).get("tags", []):
            continue
        cell = copy.deepcopy(cell)
        ex_id = _exercise_of(cell)
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
    return nbf.writes(out) + "\n"


def build_readme() -> str:
    """exercises/README.md: the one table of every exercise and its hints."""
    from .hints import HINTS
    lines = [
        "# Exercises",
        "",
        "<!-- generated by `python -m course generate` from course/exercises.py and course/hints.py; "
        "do not edit -->",
        "",
        "Each notebook here is generated from `solutions/` (the single source of truth): run its cells, "
        "fill in every `raise NotImplementedError`, and run the check under it. A check prints ✅, or ❌ "
        "with what is wrong. Stuck? `hint(\"<exercise>\")` in the notebook shows the next hint, "
        "`python -m course hint <exercise>` does the same in a shell.",
        "",
        "- `python -m course progress` shows what you have passed.",
        "- `python -m course reset NN` gives you a fresh notebook (your old one goes to `.backups/`).",
        "- `python -m course reveal NN [exercise]` copies the solution in (after a backup), "
        "`--print` only prints it.",
        "",
        "| # | exercise | notebook | lesson | goal | check | hints |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in EXERCISES:
        tiers = HINTS[e.id]
        body = "<br>".join(f"{i}. {html.escape(t, quote=False)}" for i, t in enumerate(tiers, 1))
        hints = f"<details><summary>{len(tiers)} hints</summary>{body}</details>"
        lines.append(f"| {e.number} | `{e.id}` | [{e.notebook}]({e.notebook}.ipynb) | {e.lesson} | "
                     f"{e.goal.replace('|', '&#124;')} | `{e.check}` | {hints.replace('|', '&#124;')} |")
    return "\n".join(lines) + "\n"


def generated_files(root: Path = ROOT) -> dict[str, str]:
    """{file name under exercises/: content} for everything `generate` writes."""
    files = {f"{nb}.ipynb": build_exercise(nb, root) for nb in NOTEBOOKS}
    files[README] = build_readme()
    return files


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_manifest(root: Path = ROOT) -> dict[str, str]:
    p = root / "exercises" / MANIFEST
    return json.loads(p.read_text()) if p.exists() else {}


def _save_manifest(manifest: dict, root: Path) -> None:
    (root / "exercises" / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def _backup_dir(root: Path) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    d, k = root / ".backups" / stamp, 1
    while d.exists():
        k += 1
        d = root / ".backups" / f"{stamp}-{k}"
    return d


def backup(path: Path, root: Path = ROOT, into: Path | None = None) -> Path:
    """Move `path` into .backups/<timestamp>/<its path under root>; return the new location."""
    dest = (into or _backup_dir(root)) / path.resolve().relative_to(root.resolve())
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), dest)
    return dest


def learner_modified(name: str, root: Path = ROOT, manifest: dict | None = None) -> bool:
    """True when exercises/<name> exists and is not what `generate` last wrote."""
    path = root / "exercises" / name
    manifest = load_manifest(root) if manifest is None else manifest
    return path.exists() and sha(path.read_text()) != manifest.get(name)


@dataclasses.dataclass
class Action:
    file: str
    action: str            # created | updated | unchanged | kept (learner work) | replaced
    backup: Path | None = None

    def __str__(self) -> str:
        text = {"created": "created", "updated": "regenerated", "unchanged": "up to date",
                "kept": "NOT overwritten: it holds your changes (run `python -m course generate "
                        "--backup` to move it to .backups/ and write a fresh one, or `python -m course "
                        "reset NN`)",
                "replaced": f"regenerated; your version was moved to {self.backup}"}[self.action]
        return f"exercises/{self.file}: {text}"


def generate(root: Path = ROOT, backup_modified: bool = False,
             only: list[str] | None = None) -> list[Action]:
    """Write exercises/ from solutions/; never overwrite learner edits silently (see module doc)."""
    root = Path(root)
    manifest = load_manifest(root)
    files = generated_files(root)
    if only:
        files = {k: v for k, v in files.items() if k in only}
    (root / "exercises").mkdir(exist_ok=True)
    actions, into = [], None
    for name, text in files.items():
        path = root / "exercises" / name
        if not path.exists():
            act = Action(name, "created")
        elif path.read_text() == text:
            act = Action(name, "unchanged")
        elif not learner_modified(name, root, manifest):
            act = Action(name, "updated")
        elif backup_modified:
            into = into or _backup_dir(root)
            act = Action(name, "replaced", backup(path, root, into))
        else:
            actions.append(Action(name, "kept"))
            continue
        if act.action != "unchanged":
            path.write_text(text)
        manifest[name] = sha(text)
        actions.append(act)
    _save_manifest(manifest, root)
    return actions


def reset(notebook: str, root: Path = ROOT) -> Action:
    """A fresh exercises/<notebook>.ipynb; a learner's version goes to .backups/ first."""
    root = Path(root)
    nb = resolve_notebook(notebook)
    name = f"{nb}.ipynb"
    text = build_exercise(nb, root)
    path = root / "exercises" / name
    if path.exists() and path.read_text() == text:
        act = Action(name, "unchanged")
    elif path.exists():
        act = Action(name, "replaced", backup(path, root))
        path.write_text(text)
    else:
        act = Action(name, "created")
        path.write_text(text)
    manifest = load_manifest(root)
    manifest[name] = sha(text)
    _save_manifest(manifest, root)
    return act


def solution_code(notebook: str, ex_id: str | None = None, root: Path = ROOT) -> dict[str, str]:
    """{exercise id: its cell's solution code (markers removed)} for one notebook."""
    nb_name = resolve_notebook(notebook)
    if ex_id is not None and get(ex_id).notebook != nb_name:
        raise ExerciseError(f"exercise {ex_id} is in {get(ex_id).notebook}, not {nb_name}")
    nb = _nbformat().read(Path(root) / "solutions" / f"{nb_name}.ipynb", as_version=4)
    return {_exercise_of(c): _strip_markers(c.source) for c in nb.cells
            if c.cell_type == "code" and _exercise_of(c) and ex_id in (None, _exercise_of(c))}


def reveal(notebook: str, ex_id: str | None = None, root: Path = ROOT) -> tuple[list[str], Path | None]:
    """Copy the solution of one exercise (or all of a notebook) into the learner's notebook.

    The learner's file is backed up to .backups/ first. Returns (exercise ids revealed, backup path).
    """
    root = Path(root)
    nbf = _nbformat()
    nb_name = resolve_notebook(notebook)
    code = solution_code(nb_name, ex_id, root)
    path = root / "exercises" / f"{nb_name}.ipynb"
    if not path.exists():
        reset(nb_name, root)
    learner = nbf.read(path, as_version=4)
    done = []
    for cell in learner.cells:
        cid = _exercise_of(cell)
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
    saved = backup(path, root)
    path.write_text(nbf.writes(learner) + "\n")
    return done, saved
