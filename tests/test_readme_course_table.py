"""README.md's course table lists every lesson notebook, in order, and beside each lesson exactly the
exercises of the catalog (course/exercises.toml) that practise it: an exercise goes beside the last
lesson it needs (its `lesson` field, e.g. "01, 02" -> lesson 02). The table is written by hand; this
test fails as soon as it and the catalog (or notebooks/) disagree."""
from __future__ import annotations

import re
from pathlib import Path

from course import catalog

ROOT = Path(__file__).resolve().parents[1]


def _table() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## The course\n", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("|")]
    assert rows[0].startswith("| step |") and set(rows[1]) <= set("|-"), rows[:2]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in rows[2:]]


def _expected_exercises() -> dict[int, str]:
    by_lesson: dict[int, dict[str, list[str]]] = {}
    for ex in catalog.EXERCISES:
        last = max(int(v) for v in re.findall(r"\d+", ex.lesson))
        by_lesson.setdefault(last, {}).setdefault(ex.notebook, []).append(ex.number)
    return {lesson: "; ".join(f"{', '.join(nums)} (`{nb}`)" for nb, nums in sets.items())
            for lesson, sets in by_lesson.items()}


def test_every_lesson_notebook_is_a_row_in_order():
    stems = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    rows = _table()
    assert [r[0] for r in rows] == [str(int(s[:2])) for s in stems]
    for row, stem in zip(rows, stems):
        assert row[1].startswith(f"`{stem}`"), (row, stem)


def test_exercise_column_is_the_catalog():
    want = _expected_exercises()
    rows = _table()
    got = {int(r[0]): r[2] for r in rows}
    for step, cell in got.items():
        assert cell == want.get(step, ""), f"step {step}: README has {cell!r}, the catalog says {want.get(step, '')!r}"
    assert set(want) <= set(got), f"exercises for lessons {sorted(set(want) - set(got))} have no row"
