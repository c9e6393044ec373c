"""The check framework: ``run(id, body, fn)`` turns a learner's function into ✅ or ❌ and a Result.

Every check runs small shapes (fast on the CPU tier, Triton's interpreter) and on a GPU alike. A ❌
says what is wrong in terms the learner can act on: shapes and dtypes, the worst element and its
index, expected vs got, which rows or programs are wrong. It points at the cause; the answer itself
is the last hint tier, shown only on request. A stub that still raises ``NotImplementedError`` gives
❌ "not implemented yet", never a traceback. The outcome is recorded in the progress file
(course.progress); a progress file that cannot be written gives a note, never an exception after ✅.

Triton helpers (``@triton.jit`` functions the learner writes) are checked by calling them from a
small harness kernel in the exercise's check module, which stores what they return; offsets are
*stored*, never dereferenced, so a wrong offset cannot crash the notebook.
"""
from __future__ import annotations

import dataclasses
import inspect
import traceback

import torch

from kernels import tier  # first: it chooses the tier before Triton defines anything

from .. import progress
from ..catalog import get

DEV = tier.DEVICE
_RECORD = True


def record_progress(on: bool) -> None:
    """Turn recording of check outcomes on or off (the reference solutions turn it off)."""
    global _RECORD
    _RECORD = bool(on)


@dataclasses.dataclass
class Result:
    exercise: str
    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return f"✅ {self.exercise}: {self.message}"
        return f"❌ {self.exercise}: {self.message}\n   stuck? hint(\"{self.exercise}\") shows the next hint"

    def __repr__(self) -> str:
        return f"Result({self.exercise!r}, ok={self.ok})"

    def _ipython_display_(self) -> None:
        """Show nothing as a cell's value: the check has printed its verdict already."""


class Fail(Exception):
    """Raised inside a check with the diagnosis."""


class NotYet(Exception):
    """The learner's code still raises NotImplementedError."""


def run(ex_id: str, body, fn) -> Result:
    """Run `body(fn)` as the check of exercise `ex_id`: print the verdict, record it, return it."""
    get(ex_id)   # an unknown id is a bug in the check module, caught by the catalog test
    try:
        if fn is None:
            raise Fail(f"pass your function, e.g. {get(ex_id).check_name}({ex_id})")
        if _is_stub(fn):
            raise NotYet
        res = Result(ex_id, True, body(fn))
    except NotYet:
        res = Result(ex_id, False, "not implemented yet: replace the `raise NotImplementedError(...)` "
                                   "with your code, re-run that cell, then this one")
    except Fail as e:
        res = Result(ex_id, False, str(e))
    except Exception as e:  # noqa: BLE001 -- a learner's bug becomes a diagnosis, not a crash
        if _caused_by_stub(e):
            res = Result(ex_id, False, "not implemented yet: something you call still raises "
                                       "NotImplementedError (an earlier exercise of this notebook?)")
        else:
            res = Result(ex_id, False, f"your code raised {_describe_exc(e)}")
    # On the raw interpreter a correct solution can differ from the reference: say so before judging
    print(tier.raw_notice() + str(res))
    if _RECORD:
        try:
            progress.record(ex_id, res.ok)
        except progress.ProgressError as e:
            print(f"   (not recorded in your progress: {e})")
    return res


def _pyfunc(fn):
    return getattr(fn, "fn", fn)  # a @triton.jit function wraps the Python one


def _is_stub(fn) -> bool:
    try:
        src = inspect.getsource(_pyfunc(fn))
    except (OSError, TypeError):
        return False
    return "raise NotImplementedError" in src


def _caused_by_stub(e: BaseException) -> bool:
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, NotImplementedError) or "NotImplementedError" in str(e)[:500]:
            return True
        e = e.__cause__ or e.__context__
    return False


def _describe_exc(e: BaseException) -> str:
    inner = e.__cause__ or e
    first = (str(inner).strip().splitlines() or [""])[0][:300]
    where = ""
    tb = traceback.extract_tb(inner.__traceback__)
    if tb:
        fr = tb[-1]
        where = f" (in {fr.name}, line {fr.lineno}: {(fr.line or '').strip()[:80]})"
    return f"{type(inner).__name__}: {first}{where}"


def ranges(idx) -> str:
    """Sorted indices as short ranges: [1, 2, 3, 7] -> "1-3, 7" (at most six ranges)."""
    idx = sorted(set(int(i) for i in idx))
    out, start = [], None
    for a, b in zip(idx, idx[1:] + [None]):
        start = a if start is None else start
        if b != a + 1:
            out.append(f"{start}" if start == a else f"{start}-{a}")
            start = None
    return ", ".join(out[:6]) + (", ..." if len(out) > 6 else "")


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(shape, dtype, seed, scale=1.0):
    """Seeded normal values made on the CPU (the same on both tiers), moved to the kernels' device."""
    return (torch.randn(*shape, generator=seeded(seed)) * scale).to(dtype).to(DEV)
