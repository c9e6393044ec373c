"""Progress: which exercises passed and which hint tiers a learner has seen.

Kept in ``.progress.json`` at the course root (git-ignored), or in the file ``$COURSE_PROGRESS_FILE``
names (tests and nbval runs use their own). The file is validated on every read: a file that is not
what this module writes (a merge conflict, ``[]``, a bogus status) gives a :class:`ProgressError`
naming the file and the way out, never a raw traceback.
"""
from __future__ import annotations

import datetime as _dt
import html
import json
import os
from pathlib import Path

from .catalog import EXERCISES, ExerciseError
from .root import course_root, read_json

PASSED, NOT_YET = "passed", "not yet"
STATUSES = (PASSED, NOT_YET)
_LEGACY = {"failed": NOT_YET}   # what versions before the second edition wrote for "not yet"


class ProgressError(ExerciseError):
    """The progress file cannot be read or written."""


def progress_file() -> Path:
    return Path(os.environ.get("COURSE_PROGRESS_FILE") or course_root() / ".progress.json")


def _way_out(p: Path) -> str:
    return (f"Move it aside to start afresh (`mv {p} {p}.broken`), or fix it by hand: it must be a "
            'JSON object {"exercises": {id: {"status": "passed" | "not yet", "attempts": n}}, '
            '"hints": {id: tier}}.')


def _validate(state, p: Path) -> dict:
    def bad(what: str):
        return ProgressError(f"the progress file {p} {what}. {_way_out(p)}")
    if not isinstance(state, dict):
        raise bad(f"holds a JSON {type(state).__name__}, not an object")
    unknown = sorted(set(state) - {"exercises", "hints"})
    if unknown:   # e.g. {"passed": "yes"}: nothing the course reads, so say so instead of ignoring it
        raise bad(f"has keys the course does not know: {', '.join(map(repr, unknown))}")
    exercises = state.setdefault("exercises", {})
    hints = state.setdefault("hints", {})
    if not isinstance(exercises, dict) or not isinstance(hints, dict):
        raise bad('has "exercises" or "hints" that is not an object')
    for ex_id, entry in exercises.items():
        if not isinstance(entry, dict):
            raise bad(f"has a non-object entry for exercise {ex_id!r}")
        extra = sorted(set(entry) - {"status", "attempts", "first_passed"})
        if extra:
            raise bad(f"gives exercise {ex_id!r} keys the course does not know: "
                      f"{', '.join(map(repr, extra))}")
        if not isinstance(entry.get("status", NOT_YET), str):
            raise bad(f"gives exercise {ex_id!r} a status that is not a string")
        entry["status"] = _LEGACY.get(entry.get("status", NOT_YET), entry.get("status", NOT_YET))
        if entry["status"] not in STATUSES:
            raise bad(f"gives exercise {ex_id!r} the unknown status {entry['status']!r}")
        attempts = entry.setdefault("attempts", 0)
        if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 0:
            raise bad(f"gives exercise {ex_id!r} the attempt count {attempts!r} (not a whole number >= 0)")
    for ex_id, tier in hints.items():
        if not isinstance(tier, int) or isinstance(tier, bool) or tier < 0:
            raise bad(f"gives exercise {ex_id!r} the hint tier {tier!r} (not a whole number >= 0)")
    return state


def load_state() -> dict:
    p = progress_file()
    state = read_json(p, ProgressError, f"the progress file {p}", _way_out(p),
                      missing={"exercises": {}, "hints": {}})
    return _validate(state, p)


def save_state(state: dict) -> None:
    p = progress_file().resolve()   # a symlinked progress file is written through, not replaced
    tmp = p.with_name(p.name + ".tmp")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
        tmp.replace(p)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ProgressError(f"cannot write the progress file {p}: {e.strerror}. Make its folder "
                            "writable, or point $COURSE_PROGRESS_FILE at a writable file.") from None


def record(ex_id: str, ok: bool) -> None:
    """Remember the outcome of the latest check of `ex_id` ("passed" or "not yet")."""
    state = load_state()
    entry = state["exercises"].setdefault(ex_id, {"attempts": 0})
    entry["attempts"] += 1
    entry["status"] = PASSED if ok else NOT_YET
    if ok and "first_passed" not in entry:
        entry["first_passed"] = _dt.datetime.now().isoformat(timespec="seconds")
    save_state(state)


def status(ex_id: str, state: dict | None = None) -> str:
    state = load_state() if state is None else state
    return state["exercises"].get(ex_id, {}).get("status", NOT_YET)


def _bar(done: int, total: int, width: int = 26) -> str:
    full = round(width * done / total) if total else 0
    return "█" * full + "░" * (width - full)


class ProgressTable:
    """Every exercise with its status; HTML in a notebook, text elsewhere. A progress file that
    cannot be read shows as its message (a notebook cell never raises for it)."""

    def __init__(self, state: dict | None, error: str | None = None):
        self.error = error
        state = state or {"exercises": {}, "hints": {}}
        self.rows = [(e, status(e.id, state), state["hints"].get(e.id, 0)) for e in EXERCISES]
        self.passed = sum(s == PASSED for _, s, _ in self.rows)

    def summary(self) -> str:
        return f"{_bar(self.passed, len(self.rows))} {self.passed}/{len(self.rows)} exercises passed"

    def __str__(self) -> str:
        if self.error:
            return f"❌ {self.error}"
        mark = {PASSED: "✅ passed", NOT_YET: "·  not yet"}
        lines = [f"{'#':<4} {'exercise':<17} {'status':<11} {'hints':<5} notebook"]
        for e, s, h in self.rows:
            lines.append(f"{e.number:<4} {e.id:<17} {mark[s]:<11} {h:<5} exercises/{e.notebook}.ipynb")
        return "\n".join(lines + ["", self.summary()])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        if self.error:
            return f"<p>❌ {html.escape(self.error)}</p>"
        icon = {PASSED: "✅", NOT_YET: "·"}
        rows = "".join(
            f"<tr><td>{e.number}</td><td><code>{e.id}</code></td><td>{icon[s]} {s}</td>"
            f"<td>{h}</td><td>{html.escape(e.goal)}</td></tr>" for e, s, h in self.rows)
        return ("<table><tr><th>#</th><th>exercise</th><th>status</th><th>hints seen</th><th>goal</th></tr>"
                f"{rows}</table><p><code>{self.summary()}</code></p>")


def progress_table() -> ProgressTable:
    """The table of every exercise and whether its check passed (for notebooks and the CLI)."""
    try:
        return ProgressTable(load_state())
    except ProgressError as e:
        return ProgressTable(None, str(e))
