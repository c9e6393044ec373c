"""Files -> modules -> @triton.jit functions -> findings with verdicts.

Pure AST: a file is read as text and parsed; nothing in it is imported or run.
"""
from __future__ import annotations

import ast
import dataclasses
import os
import stat
import re
import sys
import warnings

from . import intervals as I
from .consts import ModRef, Resolver, Unknown, dotted
from .engine import Analyzer, V, cv, enumerate_variants
from .intervals import INT32_MAX, INT32_MIN, Iv

MAX_FILE_BYTES = 2_000_000
SKIP_DIRS = {".git", "__pycache__", ".venv", "venv", "node_modules", ".ipynb_checkpoints",
             ".mypy_cache", ".pytest_cache", ".tox", "build", "dist"}


class BoundsError(ValueError):
    """A --bound / --grid / --const / TOML value the audit cannot use (a clear message)."""


# ---- modules ---------------------------------------------------------------------------------
@dataclasses.dataclass
class Module:
    path: str
    source: str
    tree: ast.Module
    line_offset: int = 0
    jit: list = dataclasses.field(default_factory=list)          # FunctionDefs
    resolver: Resolver | None = None                              # module-level constants (consts.py)
    tl_aliases: set = dataclasses.field(default_factory=set)     # names bound to triton.language
    imported_names: set = dataclasses.field(default_factory=set)
    tuning: dict = dataclasses.field(default_factory=dict)       # fn name -> {param: Iv} (autotune)
    text_cache: dict = dataclasses.field(default_factory=dict, repr=False)
    ptr_cache: dict = dataclasses.field(default_factory=dict, repr=False)


@dataclasses.dataclass
class Skipped:
    path: str
    reason: str


def _resolve(dotted: str, aliases: dict) -> str:
    head, _, rest = dotted.partition(".")
    full = aliases.get(head, head)
    return f"{full}.{rest}" if rest else full


def parse_module(source: str, path: str = "<string>", line_offset: int = 0) -> Module:
    """Parse source text; raises SyntaxError/ValueError/RecursionError for files it cannot read."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # SyntaxWarning for odd escapes in random files
        tree = ast.parse(source, filename=path)
    mod = Module(path, source, tree, line_offset)
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                mod.imported_names.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            base = ("." * node.level) + (node.module or "")
            for a in node.names:
                aliases[a.asname or a.name] = f"{base}.{a.name}" if base else a.name
                mod.imported_names.add(a.asname or a.name)
    mod.tl_aliases = {k for k, v in aliases.items()
                      if v in ("triton.language", "triton.language.core") or v.endswith(".language")
                      or k == "tl"}
    mod.resolver = Resolver(path, tree)   # module-level constants, resolved on demand
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kinds = [_decorator_kind(d, aliases) for d in node.decorator_list]
            if "jit" in kinds:
                mod.jit.append(node)
                mod.tuning[node.name] = _autotune_values(node, aliases)
    return mod


def _decorator_kind(dec, aliases) -> str | None:
    target = dec.func if isinstance(dec, ast.Call) else dec
    d = dotted(target)
    if d is None:
        return None
    full = _resolve(d, aliases)
    last = full.rsplit(".", 1)[-1]
    if last == "jit" and (full.startswith("triton") or full.startswith(".") or "jit" in full.split(".")[:-1]
                          or full == "jit" and d == "jit" and "jit" not in aliases):
        return "jit"
    if last in ("autotune", "heuristics") and (full.startswith("triton") or full.startswith(".")):
        return last
    return None


def _autotune_values(fn, aliases) -> dict:
    """{param: Iv} from literal triton.Config({...}) dicts in @triton.autotune(configs=[...])."""
    vals: dict[str, list] = {}
    for dec in fn.decorator_list:
        if not (isinstance(dec, ast.Call) and _decorator_kind(dec, aliases) == "autotune"):
            continue
        for node in ast.walk(dec):
            if isinstance(node, ast.Call) and (dotted(node.func) or "").endswith("Config") and \
                    node.args and isinstance(node.args[0], ast.Dict):
                for k, v in zip(node.args[0].keys, node.args[0].values):
                    if isinstance(k, ast.Constant) and isinstance(k.value, str) and \
                            isinstance(v, ast.Constant) and isinstance(v.value, int):
                        vals.setdefault(k.value, []).append(v.value)
    return {k: Iv(min(v), max(v)) for k, v in vals.items()}


def load_file(path: str) -> Module | Skipped:
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):   # a FIFO or device would block the read
            return Skipped(path, "not a regular file")
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            return Skipped(path, f"larger than {MAX_FILE_BYTES:,} bytes")
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        return Skipped(path, f"cannot read: {e.strerror or e}")
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Skipped(path, "not UTF-8 text")
    try:
        return parse_module(source, path)
    except SyntaxError as e:
        return Skipped(path, f"not valid Python 3.11 syntax (line {e.lineno}: {e.msg})")
    except (ValueError, RecursionError, MemoryError) as e:
        return Skipped(path, f"cannot parse: {type(e).__name__}")


def iter_python_files(paths):
    """Every .py file under the given files/folders (each once), sorted, skipping hidden and
    build folders; a file named explicitly is read whatever its name."""
    seen = set()

    def once(path):
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            return True
        return False

    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
                for f in sorted(files):
                    if f.endswith(".py") and once(os.path.join(root, f)):
                        yield os.path.join(root, f)
        elif once(p):
            yield p


# ---- launch description ----------------------------------------------------------------------
_FUNCS = {"cdiv": lambda a, b: -(-a // b), "round_up": lambda a, b: -(-a // b) * b,
          "min": min, "max": max, "abs": abs}


_CMP = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
        ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b}


def eval_int(text, names: dict, what: str) -> int:
    """Evaluate a bound expression: integers, names, + - * // % ** << >>, cdiv/round_up/min/max,
    comparisons, and/or/not, `A if FLAG else B` (a grid that depends on a constexpr flag)."""
    if isinstance(text, bool):
        return int(text)
    if isinstance(text, int):
        return text
    try:
        tree = ast.parse(str(text).strip(), mode="eval")
    except SyntaxError:
        raise BoundsError(f"{what}: cannot read {text!r} as an integer expression") from None

    def ev(n):
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, bool)):
            return int(n.value)
        if isinstance(n, ast.Name):
            if n.id in names:
                return names[n.id]
            raise BoundsError(f"{what}: {n.id!r} is not defined (define it with --bound/--const "
                              f"or in the TOML table)")
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            v = ev(n.operand)
            return -v if isinstance(n.op, ast.USub) else v
        if isinstance(n, ast.BinOp):
            a, b = ev(n.left), ev(n.right)
            ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
                   ast.FloorDiv: lambda: a // b, ast.Mod: lambda: a % b, ast.Pow: lambda: a ** b,
                   ast.LShift: lambda: a << b, ast.RShift: lambda: a >> b}
            if type(n.op) not in ops:
                raise BoundsError(f"{what}: operator {type(n.op).__name__} is not allowed")
            if isinstance(n.op, (ast.FloorDiv, ast.Mod)) and b == 0:
                raise BoundsError(f"{what}: division by zero in {text!r}")
            if isinstance(n.op, ast.Pow) and not 0 <= b <= 128:
                raise BoundsError(f"{what}: exponent {b} out of range")
            if isinstance(n.op, (ast.LShift, ast.RShift)) and not 0 <= b <= 128:
                raise BoundsError(f"{what}: shift {b} out of range")
            return ops[type(n.op)]()
        if isinstance(n, ast.IfExp):        # per-variant grids: `words if ROWS_ON_AXIS0 else ...`
            return ev(n.body) if ev(n.test) else ev(n.orelse)
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not):
            return int(not ev(n.operand))
        if isinstance(n, ast.BoolOp):
            vals = [ev(v) for v in n.values]
            return int(all(vals) if isinstance(n.op, ast.And) else any(vals))
        if isinstance(n, ast.Compare) and len(n.ops) == 1 and type(n.ops[0]) in _CMP:
            return int(_CMP[type(n.ops[0])](ev(n.left), ev(n.comparators[0])))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in _FUNCS \
                and not n.keywords:
            args = [ev(a) for a in n.args]
            try:
                return int(_FUNCS[n.func.id](*args))
            except (TypeError, ZeroDivisionError):
                raise BoundsError(f"{what}: bad call {ast.unparse(n)}") from None
        raise BoundsError(f"{what}: {ast.unparse(n)!r} is not allowed in a bound expression")
    return ev(tree.body)


def parse_const(text: str):
    t = str(text).strip()
    if t in ("True", "true"):
        return True
    if t in ("False", "false"):
        return False
    return t


@dataclasses.dataclass
class Launch:
    """What the caller knows about one kernel's launches."""
    bounds: dict = dataclasses.field(default_factory=dict)   # name -> int or expression text
    grid: list | None = None                                 # expressions, one per axis
    consts: dict = dataclasses.field(default_factory=dict)   # constexpr name -> value/expression
    vary: tuple | None = None                                # (name, step)

    def merged(self, other: Launch) -> Launch:
        """`other` wins where it says something."""
        return Launch({**self.bounds, **other.bounds}, other.grid if other.grid is not None else self.grid,
                      {**self.consts, **other.consts}, other.vary or self.vary)

    def resolve(self, override: dict | None = None, flags: dict | None = None,
                with_grid: bool = True) -> tuple[dict, dict, tuple | None]:
        """(bounds as ints, consts, grid as Ivs) with `override` replacing bound values; `flags`
        (one variant's constexpr flags) may be read by the grid and bound expressions."""
        raw = {**self.bounds, **(override or {})}
        consts: dict = {}
        names: dict = dict(flags or {})
        pending = {**{k: ("c", v) for k, v in self.consts.items()},
                   **{k: ("b", v) for k, v in raw.items()}}
        for _ in range(len(pending) + 1):
            progressed = False
            for k, (typ, v) in list(pending.items()):
                pv = parse_const(v) if typ == "c" else v
                if isinstance(pv, bool):
                    consts[k] = names[k] = pv
                    del pending[k]
                    progressed = True
                    continue
                try:
                    val = eval_int(pv, names, f"{'--const' if typ == 'c' else '--bound'} {k}")
                except BoundsError as e:
                    if "is not defined" in str(e):
                        continue
                    raise
                names[k] = val
                (consts if typ == "c" else names).__setitem__(k, val)
                del pending[k]
                progressed = True
            if not pending or not progressed:
                break
        if pending:
            k, (typ, v) = next(iter(pending.items()))
            eval_int(v, names, f"{'--const' if typ == 'c' else '--bound'} {k}")   # raises the reason
        bounds = {k: names[k] for k in raw}
        grid = None
        if self.grid is not None and with_grid:
            if not 1 <= len(self.grid) <= 3:
                raise BoundsError(f"--grid takes 1 to 3 axes, got {len(self.grid)}")
            grid = []
            for i, g in enumerate(self.grid):
                v = eval_int(g, names, f"--grid axis {i}")
                if v < 1:
                    raise BoundsError(f"--grid axis {i} = {v}: a grid axis must be at least 1")
                grid.append(Iv(v, v))
            grid = tuple(grid)
        return bounds, consts, grid


# ---- findings --------------------------------------------------------------------------------
@dataclasses.dataclass
class Finding:
    path: str
    line: int
    col: int
    kernel: str
    variant: dict
    kind: str               # product | sum
    expr: str
    cast: str               # none | after | before
    sinks: list
    via: list
    verdict: str            # wraps | safe | unknown | int64 | no-sink
    min: int | None = None
    max: int | None = None
    headroom: int | None = None      # INT32_MAX - largest |value| (safe findings)
    first_wrap: dict | None = None   # {"name": ..., "value": ...}
    reason: str = ""

    @property
    def is_finding(self) -> bool:
        return self.verdict in ("wraps", "safe", "unknown")

    def location(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def describe(self) -> str:
        var = " [" + ", ".join(f"{k}={v}" for k, v in self.variant.items()) + "]" if self.variant else ""
        via = f" (in {' -> '.join(self.via)})" if self.via else ""
        head = f"{self.location()}: {self.verdict.upper()}: int32 {self.kind} `{self.expr}`"
        if self.verdict == "int64":
            head = f"{self.location()}: ok: int64 {self.kind} `{self.expr}` (cast before)"
        elif self.verdict == "no-sink":
            head = f"{self.location()}: note: int32 {self.kind} `{self.expr}` does not reach memory"
        else:
            head += f" -> {', '.join(sorted(self.sinks))}; cast {self.cast}"
        head += f" in {self.kernel}{var}{via}"
        if self.verdict == "wraps":
            head += f"\n    reaches {self.max:,} > 2**31-1" if self.max is not None and self.max > INT32_MAX \
                else f"\n    reaches {self.min:,} < -2**31"
            if self.first_wrap:
                fw = self.first_wrap
                head += (f"; {fw['note']}" if fw.get("note") else
                         f"; first wraps at {fw['name']} = {fw['value']:,}")
        elif self.verdict == "safe":
            ratio = (INT32_MAX + 1) / max(abs(self.min), abs(self.max), 1)
            head += (f"\n    largest {max(abs(self.min), abs(self.max)):,}; headroom {self.headroom:,} "
                     f"({ratio:,.0f}x below 2**31)" if ratio >= 10 else
                     f"\n    largest {max(abs(self.min), abs(self.max)):,}; headroom {self.headroom:,} "
                     f"({ratio:.2f}x below 2**31)")
        elif self.verdict == "unknown":
            head += f"\n    cannot bound it: {self.reason}"
        return head


@dataclasses.dataclass
class Kernel:
    path: str
    name: str
    line: int
    variants: list
    findings: list
    error: str | None = None


def is_constexpr(arg: ast.arg) -> bool:
    a = arg.annotation
    if a is None:
        return False
    text = a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else ast.unparse(a)
    return "constexpr" in text


def pointer_params(fn) -> set[str]:
    """Parameters used as pointers: the base of a load/store/atomic/block pointer address, or named
    like one (x_ptr, ptr, xs_ptrs), or whose .dtype.element_ty is read."""
    params = {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    ptrs = {p for p in params if re.search(r"(^|_)(ptr|ptrs|pointer)\d*($|_)", p.lower()) or
            p.lower().endswith(("ptr", "ptrs"))}
    assigns = []

    def base(e):
        while True:
            if isinstance(e, ast.Subscript):
                e = e.value
            elif isinstance(e, ast.BinOp) and isinstance(e.op, (ast.Add, ast.Sub)):
                e = e.left
            elif isinstance(e, ast.Call) and e.args and (dotted(e.func) or "").endswith(
                    ("multiple_of", "max_contiguous", "where")):
                e = e.args[-1] if (dotted(e.func) or "").endswith("where") else e.args[0]
            else:
                return e.id if isinstance(e, ast.Name) else None

    from .engine import ATOMICS, call_name
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            name = call_name(node)
            if name in ("load", "store", "make_block_ptr", "make_tensor_descriptor") or name in ATOMICS:
                first = node.args[0] if node.args else next(
                    (k.value for k in node.keywords if k.arg in ("pointer", "base")), None)
                if first is not None and not (isinstance(node.func, ast.Attribute) and
                                              not isinstance(node.func.value, ast.Name)):
                    b = base(first)
                    if b:
                        ptrs.add(b)
        elif isinstance(node, ast.Attribute) and node.attr == "element_ty" and \
                isinstance(node.value, ast.Attribute) and node.value.attr == "dtype":
            b = base(node.value.value)
            if b:
                ptrs.add(b)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    assigns.append((t.id, node.value))
    for _ in range(4):                       # p = x + offs; tl.load(p)  ->  x is a pointer
        grew = False
        for t, value in assigns:
            if t in ptrs:
                b = base(value)
                if b and b not in ptrs:
                    ptrs.add(b)
                    grew = True
        if not grew:
            break
    return ptrs & params


def branch_flags(fn) -> list[str]:
    """Constexpr parameters tested for truth in an `if`/conditional expression, in order."""
    cexpr = [a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs if is_constexpr(a)]
    used = set()

    def names(test):
        if isinstance(test, ast.Name):
            yield test.id
        elif isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            yield from names(test.operand)
        elif isinstance(test, ast.BoolOp):
            for v in test.values:
                yield from names(v)

    for node in ast.walk(fn):
        if isinstance(node, (ast.If, ast.IfExp, ast.While)):
            used.update(names(node.test))
    return [c for c in cexpr if c in used]


def helper_names(modules) -> set[tuple]:
    """(path, name) of jit functions some other jit function calls: helpers, not entry points.
    Calls by name within a file, by an imported name, or through an imported module."""
    by_name: dict = {}
    for mod in modules:
        for f in mod.jit:
            by_name.setdefault(f.name, []).append(mod)
    out = set()
    for mod in modules:
        local = {f.name for f in mod.jit}
        for f in mod.jit:
            for node in ast.walk(f):
                if not isinstance(node, ast.Call):
                    continue
                fn = node.func
                if isinstance(fn, ast.Name) and fn.id != f.name:
                    if fn.id in local:
                        out.add((mod.path, fn.id))
                    elif fn.id in mod.imported_names:
                        out.update((m.path, fn.id) for m in by_name.get(fn.id, []) if m is not mod)
                elif isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) and \
                        fn.value.id in mod.imported_names and fn.value.id not in mod.tl_aliases:
                    out.update((m.path, fn.attr) for m in by_name.get(fn.attr, []) if m is not mod)
    return out


def build_registry(modules) -> dict:
    reg: dict = {}
    for mod in modules:
        for f in mod.jit:
            reg.setdefault(f.name, []).append((mod, f))
    return reg


def _default_value(mod, node):
    """A parameter's default as a compile-time value (literals, module constants), or Unknown."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, bool, float)):
        return node.value
    if mod.resolver is None:
        return Unknown(f"default {ast.unparse(node)} is not a literal")
    return mod.resolver.evaluate(node)


def initial_env(mod, fn, bounds: dict, consts: dict, variant: dict, mode: str) -> dict:
    """Abstract values of a kernel's parameters. A tl.constexpr takes, in order: its variant value,
    --const, --bound, the literal triton.Config values of @triton.autotune, its default in the
    signature (a literal or a module constant); without any, it is unknown, and the reason names
    every constexpr of the kernel that has no value, so one run says everything to pass."""
    env = {}
    params = fn.args.posonlyargs + fn.args.args
    defaults = dict(zip([p.arg for p in params[len(params) - len(fn.args.defaults):]], fn.args.defaults))
    defaults.update({a.arg: d for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults) if d is not None})
    if id(fn) not in mod.ptr_cache:
        mod.ptr_cache[id(fn)] = pointer_params(fn)
    ptrs = mod.ptr_cache[id(fn)]
    tuning = mod.tuning.get(fn.name, {})
    missing, bad_default = [], {}
    for a in params + fn.args.kwonlyargs:
        name = a.arg
        if name in variant:
            env[name] = cv(variant[name])
        elif name in consts:
            env[name] = cv(consts[name])
        elif is_constexpr(a):
            if name in bounds:
                env[name] = cv(bounds[name])
            elif name in tuning:
                env[name] = V(kind="int", iv=tuning[name])
            else:
                d = _default_value(mod, defaults[name]) if name in defaults else None
                if d is None or isinstance(d, (Unknown, ModRef)):
                    missing.append(name)
                    if isinstance(d, Unknown):
                        bad_default[name] = d
                else:
                    env[name] = cv(d)
        elif name in ptrs:
            env[name] = V(kind="ptr")
        else:
            ann = ast.unparse(a.annotation) if a.annotation is not None else ""
            if name in bounds:
                b = bounds[name]
                env[name] = V(kind="int", iv=I.point(b), taint=True,
                              wide=not (INT32_MIN <= b <= INT32_MAX) or ann.endswith("int64"))
            else:
                env[name] = V(kind="int", iv=I.unknown(
                    f"argument {name} has no bound (pass --bound {name}=...)"), taint=True,
                    wide=ann.endswith("int64"))
    if missing:
        why = (f"constexpr {', '.join(missing)} {'has' if len(missing) == 1 else 'have'} no value "
               f"(pass {' '.join(f'--const {m}=...' for m in missing)})"
               + "".join(f"; default of {k}: {v}" for k, v in bad_default.items()))
        for name in missing:
            env[name] = V(kind="int", iv=I.unknown(why))
    return env


def run_kernel(mod, fn, registry, bounds, consts, grid, variant, mode="audit") -> Analyzer:
    from .engine import Frame
    params = {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    an = Analyzer(registry, grid, mode, {k: v for k, v in bounds.items() if k not in params},
                  {k: v for k, v in consts.items() if k not in params})
    an.frames.append(Frame(mod, fn))
    an.block(fn.body, initial_env(mod, fn, bounds, consts, variant, mode))
    return an


def _verdict(site) -> tuple[str, dict]:
    iv = site.iv
    if not site.int32:
        return "int64", {}
    if not site.reaches:
        return "no-sink", {}
    if not iv.bounded:
        return "unknown", {"reason": iv.why or "unbounded", "min": None if iv.lo == -I.INF else int(iv.lo),
                           "max": None if iv.hi == I.INF else int(iv.hi)}
    lo, hi = int(iv.lo), int(iv.hi)
    if iv.fits_int32:
        return "safe", {"min": lo, "max": hi, "headroom": INT32_MAX - max(abs(lo), hi)}
    return "wraps", {"min": lo, "max": hi}


def _wraps(site) -> bool:
    return site is not None and site.iv.bounded and not site.iv.fits_int32


def first_wrap(mod, fn, registry, launch: Launch, variant, key, mode, cache) -> dict:
    """Smallest value of the varying bound (a multiple of its step) at which site `key` wraps,
    by bisection over the same interval evaluation."""
    name, step = launch.vary
    bounds0, _, _ = launch.resolve(flags=variant, with_grid=False)
    if name not in bounds0:
        return {"name": name, "value": None, "note": f"--vary {name}: not a --bound of this launch"}
    hi = bounds0[name] // step

    def wraps_at(k: int) -> bool:
        v = k * step
        if v not in cache:
            try:
                b, c, g = launch.resolve({name: v}, variant)
            except BoundsError:
                cache[v] = None
            else:
                cache[v] = run_kernel(mod, fn, registry, b, c, g, variant, mode).sites
        sites = cache[v]
        return bool(sites) and _wraps(sites.get(key))

    lo = 1
    if hi < lo or not wraps_at(hi):
        return {"name": name, "value": None, "note": f"does not wrap at {name} = {bounds0[name]:,}"}
    if wraps_at(lo):
        return {"name": name, "value": lo * step,
                "note": f"wraps already at {name} = {lo * step:,}: it does not depend on {name}"}
    while lo < hi:
        mid = (lo + hi) // 2
        if wraps_at(mid):
            hi = mid
        else:
            lo = mid + 1
    return {"name": name, "value": lo * step}


def analyze_module(mod, registry, launch_for, helpers=frozenset(), mode="audit",
                   only: set | None = None, include_all=False) -> list[Kernel]:
    """Every entry @triton.jit function of `mod`. launch_for(kernel name) -> Launch."""
    out = []
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 8000))   # long `a * b + c * d + ...` chains nest deeply
    try:
        return _analyze_module(mod, registry, launch_for, helpers, mode, only, include_all, out)
    finally:
        sys.setrecursionlimit(limit)


def _analyze_module(mod, registry, launch_for, helpers, mode, only, include_all, out):
    for fn in mod.jit:
        if only is not None and fn.name not in only:
            continue
        if only is None and (mod.path, fn.name) in helpers:
            continue
        launch = launch_for(fn.name)
        try:
            out.append(analyze_kernel(mod, fn, registry, launch, mode, include_all))
        except BoundsError:
            raise
        except RecursionError:
            out.append(Kernel(mod.path, fn.name, fn.lineno, [], [], "too deeply nested to analyse"))
        except Exception as e:   # noqa: BLE001 -- one odd kernel must not stop a CI run; the
            # robustness test (tests/test_audit_robust.py) requires that this never happens
            out.append(Kernel(mod.path, fn.name, fn.lineno, [], [],
                              f"internal error of the audit: {type(e).__name__}: {e}"))
    return out


def analyze_kernel(mod, fn, registry, launch: Launch, mode="audit", include_all=False) -> Kernel:
    """All variants of one kernel (each True/False value of the constexpr flags its `if`s test,
    unless --const fixes them); flags that change no finding are dropped from the labels."""
    bounds, consts, _ = launch.resolve(with_grid=False)
    flags = [f for f in branch_flags(fn) if f not in consts and f not in bounds]
    variants = list(enumerate_variants(flags)) if flags else [{}]
    per_variant = {}
    for variant in variants:
        grid = launch.resolve(flags=variant)[2]      # a grid may depend on a flag
        an = run_kernel(mod, fn, registry, bounds, consts, grid, variant, mode)
        found = {}
        for key, site in an.sites.items():
            if key in an.absorbed:
                continue
            verdict, extra = _verdict(site)
            if not include_all and verdict in ("int64", "no-sink"):
                continue
            found[key] = (site, verdict, extra)
        per_variant[tuple(sorted(variant.items()))] = (variant, found)

    def fingerprint(found):
        return {k: (v, tuple(sorted(e.items())), s.cast, tuple(sorted(s.sinks)))
                for k, (s, v, e) in found.items()}

    relevant = []
    for f in flags:
        for variant, found in per_variant.values():
            flipped = tuple(sorted({**variant, f: not variant[f]}.items()))
            if fingerprint(found) != fingerprint(per_variant[flipped][1]):
                relevant.append(f)
                break
    findings, seen = [], set()
    n_labels = len({tuple(variant[f] for f in relevant) for variant, _ in per_variant.values()})
    everywhere = {}     # same finding in every variant: reported once, without a label
    for variant, found in per_variant.values():
        for key, (site, verdict, extra) in found.items():
            fp = (verdict, tuple(sorted(extra.items())), site.cast, tuple(sorted(site.sinks)))
            everywhere.setdefault((key, fp), set()).add(tuple(variant[f] for f in relevant))
    for variant, found in per_variant.values():
        cache: dict = {}
        for key, (site, verdict, extra) in found.items():
            fp = (verdict, tuple(sorted(extra.items())), site.cast, tuple(sorted(site.sinks)))
            label = {} if len(everywhere[(key, fp)]) == n_labels else {f: variant[f] for f in relevant}
            ident = (key, tuple(sorted(label.items())))
            if ident in seen:
                continue
            seen.add(ident)
            f = Finding(site.path, site.line, site.col, fn.name, label, site.kind, site.text,
                        site.cast, sorted(site.sinks), list(site.via), verdict, **extra)
            if verdict == "wraps" and launch.vary:
                f.first_wrap = first_wrap(mod, fn, registry, launch, variant, key, mode, cache)
            findings.append(f)
    findings.sort(key=lambda f: (f.path, f.line, f.col, f.kind != "product", sorted(f.variant.items())))
    labels = sorted({tuple(sorted({f: v[f] for f in relevant}.items())) for v in variants})
    return Kernel(mod.path, fn.name, fn.lineno + mod.line_offset, [dict(label) for label in labels], findings)


__all__ = ["Module", "Skipped", "Launch", "Finding", "Kernel", "BoundsError", "parse_module",
           "load_file", "iter_python_files", "analyze_module", "analyze_kernel", "build_registry",
           "helper_names", "eval_int"]
