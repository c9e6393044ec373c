"""A small static check: program-id arithmetic that reaches a pointer while still int32.

The rule the course teaches (lesson 07): widen the program id *before* multiplying,
``pid.to(tl.int64) * BLOCK_M * N``. This module reads a ``@triton.jit`` function's source, follows
every name derived from ``tl.program_id`` through assignments, and lists each multiplication that
involves such a value:

* ``int32``  -- no widening cast reaches the multiply on every path: the product is computed in
  32 bits and can wrap (a *finding* if the product flows into a pointer or a load/store);
* ``int64``  -- the value was widened (``.to(tl.int64)``, ``tl.cast(x, tl.int64)``) on every path
  before it was multiplied.

A cast applied to the product afterwards, ``(pid * BLOCK * N).to(tl.int64)``, widens a number that
has already wrapped; such sites stay ``int32`` and are marked ``cast after``.

``if`` statements on compile-time flags can be specialized: ``lint(kernel, constexprs={"INDEX_64":
True})`` follows only the branch Triton would compile. Without it both branches are followed and a
value counts as widened only if it was widened on both (the cast must *dominate* the multiply).

Limitations (it is a teaching tool, not a verifier): runtime integer arguments are assumed int32,
which is what Triton picks for values below 2**31; loops are walked once; calls into other
``@triton.jit`` functions are not followed; additions and shifts are not checked.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap

WIDE_TYPES = ("int64", "uint64")
MEMORY_OPS = ("load", "store", "atomic_add", "atomic_cas", "atomic_xchg", "atomic_max",
              "atomic_min", "atomic_and", "atomic_or", "atomic_xor", "make_block_ptr")


@dataclasses.dataclass(frozen=True)
class Val:
    """What the check knows about one value."""
    pid: bool = False                 # derived from tl.program_id
    wide: bool = False                # 64-bit on every path
    ptr: bool = False                 # a pointer
    sites: frozenset = frozenset()    # int32 multiply sites it depends on

    def join(self, other: "Val") -> "Val":
        """Merge two paths (after an if): widened only if widened on both."""
        return Val(self.pid or other.pid, self.wide and other.wide, self.ptr or other.ptr,
                   self.sites | other.sites)


UNKNOWN = Val()


@dataclasses.dataclass
class Site:
    line: int              # line number in the file that defines the function
    text: str              # the multiplication as written
    int32: bool            # computed in 32 bits
    cast_after: bool = False       # the product is widened afterwards (too late)
    reaches_pointer: bool = False  # flows into pointer arithmetic or a load/store

    @property
    def finding(self) -> bool:
        return self.int32 and self.reaches_pointer

    @property
    def verdict(self) -> str:
        if not self.int32:
            return "int64 (widened before the multiply)"
        what = "int32, cast after the multiply (too late)" if self.cast_after else "int32"
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
        head += ("✅ no int32 program-id product reaches a pointer" if self.ok else
                 f"❌ {len(self.findings)} int32 program-id product(s) reach a pointer")
        w = max([len(s.text) for s in self.sites] + [10])
        rows = [f"  line {s.line:>4}  {s.text:<{w}}  {s.verdict}" for s in self.sites]
        return "\n".join([head] + (rows or ["  (no multiplication involves the program id)"]))


def _is_wide_dtype(node: ast.AST) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
    return name in WIDE_TYPES


def _call_name(node: ast.Call) -> str | None:
    f = node.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return None


class _Checker:
    def __init__(self, source: str, first_line: int, constexprs: dict):
        self.source = source
        self.offset = first_line - 1
        self.constexprs = constexprs
        self.sites: dict[tuple[int, int], Site] = {}

    # ---- expressions -------------------------------------------------------------------------
    def expr(self, node: ast.AST, env: dict) -> Val:
        if node is None:
            return UNKNOWN
        if isinstance(node, ast.Name):
            return env.get(node.id, UNKNOWN)
        if isinstance(node, ast.Constant):
            return UNKNOWN
        if isinstance(node, ast.BinOp):
            return self.binop(node, env)
        if isinstance(node, ast.UnaryOp):
            return self.expr(node.operand, env)
        if isinstance(node, ast.Subscript):       # x[:, None] keeps x's type and provenance
            self.expr(node.slice, env)
            return self.expr(node.value, env)
        if isinstance(node, ast.Call):
            return self.call(node, env)
        if isinstance(node, ast.IfExp):
            self.expr(node.test, env)
            return self.expr(node.body, env).join(self.expr(node.orelse, env))
        if isinstance(node, (ast.Compare, ast.BoolOp)):   # masks: booleans, not offsets
            for child in ast.iter_child_nodes(node):
                self.expr(child, env)
            return UNKNOWN
        if isinstance(node, (ast.Tuple, ast.List)):
            vals = [self.expr(e, env) for e in node.elts]
            out = UNKNOWN
            for v in vals:
                out = Val(out.pid or v.pid, out.wide or v.wide, out.ptr or v.ptr, out.sites | v.sites)
            return out
        if isinstance(node, ast.Attribute):       # x.dtype, tl.int64, ...
            return UNKNOWN
        for child in ast.iter_child_nodes(node):
            self.expr(child, env)
        return UNKNOWN

    def binop(self, node: ast.BinOp, env: dict) -> Val:
        a, b = self.expr(node.left, env), self.expr(node.right, env)
        pid, wide, ptr = a.pid or b.pid, a.wide or b.wide, a.ptr or b.ptr
        sites = a.sites | b.sites
        if ptr:  # pointer arithmetic: every int32 product feeding it reaches memory
            self.mark(sites, reaches_pointer=True)
        if isinstance(node.op, ast.Mult) and pid and not ptr:
            key = (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
            if key not in self.sites:
                text = ast.get_source_segment(self.source, node) or ast.unparse(node)
                self.sites[key] = Site(node.lineno + self.offset, " ".join(text.split()), not wide)
            elif not wide:  # seen before on a path where it was wide: int32 on this path
                self.sites[key].int32 = True
            if not wide:
                sites = sites | {key}
        return Val(pid, wide, ptr, sites)

    def call(self, node: ast.Call, env: dict) -> Val:
        name = _call_name(node)
        if name == "program_id":
            return Val(pid=True)
        if name == "to" and isinstance(node.func, ast.Attribute):
            inner = self.expr(node.func.value, env)
            dtype = node.args[0] if node.args else next(
                (k.value for k in node.keywords if k.arg == "dtype"), None)
            if dtype is not None and _is_wide_dtype(dtype):
                self.mark(inner.sites, cast_after=True)
                return Val(inner.pid, True, inner.ptr, inner.sites)
            return Val(inner.pid, False, inner.ptr, inner.sites)
        if name == "cast" and len(node.args) >= 2:
            inner = self.expr(node.args[0], env)
            if _is_wide_dtype(node.args[1]):
                self.mark(inner.sites, cast_after=True)
                return Val(inner.pid, True, inner.ptr, inner.sites)
            return Val(inner.pid, False, inner.ptr, inner.sites)
        vals = [self.expr(a, env) for a in node.args] + [self.expr(k.value, env) for k in node.keywords]
        if isinstance(node.func, ast.Attribute):
            self.expr(node.func.value, env)
        if name in MEMORY_OPS and vals:
            self.mark(vals[0].sites, reaches_pointer=True)
        if name in ("arange", "zeros", "full", "load", "max", "min", "sum"):
            return UNKNOWN  # fresh values or data read from memory: not offsets of the program id
        out = UNKNOWN
        for v in vals:
            out = Val(out.pid or v.pid, out.wide or v.wide, False, out.sites | v.sites)
        return out

    def mark(self, keys, **flags) -> None:
        for k in keys:
            for f, v in flags.items():
                setattr(self.sites[k], f, v)

    # ---- statements --------------------------------------------------------------------------
    def assign(self, target: ast.AST, val: Val, env: dict) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = val
        elif isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self.assign(t, val, env)

    def block(self, stmts, env: dict) -> dict:
        for s in stmts:
            env = self.stmt(s, env)
        return env

    def stmt(self, s: ast.stmt, env: dict) -> dict:
        if isinstance(s, ast.Assign):
            v = self.expr(s.value, env)
            if isinstance(s.value, ast.Tuple) and len(s.targets) == 1 and \
                    isinstance(s.targets[0], ast.Tuple) and len(s.targets[0].elts) == len(s.value.elts):
                for t, e in zip(s.targets[0].elts, s.value.elts):
                    self.assign(t, self.expr(e, env), env)
            else:
                for t in s.targets:
                    self.assign(t, v, env)
            return env
        if isinstance(s, ast.AnnAssign):
            if s.value is not None:
                self.assign(s.target, self.expr(s.value, env), env)
            return env
        if isinstance(s, ast.AugAssign):
            fake = ast.BinOp(left=ast.Name(id=getattr(s.target, "id", "_"), ctx=ast.Load()),
                             op=s.op, right=s.value)
            ast.copy_location(fake, s)
            fake.end_lineno, fake.end_col_offset = s.end_lineno, s.end_col_offset
            self.assign(s.target, self.expr(fake, env), env)
            return env
        if isinstance(s, ast.If):
            t = s.test
            if isinstance(t, ast.Name) and t.id in self.constexprs:
                return self.block(s.body if self.constexprs[t.id] else s.orelse, env)
            if isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not) and \
                    isinstance(t.operand, ast.Name) and t.operand.id in self.constexprs:
                return self.block(s.orelse if self.constexprs[t.operand.id] else s.body, env)
            self.expr(t, env)
            a = self.block(s.body, dict(env))
            b = self.block(s.orelse, dict(env))
            return {k: a.get(k, UNKNOWN).join(b.get(k, UNKNOWN)) for k in set(a) | set(b)}
        if isinstance(s, (ast.For, ast.While)):
            if isinstance(s, ast.For):
                self.expr(s.iter, env)
                self.assign(s.target, UNKNOWN, env)
            else:
                self.expr(s.test, env)
            return self.block(s.body + s.orelse, env)
        if isinstance(s, ast.With):
            return self.block(s.body, env)
        if isinstance(s, (ast.Expr, ast.Return)):
            self.expr(s.value, env)
            return env
        return env


def _source(fn) -> tuple[str, int, str]:
    """(source, first line, name) of a @triton.jit function, a plain function, or source text."""
    if isinstance(fn, str):
        return textwrap.dedent(fn), 1, None
    py = getattr(fn, "fn", fn)  # triton's JITFunction keeps the Python function in .fn
    lines, first = inspect.getsourcelines(py)
    return textwrap.dedent("".join(lines)), first, py.__name__


def lint(fn, constexprs: dict | None = None) -> Report:
    """Check one kernel (JITFunction, function or source text). See the module docstring."""
    source, first, name = _source(fn)
    tree = ast.parse(source)
    func = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))
    checker = _Checker(source, first, dict(constexprs or {}))
    env = {a.arg: Val(ptr=a.arg.endswith("_ptr")) for a in func.args.args}
    checker.block(func.body, env)
    sites = sorted(checker.sites.values(), key=lambda s: s.line)
    return Report(name or func.name, dict(constexprs or {}), sites)


def compare_table(fn, flag: str) -> str:
    """One row per multiply site, one column per value of a compile-time flag (and unspecialized)."""
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
    head = f"{'line':>5}  {'multiply':<{w}}  " + "  ".join(f"{c:<16}" for c in runs)
    rows = [head] + [f"{ln:>5}  {t:<{w}}  " + "  ".join(f"{v.get(c, '-'):<16}" for c in runs)
                     for (ln, t), v in sorted(keys.items())]
    verdicts = "  ".join(f"{c}: {'✅' if r.ok else '❌'}" for c, r in runs.items())
    return "\n".join(rows + ["", verdicts])
