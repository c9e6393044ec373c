"""Which checkout of the course a command acts on.

The ``course`` console script is installed once (editable) but a learner may have several clones.
The files a command reads or writes (solutions/, exercises/, .progress.json, .backups/) belong to the
clone that holds the working directory; outside any clone, to the clone this package was installed
from. ``$COURSE_ROOT`` overrides both. Commands that write say which root they used.
"""
from __future__ import annotations

import json
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


def read_json(p: Path, error: type[Exception], label: str, way_out: str, missing):
    """A JSON file of the learner's checkout (the exercise manifest, the progress file): `missing`
    when it does not exist; unreadable, not JSON, or beyond what json parses (a 5,000-digit number,
    100,000 nested brackets) -> error(message naming `label` and the way out), never a traceback."""
    try:
        text = p.read_text(errors="replace")
    except FileNotFoundError:
        return missing
    except OSError as e:
        raise error(f"cannot read {label}: {e.strerror}. {way_out}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{label} is not valid JSON ({e.msg}, line {e.lineno}; a merge conflict?). "
                    f"{way_out}") from None
    except (ValueError, RecursionError) as e:
        raise error(f"{label} cannot be read as the course's JSON ({type(e).__name__}: "
                    f"{str(e)[:80]}). {way_out}") from None
