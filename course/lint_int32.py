"""A small static check: program-id arithmetic that reaches a pointer while still int32.

The rule the course teaches (lesson 07): widen the program id *before* multiplying,
``pid.to(tl.int64) * BLOCK_M * N``. This module reads a ``@triton.jit`` function's source, follows
every name derived from ``tl.program_id`` through assignments, and lists each multiplication that
involves such a value -- and each addition that sums such a product with something else
(``x_row[:, None] + gid * 128 + k[None, :]`` can wrap even when every product fits):

* ``int32``  -- no widening cast reaches the operation on every path: it is computed in 32 bits
  and can wrap (a *finding* if the result flows into a pointer or a load/store);
* ``int64``  -- the value was widened (``.to(tl.int64)``, ``tl.cast(x, tl.int64)``) on every path
  before the operation.

A cast applied to the product afterwards, ``(pid * BLOCK * N).to(tl.int64)``, widens a number that
has already wrapped; such sites stay ``int32`` and are marked ``cast after``. Terms added to a
pointer one at a time (``x_ptr + row * N + col``) are 64-bit address arithmetic, not int32 sums.

``if`` statements on compile-time flags can be specialized: ``lint(kernel, constexprs={"INDEX_64":
True})`` follows only the branch Triton would compile. Without it both branches are followed and a
value counts as widened only if it was widened on both (the cast must *dominate* the multiply).

This is the classroom face of ``course.audit`` (same analysis, ``python -m course lint``), which
also follows runtime integer arguments and helper ``@triton.jit`` calls across files, and bounds
every value to tell a product that wraps from one that never can. Limits here: only program-id
arithmetic is followed; runtime integer arguments are assumed int32 (what Triton picks below
2**31); no magnitudes (every int32 site that reaches memory is a finding). See docs/audit.md.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap

from course.audit.core import parse_module, run_kernel


@dataclasses.dataclass
class Site:
    line: int              # line number in the file that defines the function
    text: str              # the multiplication (or sum) as written
    int32: bool            # computed in 32 bits
    cast_after: bool = False       # the result is widened afterwards (too late)
    reaches_pointer: bool = False  # flows into pointer arithmetic or a load/store
    kind: str = "product"          # "product" or "sum" (an int32 addition of a product)

    @property
    def finding(self) -> bool:
        return self.int32 and self.reaches_pointer

    @property
    def verdict(self) -> str:
        if not self.int32:
            return "int64 (widened before the multiply)"
        what = "int32" if self.kind == "product" else "int32 sum"
        what += ", cast after the multiply (too late)" if self.cast_after else ""
        return what + (" -> reaches a pointer: FINDING" if self.reaches_pointer else
                       " (does not reach a pointer)")


@dataclasses.dataclass
class Report:
    function: str
    constexprs: dict
    sites: list[Site]

    @property
    def findings(self) -> list[Site]:
        return [s for s in self.sites if s.finding]

    @property
    def ok(self) -> bool:
        return not self.findings

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        spec = ", ".join(f"{k}={v}" for k, v in self.constexprs.items()) or "all branches"
        head = f"{self.function} ({spec}): "
        sums = sum(s.kind == "sum" for s in self.findings)
        head += ("✅ no int32 program-id product reaches a pointer" if self.ok else
                 f"❌ {len(self.findings) - sums} int32 program-id product(s)"
                 + (f" and {sums} sum(s)" if sums else "") + " reach a pointer")
        w = max([len(s.text) for s in self.sites] + [10])
        rows = [f"  line {s.line:>4}  {s.text:<{w}}  {s.verdict}" for s in self.sites]
        return "\n".join([head] + (rows or ["  (no multiplication involves the program id)"]))


def _source(fn) -> tuple[str, int, str | None]:
    """(source, first line, name) of a @triton.jit function, a plain function, or source text."""
    if isinstance(fn, str):
        return textwrap.dedent(fn), 1, None
    py = getattr(fn, "fn", fn)  # triton's JITFunction keeps the Python function in .fn
    lines, first = inspect.getsourcelines(py)
    return textwrap.dedent("".join(lines)), first, py.__name__


def lint(fn, constexprs: dict | None = None) -> Report:
    """Check one kernel (JITFunction, function or source text). See the module docstring."""
    source, first, name = _source(fn)
    mod = parse_module(source, "<lint>", line_offset=first - 1)
    func = next(n for n in ast.walk(mod.tree) if isinstance(n, ast.FunctionDef))
    consts = dict(constexprs or {})
    an = run_kernel(mod, func, {}, {}, consts, None, {}, mode="pid")
    sites = []
    for key, s in an.sites.items():
        if key in an.absorbed or (s.kind == "sum" and not (s.int32 and s.reaches)):
            continue   # a sum is listed only where it matters: int32 and reaching memory
        sites.append(Site(s.line, s.text, s.int32, s.cast_after, s.reaches, s.kind))
    sites.sort(key=lambda s: (s.line, s.kind != "product"))
    return Report(name or func.name, consts, sites)


def compare_table(fn, flag: str) -> str:
    """One row per multiply/sum site, one column per value of a compile-time flag (and unspecialized)."""
    runs = {"both branches": lint(fn), f"{flag}=False": lint(fn, {flag: False}),
            f"{flag}=True": lint(fn, {flag: True})}
    keys = {}
    for r in runs.values():
        for s in r.sites:
            keys.setdefault((s.line, s.text), {})
    for col, r in runs.items():
        for s in r.sites:
            keys[(s.line, s.text)][col] = ("int32 -> pointer" if s.finding else
                                           "int32" if s.int32 else "int64")
    w = max(len(t) for _, t in keys) if keys else 10
    head = f"{'line':>5}  {'expression':<{w}}  " + "  ".join(f"{c:<16}" for c in runs)
    rows = [head] + [f"{ln:>5}  {t:<{w}}  " + "  ".join(f"{v.get(c, '-'):<16}" for c in runs)
                     for (ln, t), v in sorted(keys.items())]
    verdicts = "  ".join(f"{c}: {'✅' if r.ok else '❌'}" for c, r in runs.items())
    legend = (["-: not an int32 site in that variant (the sum has an int64 operand)"]
              if any(len(v) < len(runs) for v in keys.values()) else [])
    return "\n".join(rows + legend + ["", verdicts])
