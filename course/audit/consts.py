"""Module-level constants a kernel reads, resolved from source text alone (nothing imported or run).

A Triton kernel may read a global only when it is a compile-time constant, and real kernels take
them from elsewhere: ``GROUP = tl.constexpr(R.GROUP)`` with ``from . import reference as R``. This
module follows such definitions through the files of the analysed tree:

* ``NAME = <int, bool or float literal>``, ``NAME: T = ...``, ``NAME = tl.constexpr(<expr>)``;
* arithmetic of such names (``+ - * // % ** << >> & | ^``, unary ``-``/``~``, ``int()``,
  ``float()``, ``bool()``, ``min``/``max``/``abs``, ``cdiv``), tuples, ``X.value`` of a constexpr;
* names and attributes imported from other modules of the tree: ``from . import reference as R``
  (then ``R.GROUP``), ``from .offsets import X``, ``from ..pkg.mod import X as Y``, ``import
  pkg.mod as m`` and ``import pkg.mod`` (then ``pkg.mod.X``). Relative imports resolve against the
  importing file's folder; absolute ones against that folder and the folder above its top package
  (the first folder upwards without ``__init__.py``).

A name assigned more than once, or only under ``if``/``try``/``for``/``with`` at module level, is
not a constant; a definition that calls anything else, reads a file that cannot be found or parsed,
or loops back on itself (``A = B``, ``B = A``, also across files) is *unknown*, with the reason.
Resolution stops after ``MAX_DEPTH`` steps of indirection.
"""
from __future__ import annotations

import ast
import dataclasses
import os
import warnings

MAX_DEPTH = 24
MAX_FILE_BYTES = 2_000_000
_CONSTEXPR_WRAPPERS = ("constexpr",)


class Unknown(str):
    """Why a name has no compile-time value (a str: the reason)."""


@dataclasses.dataclass(frozen=True)
class ModRef:
    """A module of the analysed tree (a file), bound to a name by an import."""
    path: str
    name: str


@dataclasses.dataclass
class _Table:
    path: str
    defs: dict        # name -> ("value", expr node) | ("import", ...) | ("no", reason)


_TABLES: dict = {}    # realpath -> (mtime_ns, size, _Table | Unknown)


def _parse_file(path: str):
    try:
        st = os.stat(path)
    except OSError as e:
        return Unknown(f"cannot read {path}: {e.strerror or e}")
    key = os.path.realpath(path)
    hit = _TABLES.get(key)
    if hit and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
        return hit[2]
    if st.st_size > MAX_FILE_BYTES:
        table = Unknown(f"{path} is larger than {MAX_FILE_BYTES:,} bytes")
    else:
        try:
            with open(path, "rb") as f:
                source = f.read().decode("utf-8")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                table = table_of(ast.parse(source, filename=path), path)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError) as e:
            table = Unknown(f"cannot parse {path} ({type(e).__name__})")
    _TABLES[key] = (st.st_mtime_ns, st.st_size, table)
    return table


def table_of(tree: ast.Module, path: str) -> _Table:
    """What each module-level name is bound to, from the module's top-level statements."""
    defs: dict = {}
    count: dict = {}

    def bind(name, what):
        count[name] = count.get(name, 0) + 1
        defs[name] = what

    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                for name in _target_names(t):
                    bind(name, ("value", stmt.value, stmt.lineno) if isinstance(t, ast.Name) and
                         len(stmt.targets) == 1 else
                         ("no", f"'{name}' is unpacked or chained at {_where(path, stmt)}"))
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            if stmt.value is not None:
                bind(stmt.target.id, ("value", stmt.value, stmt.lineno))
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            bind(stmt.target.id, ("no", f"'{stmt.target.id}' is updated in place at "
                                        f"{_where(path, stmt)}"))
        elif isinstance(stmt, ast.Import):
            for a in stmt.names:
                if a.asname:
                    bind(a.asname, ("module", a.name, 0))
                else:       # `import a.b.c` binds `a`, and a.b.c is reachable through it
                    bind(a.name.split(".")[0], ("module", a.name.split(".")[0], 0))
        elif isinstance(stmt, ast.ImportFrom):
            for a in stmt.names:
                if a.name != "*":
                    bind(a.asname or a.name, ("from", stmt.module or "", stmt.level, a.name))
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bind(stmt.name, ("no", f"'{stmt.name}' is a {'class' if isinstance(stmt, ast.ClassDef) else 'function'}"))
        else:       # if/try/for/with/...: whatever they bind is not one definite value
            for node in ast.walk(stmt):
                names = []
                if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                        names += _target_names(t)
                elif isinstance(node, (ast.Import, ast.ImportFrom)):
                    names += [a.asname or a.name.split(".")[0] for a in node.names]
                for name in names:
                    bind(name, ("no", f"'{name}' is bound conditionally at {_where(path, node)}"))
    for name, n in count.items():
        if n > 1 and defs[name][0] != "no":
            defs[name] = ("no", f"'{name}' is assigned {n} times at module level in {path}")
    return _Table(path, defs)


def _target_names(t) -> list:
    if isinstance(t, ast.Name):
        return [t.id]
    if isinstance(t, (ast.Tuple, ast.List)):
        return [n for e in t.elts for n in _target_names(e)]
    if isinstance(t, ast.Starred):
        return _target_names(t.value)
    return []


def _where(path, node) -> str:
    return f"{path}:{getattr(node, 'lineno', '?')}"


def dotted(node) -> str | None:
    """`a.b.c` for a chain of names and attributes, else None (the audit's one spelling of it)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


# ---- finding modules -------------------------------------------------------------------------
def _package_root(folder: str) -> str:
    """The folder above the top package that holds `folder` (folder itself if not a package)."""
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder


def _module_file(folder: str, dotted: str) -> str | None:
    """folder/a/b.py or folder/a/b/__init__.py for dotted 'a.b' ('' -> folder/__init__.py)."""
    parts = [p for p in dotted.split(".") if p]
    base = os.path.join(folder, *parts)
    for cand in ([base + ".py"] if parts else []) + [os.path.join(base, "__init__.py")]:
        if os.path.isfile(cand):
            return cand
    return None


def find_module(importer: str, dotted: str, level: int) -> str | Unknown:
    """The file of module `dotted` imported from file `importer` (level = leading dots)."""
    if importer.startswith("<") or not importer:
        return Unknown(f"no file to resolve {'.' * level}{dotted} against (source given as text)")
    here = os.path.dirname(os.path.abspath(importer))
    if level:
        folder = here
        for _ in range(level - 1):
            folder = os.path.dirname(folder)
        found = _module_file(folder, dotted)
        return found or Unknown(f"module {'.' * level}{dotted} not found next to {importer}")
    for folder in dict.fromkeys((here, _package_root(here))):
        found = _module_file(folder, dotted)
        if found:
            return found
    return Unknown(f"module {dotted} is not in the analysed tree (looked next to {importer} and "
                   "above its package)")


# ---- resolution ------------------------------------------------------------------------------
class Resolver:
    """Resolves names and expressions of one module to Python values, ModRef or Unknown."""

    def __init__(self, path: str, tree: ast.Module | None = None):
        self.path = path
        self.table = table_of(tree, path) if tree is not None else None
        self.memo: dict = {}

    def lookup(self, dotted: str) -> object:
        """The value of 'NAME' or 'ALIAS.NAME' (any depth) as the module sees it, memoised."""
        if dotted not in self.memo:
            head, *rest = dotted.split(".")
            v = self.name(head)
            for attr in rest:
                v = self.attribute(v, attr, ())
            self.memo[dotted] = v
        return self.memo[dotted]

    def _table(self, path: str):
        if path == self.path and self.table is not None:
            return self.table
        return _parse_file(path)

    def name(self, name: str, path: str | None = None, stack: tuple = ()) -> object:
        path = path or self.path
        if len(stack) >= MAX_DEPTH:
            return Unknown(f"'{name}': more than {MAX_DEPTH} steps of indirection")
        if (path, name) in stack:
            chain = " -> ".join(n for _, n in stack[stack.index((path, name)):]) + f" -> {name}"
            return Unknown(f"'{name}' is defined in a cycle ({chain})")
        table = self._table(path)
        if isinstance(table, Unknown):
            return table
        d = table.defs.get(name)
        if d is None:
            if name in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[name]
            return Unknown(f"name '{name}' is not defined in the kernel nor at module level in {path}")
        stack = stack + ((path, name),)
        kind = d[0]
        if kind == "no":
            return Unknown(d[1])
        if kind == "value":
            return self.expr(d[1], path, stack)
        if kind == "module":
            found = find_module(path, d[1], 0)
            return found if isinstance(found, Unknown) else ModRef(found, d[1])
        _, module, level, attr = d        # from MODULE import attr
        if level == 0 and module.split(".")[0] in ("triton", "torch", "numpy", "math", "typing"):
            return Unknown(f"'{name}' comes from {module}, outside the analysed tree")
        sub = find_module(path, f"{module}.{attr}" if module else attr, level)
        if not isinstance(sub, Unknown):
            return ModRef(sub, attr)      # `from . import reference`: a submodule
        pkg = find_module(path, module, level)
        if isinstance(pkg, Unknown):
            return pkg
        return self.name(attr, pkg, stack)

    def attribute(self, base: object, attr: str, stack: tuple) -> object:
        if isinstance(base, Unknown):
            return base
        if isinstance(base, ModRef):
            sub = _module_file(os.path.dirname(base.path), attr) \
                if base.path.endswith("__init__.py") else None
            table = self._table(base.path)
            if sub and (isinstance(table, Unknown) or attr not in table.defs):
                return ModRef(sub, attr)          # pkg.mod: a submodule of a package
            return self.name(attr, base.path, stack)
        if attr == "value" and isinstance(base, (int, float, bool)):
            return base                           # tl.constexpr(...).value
        return Unknown(f"attribute .{attr} of {type(base).__name__} {base!r}")

    def evaluate(self, node) -> object:
        """Any expression of this module (e.g. a parameter's default) as a value, or Unknown."""
        return self.expr(node, self.path, ())

    def expr(self, node, path: str, stack: tuple) -> object:
        ev = lambda n: self.expr(n, path, stack)   # noqa: E731
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (int, float, bool, str)) or node.value is None:
                return node.value
            return Unknown(f"literal {node.value!r} is not a number")
        if isinstance(node, ast.Name):
            return self.name(node.id, path, stack)
        if isinstance(node, ast.Attribute):
            return self.attribute(ev(node.value), node.attr, stack)
        if isinstance(node, ast.Tuple):
            vals = [ev(e) for e in node.elts]
            bad = next((v for v in vals if isinstance(v, (Unknown, ModRef))), None)
            return bad if isinstance(bad, Unknown) else Unknown("a tuple holding a module") \
                if bad is not None else tuple(vals)
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            if isinstance(v, Unknown):
                return v
            try:
                return {ast.USub: lambda: -v, ast.UAdd: lambda: +v, ast.Invert: lambda: ~v,
                        ast.Not: lambda: not v}[type(node.op)]()
            except (TypeError, KeyError):
                return Unknown(f"{ast.unparse(node)} at {_where(path, node)} is not a constant")
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            for v in (a, b):
                if isinstance(v, Unknown):
                    return v
            return _binop(node, a, b, path)
        if isinstance(node, ast.Call):
            fname = dotted(node.func) or ""
            last = fname.rsplit(".", 1)[-1]
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                return Unknown(f"call {ast.unparse(node)[:60]} at {_where(path, node)}")
            args = [ev(a) for a in node.args]
            bad = next((v for v in args if isinstance(v, Unknown)), None)
            if bad is not None:
                return bad
            try:
                if last in _CONSTEXPR_WRAPPERS and len(args) == 1:
                    return args[0]
                if fname in ("int", "float", "bool", "abs", "min", "max") and args:
                    return {"int": int, "float": float, "bool": bool, "abs": abs, "min": min,
                            "max": max}[fname](*args)
                if last == "cdiv" and len(args) == 2:
                    return -(-args[0] // args[1])
            except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                return Unknown(f"{ast.unparse(node)[:60]} at {_where(path, node)} fails")
            return Unknown(f"{ast.unparse(node)[:60]} at {_where(path, node)} is a call the audit "
                           "does not evaluate")
        return Unknown(f"{ast.unparse(node)[:60]} at {_where(path, node)} is not a constant "
                       "expression")


def _binop(node, a, b, path):
    if isinstance(a, ModRef) or isinstance(b, ModRef) or isinstance(a, str) or isinstance(b, str):
        return Unknown(f"{ast.unparse(node)[:60]} at {_where(path, node)} is not arithmetic")
    op = type(node.op)
    if op in (ast.Pow, ast.LShift, ast.RShift) and isinstance(b, int) and not 0 <= b <= 128:
        return Unknown(f"{ast.unparse(node)[:60]}: exponent or shift {b} out of range")
    ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
           ast.FloorDiv: lambda: a // b, ast.Mod: lambda: a % b, ast.Pow: lambda: a ** b,
           ast.LShift: lambda: a << b, ast.RShift: lambda: a >> b, ast.BitAnd: lambda: a & b,
           ast.BitOr: lambda: a | b, ast.BitXor: lambda: a ^ b, ast.Div: lambda: a / b}
    try:
        return ops[op]()
    except (KeyError, TypeError, ZeroDivisionError, OverflowError, ValueError):
        return Unknown(f"{ast.unparse(node)[:60]} at {_where(path, node)} is not a constant")


__all__ = ["Resolver", "ModRef", "Unknown", "find_module", "table_of", "MAX_DEPTH"]
