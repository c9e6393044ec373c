"""Integer intervals for the audit: every value is bounded by [lo, hi] or unknown (with a reason).

lo/hi are Python ints (exact: no overflow on the host) or +-inf. An interval with an infinite
side carries `why`, the first reason the analysis lost the bound, so that an *unknown* verdict
can say what to pass (``--bound X=...``, ``--grid ...``).
"""
from __future__ import annotations

import dataclasses
import math

INT32_MIN, INT32_MAX = -2**31, 2**31 - 1
INF = math.inf


@dataclasses.dataclass(frozen=True)
class Iv:
    lo: int | float = -INF
    hi: int | float = INF
    why: str = ""

    @property
    def bounded(self) -> bool:
        return self.lo != -INF and self.hi != INF

    @property
    def fits_int32(self) -> bool:
        return INT32_MIN <= self.lo and self.hi <= INT32_MAX

    def __str__(self) -> str:
        return f"[{self.lo}, {self.hi}]" if self.bounded else f"unbounded ({self.why})"


def point(v: int) -> Iv:
    return Iv(v, v)


def unknown(why: str) -> Iv:
    return Iv(-INF, INF, why)


TOP = unknown("no information")
BOOL = Iv(0, 1)


def _why(*ivs: Iv) -> str:
    return next((i.why for i in ivs if not i.bounded and i.why), "")


def _mk(lo, hi, *srcs: Iv) -> Iv:
    if isinstance(lo, float) and math.isnan(lo) or isinstance(hi, float) and math.isnan(hi):
        return unknown(_why(*srcs) or "indeterminate arithmetic")
    return Iv(lo, hi, "" if (lo != -INF and hi != INF) else _why(*srcs) or "unbounded arithmetic")


def _mul(x, y):
    if x == 0 or y == 0:      # 0 * inf is 0 for bounds
        return 0
    return x * y


def hull(a: Iv, b: Iv) -> Iv:
    return _mk(min(a.lo, b.lo), max(a.hi, b.hi), a, b)


def add(a: Iv, b: Iv) -> Iv:
    return _mk(a.lo + b.lo, a.hi + b.hi, a, b)


def sub(a: Iv, b: Iv) -> Iv:
    return _mk(a.lo - b.hi, a.hi - b.lo, a, b)


def neg(a: Iv) -> Iv:
    return _mk(-a.hi, -a.lo, a)


def mul(a: Iv, b: Iv) -> Iv:
    c = [_mul(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
    return _mk(min(c), max(c), a, b)


def floordiv(a: Iv, b: Iv) -> Iv:
    """Floor division (Python/constexpr semantics; for the non-negative offsets that matter here
    Triton's truncating division agrees)."""
    if b.lo <= 0 <= b.hi:
        return unknown(_why(a, b) or "division by an interval that contains 0")
    c = []
    for x in (a.lo, a.hi):
        for y in (b.lo, b.hi):
            if x in (INF, -INF):
                c.append(x if y > 0 else -x)
            elif y in (INF, -INF):
                c.append(0 if (x >= 0) == (y > 0) else -1)
            else:
                c.append(x // y)
    return _mk(min(c), max(c), a, b)


def mod(a: Iv, b: Iv) -> Iv:
    if b.lo <= 0:
        return unknown(_why(a, b) or "remainder by a divisor that is not positive")
    top = b.hi - 1
    if a.lo >= 0:
        return _mk(0, min(a.hi, top), a, b)
    return _mk(-top, top, b)


def shl(a: Iv, b: Iv) -> Iv:
    if not b.bounded or b.lo < 0 or b.hi > 63:
        return unknown(_why(a, b) or "shift by an unbounded amount")
    return mul(a, Iv(2 ** int(b.lo), 2 ** int(b.hi)))


def shr(a: Iv, b: Iv) -> Iv:
    if not b.bounded or b.lo < 0:
        return unknown(_why(a, b) or "shift by an unbounded amount")
    return floordiv(a, Iv(2 ** int(b.lo), 2 ** int(min(b.hi, 63))))


def bitand(a: Iv, b: Iv) -> Iv:
    # x & m with m >= 0 lies in [0, m] whatever x is.
    tops = [i.hi for i in (a, b) if i.lo >= 0 and i.hi != INF]
    if tops:
        return Iv(0, min(tops))
    return unknown(_why(a, b) or "bitwise and of possibly negative values")


def bitor(a: Iv, b: Iv) -> Iv:
    if a.lo >= 0 and b.lo >= 0 and a.bounded and b.bounded:
        return Iv(0, 2 ** int(max(a.hi, b.hi, 1)).bit_length() - 1)
    return unknown(_why(a, b) or "bitwise or of possibly negative values")


def minimum(a: Iv, b: Iv) -> Iv:
    return _mk(min(a.lo, b.lo), min(a.hi, b.hi), a, b)


def maximum(a: Iv, b: Iv) -> Iv:
    return _mk(max(a.lo, b.lo), max(a.hi, b.hi), a, b)


def absolute(a: Iv) -> Iv:
    if a.lo >= 0:
        return a
    if a.hi <= 0:
        return neg(a)
    return _mk(0, max(-a.lo, a.hi), a)


def widen(old: Iv, new: Iv, why: str) -> Iv:
    """Loop widening: a side that keeps moving becomes infinite."""
    lo = old.lo if new.lo >= old.lo else -INF
    hi = old.hi if new.hi <= old.hi else INF
    return Iv(lo, hi, "" if lo != -INF and hi != INF else why)
