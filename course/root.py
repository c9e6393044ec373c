"""Which checkout of the course a command acts on.

The ``course`` console script is installed once (editable) but a learner may have several clones.
The files a command reads or writes (solutions/, exercises/, .progress.json, .backups/) belong to the
clone that holds the working directory; outside any clone, to the clone this package was installed
from. ``$COURSE_ROOT`` overrides both. Commands that write say which root they used.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def is_course_root(d: Path) -> bool:
    return (d / "solutions").is_dir() and (d / "course" / "exercises.toml").is_file()


def course_root(start: str | os.PathLike | None = None) -> Path:
    """$COURSE_ROOT, else the nearest directory at or above `start` (default: the working directory)
    that is a checkout of this course, else the checkout this package was installed from."""
    env = os.environ.get("COURSE_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(start if start is not None else os.getcwd()).resolve()
    for d in (here, *here.parents):
        if is_course_root(d):
            return d
    return PACKAGE_ROOT
