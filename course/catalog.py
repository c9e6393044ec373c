"""The exercise catalog, read from course/exercises.toml: the one place each exercise is defined.

An entry holds the id, its notebook, number, lesson, goal, the dotted name of its check and its
hint tiers. Everything else (the generator, the checks' names, hints, progress, exercises/README.md)
reads it from here. This module imports nothing else from the course, so anything may import it.
"""
from __future__ import annotations

import dataclasses
import importlib
import tomllib
from pathlib import Path

CATALOG_FILE = Path(__file__).with_name("exercises.toml")


class ExerciseError(Exception):
    """A request the exercise tooling cannot carry out; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class Exercise:
    id: str                 # the name learners use: hint("<id>"), cell metadata course.exercise
    number: str             # "2.1": exercise notebook 2, exercise 1
    notebook: str           # stem of solutions/<notebook>.ipynb and exercises/<notebook>.ipynb
    lesson: str             # the lesson notebook(s) it practises
    goal: str               # one line, also the exercise's heading text in its notebook
    check: str              # "module:function" under course.checks
    hints: tuple[str, ...]  # tiers: the idea, the tool, nearly the code

    @property
    def check_name(self) -> str:
        return self.check.split(":")[1]

    def check_function(self):
        module, name = self.check.split(":")
        return getattr(importlib.import_module(f"course.checks.{module}"), name)


def _load() -> tuple[Exercise, ...]:
    raw = tomllib.loads(CATALOG_FILE.read_text())
    out = []
    for entry in raw["exercise"]:
        fields = {f.name for f in dataclasses.fields(Exercise)}
        if set(entry) != fields:
            raise ExerciseError(f"{CATALOG_FILE}: entry {entry.get('id')!r} has fields "
                                f"{sorted(entry)}, expected {sorted(fields)}")
        out.append(Exercise(**{**entry, "hints": tuple(entry["hints"])}))
    return tuple(out)


EXERCISES: tuple[Exercise, ...] = _load()
BY_ID = {e.id: e for e in EXERCISES}
NOTEBOOKS: tuple[str, ...] = tuple(dict.fromkeys(e.notebook for e in EXERCISES))


def get(ex_id: str) -> Exercise:
    try:
        return BY_ID[ex_id]
    except KeyError:
        raise ExerciseError(f"unknown exercise {ex_id!r}; known: {', '.join(BY_ID)}") from None


def resolve_notebook(name: str) -> str:
    """'1', '01', '01_silu_mul' or '01_silu_mul.ipynb' -> '01_silu_mul'."""
    stem = Path(str(name)).stem
    hits = [nb for nb in NOTEBOOKS if nb == stem or nb.split("_")[0] == stem.zfill(2)]
    if len(hits) != 1:
        raise ExerciseError(f"unknown exercise notebook {name!r}; known: {', '.join(NOTEBOOKS)}")
    return hits[0]
