"""int32 index-overflow audit for Triton source files (pure AST: nothing is imported or run).

Entry points: ``course.audit.cli.main(argv) -> int`` (``python -m course lint`` /
``python -m course.audit``), and ``audit_source`` for a string of code. See docs/audit.md.

Honest limits (details in docs/audit.md): masks are ignored for magnitude (the masked rows of a
last block count); argument types are inferred from the source (``*_ptr`` / load bases are
pointers, other non-constexpr parameters integers); integers loaded from memory are unbounded
unless bounded by name and assumed int32; only products and sums containing a product are
checked; loops are widened to a fixed point (what grows is *unknown*); @triton.jit helpers are
followed 4 levels deep, other calls are opaque; up to 5 constexpr flags are enumerated; the first
wrapping value assumes monotone growth; grid limits are not checked. Module-level constants
(``GROUP = tl.constexpr(R.GROUP)`` with ``from . import reference as R``) are resolved from the
source of the analysed tree (course.audit.consts), else unknown with the reason. No finding is
not a proof.
"""
from __future__ import annotations

from .core import (BoundsError, Finding, Kernel, Launch, analyze_module, build_registry,
                   helper_names, parse_module)


def audit_source(source: str, path: str = "<string>", launch: Launch | None = None,
                 per_kernel: dict | None = None, include_all: bool = False,
                 kernels: set | None = None) -> list[Kernel]:
    """Audit the @triton.jit functions in `source`. `launch` applies to every kernel,
    `per_kernel` {name: Launch} on top of it."""
    mod = parse_module(source, path)
    base = launch or Launch()
    per = per_kernel or {}
    return analyze_module(mod, build_registry([mod]),
                          lambda n: base.merged(per[n]) if n in per else base,
                          helper_names([mod]), only=kernels, include_all=include_all)


__all__ = ["audit_source", "Launch", "Finding", "Kernel", "BoundsError"]
