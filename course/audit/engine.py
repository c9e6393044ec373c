"""The analysis: abstract interpretation of one @triton.jit function over its AST.

Every expression gets an abstract value `V`: what kind of thing it is (integer, pointer, float...),
an interval bounding it (course.audit.intervals), whether it is 64-bit on every path (`wide`),
whether it is derived from a program id / runtime integer argument / loaded index (`taint`), and
the set of int32 product and sum *sites* whose result flows into it. A site is recorded where
Triton computes ``a * b`` (or ``a << k``, or ``a + b`` when an operand already carries a product)
in 32 bits on at least one path; when a value carrying sites reaches a *sink* -- pointer
arithmetic, tl.load/tl.store, tl.atomic_*, tl.make_block_ptr/advance, tensor descriptors -- those
sites are marked as reaching memory. Nothing is imported or executed: the file is only parsed.
A name the kernel reads from module level (``GROUP``, ``R.GROUP``) is resolved from the source of
the analysed tree by course.audit.consts, or is unknown with the reason.

Semantics modelled (Triton 3.x): tl.program_id / tl.arange / runtime int arguments below 2**31 are
int32; int32 op int32 stays int32 and wraps; an operand widened with .to(tl.int64) or
tl.cast(x, tl.int64) makes the result int64; pointer + int32 offset is 64-bit address arithmetic
applied to the (already wrapped) offset.
"""
from __future__ import annotations

import ast
import dataclasses
import itertools

from . import intervals as I
from .consts import Unknown, dotted
from .intervals import INT32_MAX, INT32_MIN, Iv

WIDE_DTYPES = {"int64", "uint64"}
NARROW_INT_DTYPES = {"int32", "uint32", "int16", "uint16", "int8", "uint8", "int1"}
FLOAT_DTYPES = {"float16", "bfloat16", "float32", "float64", "float8e4nv", "float8e5",
                "float8e4b15", "float8e4b8", "float8e5b16", "float8_e4m3fn", "fp16", "fp32", "bf16"}
# name -> positions / keywords whose values are addresses (offsets that must not have wrapped)
SINKS = {
    "load": ((0,), ("pointer",)),
    "store": ((0,), ("pointer",)),
    "make_block_ptr": ((0, 1, 2, 3), ("base", "shape", "strides", "offsets")),
    "advance": ((1,), ("offsets",)),
    "make_tensor_descriptor": ((0, 1, 2), ("base", "shape", "strides")),
    "_experimental_make_tensor_descriptor": ((0, 1, 2), ("base", "shape", "strides")),
    "load_tensor_descriptor": ((1,), ("offsets",)),
    "store_tensor_descriptor": ((1,), ("offsets",)),
    "_experimental_descriptor_load": ((1,), ("offsets",)),
    "_experimental_descriptor_store": ((2,), ("offsets",)),
    "gather": ((0, 1), ()),
    "scatter": ((1, 2), ()),
}
ATOMICS = {"atomic_add", "atomic_cas", "atomic_xchg", "atomic_max", "atomic_min", "atomic_and",
           "atomic_or", "atomic_xor"}
PASSTHROUGH = {"multiple_of", "max_contiguous", "max_constancy", "reshape", "broadcast_to",
               "expand_dims", "view", "trans", "permute", "ravel", "flatten", "constexpr",
               "static_assert_shape", "int", "_unwrap_if_constexpr", "assume_aligned"}
GRID_LIMITS = (2**31 - 1, 65535, 65535)

_NC = object()   # "no compile-time value"


@dataclasses.dataclass(frozen=True)
class V:
    kind: str = "int"           # int | ptr | float | bool | dtype | tuple | other
    iv: Iv = I.TOP
    wide: bool = False          # 64-bit on every path
    taint: bool = False         # derived from a program id, runtime int argument or loaded value
    pid: bool = False           # derived from a program id
    sites: frozenset = frozenset()
    const: object = _NC         # compile-time value when known
    elts: tuple | None = None   # tuple elements

    @property
    def known(self) -> bool:
        return self.const is not _NC


OTHER = V(kind="other")


def cv(value) -> V:
    """A compile-time constant."""
    if isinstance(value, bool):
        return V(kind="bool", iv=I.point(int(value)), const=value)
    if isinstance(value, int):
        return V(kind="int", iv=I.point(value), const=value, wide=not (INT32_MIN <= value <= INT32_MAX))
    if isinstance(value, float):
        return V(kind="float", const=value)
    if isinstance(value, tuple):
        return V(kind="tuple", elts=tuple(cv(v) for v in value), const=value)
    return V(kind="other", const=value)


def join(a: V, b: V) -> V:
    if a is b or a == b:
        return a
    kind = a.kind if a.kind == b.kind else ("ptr" if "ptr" in (a.kind, b.kind) else
                                            "int" if "int" in (a.kind, b.kind) else "other")
    elts = None
    if a.elts is not None and b.elts is not None and len(a.elts) == len(b.elts):
        elts = tuple(join(x, y) for x, y in zip(a.elts, b.elts))
    return V(kind, I.hull(a.iv, b.iv), a.wide and b.wide, a.taint or b.taint, a.pid or b.pid,
             a.sites | b.sites, a.const if (a.known and b.known and a.const == b.const) else _NC,
             elts)


def join_env(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = join(out[k], v) if k in out else v
    return out


@dataclasses.dataclass
class Site:
    path: str
    line: int
    col: int
    text: str
    kind: str                  # "product" or "sum"
    iv: Iv
    int32: bool = False        # computed in 32 bits on at least one path
    wide_path: bool = False    # computed in 64 bits on at least one path
    cast_after: bool = False   # widened only after the operation (too late)
    pid: bool = False          # derived from a program id
    sinks: set = dataclasses.field(default_factory=set)
    via: tuple = ()            # helper functions it sits in, outermost first

    @property
    def cast(self) -> str:
        if self.cast_after:
            return "after"
        return "none" if self.int32 else "before"

    @property
    def reaches(self) -> bool:
        return bool(self.sinks)


class Frame:
    def __init__(self, mod, fn):
        self.mod, self.fn = mod, fn
        self.ret: V | None = None


def call_name(node: ast.Call) -> str | None:
    f = node.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return None


def dtype_name(v: V, node: ast.AST) -> str | None:
    if v.kind == "dtype" and isinstance(v.const, str):
        return v.const
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


class Analyzer:
    """Runs one entry kernel under one launch (bounds, grid, constexpr values)."""

    MAX_DEPTH = 4
    LOOP_PASSES = 4

    def __init__(self, registry, grid, mode: str = "audit", local_bounds: dict | None = None,
                 global_consts: dict | None = None):
        self.registry = registry          # name -> list of (module, FunctionDef)
        # --const NAME=VALUE for a name that is no parameter: a module-level constant the audit
        # cannot resolve from the source (defined outside the analysed tree), given by the caller
        self.global_consts = global_consts or {}
        # --bound NAME=VALUE for a local name: the value lies in [0, VALUE] where the analysis
        # cannot bound it itself (e.g. an index loaded from memory)
        self.local_bounds = local_bounds or {}
        self.grid = grid                  # tuple of Iv for program ids, or None
        self.mode = mode                  # "audit": pid, runtime args, loads; "pid": program ids only
        self.sites: dict[tuple, Site] = {}
        self.absorbed: set[tuple] = set()
        self.frames: list[Frame] = []
        self.via: tuple = ()
        self.loop_depth = 0

    # ---- helpers -----------------------------------------------------------------------------
    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    def key(self, node) -> tuple:
        return (self.frame.mod.path, node.lineno, node.col_offset,
                getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None))

    def text(self, node) -> str:
        mod = self.frame.mod
        k = self.key(node)
        if k not in mod.text_cache:
            try:
                seg = ast.get_source_segment(mod.source, node)
            except Exception:   # noqa: BLE001  -- positions of synthesized nodes
                seg = None
            mod.text_cache[k] = " ".join((seg if seg is not None else ast.unparse(node)).split())
        return mod.text_cache[k]

    def reach(self, v: V, sink: str) -> None:
        for k in v.sites:
            self.sites[k].sinks.add(sink)
        if v.elts:
            for e in v.elts:
                self.reach(e, sink)

    def mark_cast_after(self, v: V) -> None:
        for k in v.sites:
            self.sites[k].cast_after = True

    def record(self, node, kind: str, val: V, text_node=None) -> tuple:
        k = self.key(node)
        s = self.sites.get(k)
        if s is None:
            s = self.sites[k] = Site(self.frame.mod.path, node.lineno + self.frame.mod.line_offset,
                                     node.col_offset + 1, self.text(text_node or node), kind,
                                     val.iv, via=self.via)
        else:
            s.iv = I.hull(s.iv, val.iv)
        s.pid = s.pid or val.pid
        if val.wide:
            s.wide_path = True
        else:
            s.int32 = True
        return k

    def tainted(self, v: V) -> bool:
        return v.pid if self.mode == "pid" else v.taint

    # ---- expressions -------------------------------------------------------------------------
    def ev(self, node, env: dict) -> V:
        if node is None:
            return OTHER
        m = getattr(self, "e_" + type(node).__name__, None)
        if m is not None:
            return m(node, env)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.ev(child, env)
        return OTHER

    def e_Constant(self, node, env):
        return cv(node.value)

    def e_Name(self, node, env):
        if node.id in env:
            return env[node.id]
        if node.id in self.global_consts:
            return cv(self.global_consts[node.id])
        return self.global_value(node.id)

    def global_value(self, dotted: str) -> V:
        """A module-level name or ALIAS.NAME read by the kernel, resolved from the source of this
        module and the modules it imports (course.audit.consts): a constant, or unknown + why."""
        resolver = self.frame.mod.resolver
        v = resolver.lookup(dotted) if resolver is not None else \
            Unknown(f"name {dotted!r} is not defined in the kernel")
        if isinstance(v, Unknown):
            hint = f" (pass --const {dotted}=...)" if "." not in dotted else ""
            return V(kind="int", iv=I.unknown(f"{dotted}: {v}{hint}"))
        if isinstance(v, (bool, int, float, tuple)):
            return cv(v)
        return V(kind="other", const=v)        # a module, a string: never an index

    def e_Attribute(self, node, env):
        attr = node.attr
        if attr in WIDE_DTYPES | NARROW_INT_DTYPES | FLOAT_DTYPES:
            return V(kind="dtype", const=attr)
        name = dotted(node)
        if name is not None:
            head = name.split(".")[0]
            if head not in env and head not in self.frame.mod.tl_aliases:
                return self.global_value(name)      # R.GROUP, offsets.GROUPS_PER_WORD
        base = self.ev(node.value, env)
        if attr == "T":
            return base
        if attr in ("dtype", "element_ty", "shape", "type"):
            return V(kind="other")
        if attr == "value" and base.known:     # tl.constexpr(...).value
            return base
        return V(kind="int", iv=I.unknown(f"attribute .{attr}"))

    def e_Subscript(self, node, env):
        base = self.ev(node.value, env)
        idx = self.ev(node.slice, env)
        if base.kind == "tuple" and base.elts is not None:
            if isinstance(idx.const, int) and -len(base.elts) <= idx.const < len(base.elts):
                return base.elts[idx.const]
            out = base.elts[0] if base.elts else OTHER
            for e in base.elts[1:]:
                out = join(out, e)
            return out
        if base.known and idx.known:
            try:
                return cv(base.const[idx.const])
            except Exception:   # noqa: BLE001 -- not a foldable constant
                pass
        return dataclasses.replace(base, const=_NC)   # x[:, None] keeps value and provenance

    def e_Slice(self, node, env):
        for p in (node.lower, node.upper, node.step):
            if p is not None:
                self.ev(p, env)
        return OTHER

    def e_Tuple(self, node, env):
        elts = tuple(self.ev(e, env) for e in node.elts)
        const = tuple(e.const for e in elts) if all(e.known for e in elts) else _NC
        return V(kind="tuple", elts=elts, const=const,
                 taint=any(e.taint for e in elts), pid=any(e.pid for e in elts),
                 sites=frozenset().union(*[e.sites for e in elts]) if elts else frozenset())

    e_List = e_Tuple

    def e_Starred(self, node, env):
        return self.ev(node.value, env)

    def e_NamedExpr(self, node, env):
        v = self.ev(node.value, env)
        self.assign(node.target, v, env)
        return v

    def e_IfExp(self, node, env):
        t = self.ev(node.test, env)
        if t.known:
            return self.ev(node.body if t.const else node.orelse, env)
        return join(self.ev(node.body, env), self.ev(node.orelse, env))

    def e_UnaryOp(self, node, env):
        v = self.ev(node.operand, env)
        if isinstance(node.op, ast.Not):
            return cv(not v.const) if v.known else V(kind="bool", iv=I.BOOL)
        if v.known and isinstance(v.const, (int, float)):
            try:
                return cv({ast.USub: lambda x: -x, ast.UAdd: lambda x: x,
                           ast.Invert: lambda x: ~x}[type(node.op)](v.const))
            except Exception:   # noqa: BLE001
                pass
        if isinstance(node.op, ast.USub):
            return dataclasses.replace(v, iv=I.neg(v.iv), const=_NC)
        if isinstance(node.op, ast.Invert):
            return dataclasses.replace(v, iv=I.sub(I.neg(v.iv), I.point(1)), const=_NC)
        return v

    def e_BoolOp(self, node, env):
        vals = [self.ev(x, env) for x in node.values]
        if all(v.known for v in vals):
            out = vals[0].const
            for v in vals[1:]:
                out = (out and v.const) if isinstance(node.op, ast.And) else (out or v.const)
            return cv(out) if isinstance(out, (bool, int)) else V(kind="bool", iv=I.BOOL)
        if isinstance(node.op, ast.And) and any(v.known and not v.const for v in vals):
            return cv(False)
        if isinstance(node.op, ast.Or) and any(v.known and v.const for v in vals):
            return cv(True)
        return V(kind="bool", iv=I.BOOL)

    def e_Compare(self, node, env):
        vals = [self.ev(node.left, env)] + [self.ev(c, env) for c in node.comparators]
        if all(v.known for v in vals):
            ops = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
                   ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
                   ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
                   ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b,
                   ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}
            try:
                res = all(ops[type(op)](a.const, b.const)
                          for op, a, b in zip(node.ops, vals, vals[1:]))
                return cv(bool(res))
            except Exception:   # noqa: BLE001
                pass
        return V(kind="bool", iv=I.BOOL)

    def e_BinOp(self, node, env, text_node=None):
        a, b = self.ev(node.left, env), self.ev(node.right, env)
        return self.binop(node, node.op, a, b, text_node)

    def binop(self, node, op, a: V, b: V, text_node=None) -> V:
        if a.kind == "ptr" or b.kind == "ptr":
            if a.kind == "ptr" and b.kind == "ptr":   # ptr - ptr: a distance, 64-bit
                return V(kind="int", wide=True)
            off = b if a.kind == "ptr" else a
            self.reach(off, "pointer arithmetic")
            base = a if a.kind == "ptr" else b
            return V(kind="ptr", taint=base.taint or off.taint, pid=base.pid or off.pid)
        if a.kind in ("float", "other", "dtype") and not a.known or \
                b.kind in ("float", "other", "dtype") and not b.known:
            kind = "float" if "float" in (a.kind, b.kind) else "other"
            return V(kind=kind, taint=a.taint or b.taint, pid=a.pid or b.pid,
                     sites=a.sites | b.sites)
        if a.known and b.known:
            try:
                return cv(_fold(op, a.const, b.const))
            except Exception:   # noqa: BLE001 -- e.g. division by zero in dead code
                pass
        if a.kind == "float" or b.kind == "float" or isinstance(op, ast.Div):
            return V(kind="float", taint=a.taint or b.taint, pid=a.pid or b.pid,
                     sites=a.sites | b.sites)
        iv = _ivop(op, a.iv, b.iv)
        wide = a.wide or b.wide
        out = V(kind="int", iv=iv, wide=wide, taint=a.taint or b.taint, pid=a.pid or b.pid,
                sites=a.sites | b.sites)
        if not self.tainted(out):
            return out
        is_product = isinstance(op, (ast.Mult, ast.LShift))
        is_sum = isinstance(op, (ast.Add, ast.Sub)) and not wide and bool(a.sites or b.sites)
        if is_product or is_sum:
            k = self.record(node, "product" if is_product else "sum", out, text_node)
            if is_sum:
                for child in (getattr(node, "left", None), getattr(node, "right", None)):
                    ck = self._child_sum_key(child)
                    if ck is not None and ck in self.sites and self.sites[ck].kind == "sum":
                        self.absorbed.add(ck)
            if not wide:
                out = dataclasses.replace(out, sites=out.sites | {k})
        return out

    def _child_sum_key(self, node):
        while isinstance(node, ast.Subscript):
            node = node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            return self.key(node)
        return None

    def e_Call(self, node, env):
        name = call_name(node)
        args = node.args
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        fn = self.resolve_jit(node)
        if fn is not None:
            return self.call_jit(node, fn, env)
        if name == "program_id" or name == "num_programs":
            axis = self.ev(args[0] if args else kw.get("axis"), env)
            ax = axis.const if isinstance(axis.const, int) and 0 <= axis.const <= 2 else None
            taint = dict(taint=True, pid=True)
            if self.grid is None or ax is None:
                why = ("no grid given (pass --grid)" if self.grid is None else
                       "program id axis is not a constant")
                return V(kind="int", iv=I.unknown(why), **taint)
            g = self.grid[ax] if ax < len(self.grid) else I.point(1)
            if name == "num_programs":
                return V(kind="int", iv=g, **taint)
            if not g.bounded:
                return V(kind="int", iv=I.unknown(g.why or "grid unbounded"), **taint)
            return V(kind="int", iv=Iv(0, max(g.hi - 1, 0)), **taint)
        vals = [self.ev(a, env) for a in args]
        kvals = {k: self.ev(v, env) for k, v in kw.items()}
        fval = self.ev(node.func.value, env) if isinstance(node.func, ast.Attribute) else None
        for k in node.keywords:
            if k.arg is None:
                self.ev(k.value, env)

        def arg(i, key, default=None):
            if i is not None and i < len(vals):
                return vals[i], args[i]
            if key in kvals:
                return kvals[key], kw[key]
            return default, None

        if name in SINKS or name in ATOMICS:
            pos, keys = SINKS.get(name, ((0,), ("pointer",)))
            on_tl = isinstance(node.func, ast.Name) or (
                isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                and node.func.value.id in self.frame.mod.tl_aliases)
            label = f"tl.{name}" if on_tl else f".{name}()"
            for i in pos:
                if i < len(vals):
                    self.reach(vals[i], label)
            for key in keys:
                if key in kvals:
                    self.reach(kvals[key], label)
            if name in ("load", "gather") or name in ATOMICS or name.endswith("descriptor_load"):
                return V(kind="int", iv=I.unknown(f"value loaded from memory (line {node.lineno})"),
                         taint=self.mode == "audit")
            if name in ("make_block_ptr", "advance") or "descriptor" in name:
                return V(kind="ptr")
            return OTHER
        if name in ("to", "cast"):
            if name == "to" and fval is not None:
                inner, dt = fval, arg(0, "dtype")
            else:
                inner, dt = vals[0] if vals else OTHER, arg(1, "dtype")
            dn = dtype_name(*dt) if dt[0] is not None else None
            if inner.kind == "ptr" or (isinstance(dt[1], ast.Call) and call_name(dt[1]) == "pointer_type"):
                return V(kind="ptr", taint=inner.taint, pid=inner.pid)   # a loaded address
            if dn in WIDE_DTYPES:
                self.mark_cast_after(inner)
                return dataclasses.replace(inner, kind="int", wide=True)
            if dn in NARROW_INT_DTYPES:
                return dataclasses.replace(inner, kind="int", wide=False)
            if dn in FLOAT_DTYPES:
                return dataclasses.replace(inner, kind="float", iv=I.TOP, const=_NC)
            return dataclasses.replace(inner, const=_NC)
        if name == "arange":
            s, _ = arg(0, "start", cv(0))
            e, _ = arg(1, "end", None)
            if e is None:
                return V(kind="int", iv=I.unknown("tl.arange without an end"))
            if s.iv.bounded and e.iv.bounded:
                return V(kind="int", iv=Iv(s.iv.lo, e.iv.hi - 1))
            return V(kind="int", iv=I.unknown(e.iv.why or s.iv.why or "tl.arange bounds unknown"))
        if name in ("zeros", "zeros_like", "full", "full_like"):
            dt = arg(1 if name == "zeros" else 2, "dtype")
            if name == "zeros_like":
                dt = arg(None, "dtype")
            dn = dtype_name(*dt) if dt[0] is not None else None
            fill = cv(0) if name.startswith("zeros") else arg(1, "value", V(iv=I.TOP))[0]
            kind = "float" if dn in FLOAT_DTYPES else "int"
            return dataclasses.replace(fill, kind=kind, wide=dn in WIDE_DTYPES, const=_NC,
                                       iv=fill.iv if kind == "int" else I.TOP)
        if name in PASSTHROUGH:
            if fval is not None and fval.kind != "other" and not args:
                return fval
            return vals[0] if vals else (fval or OTHER)
        if name == "where":
            if len(vals) >= 3:
                return join(vals[1], vals[2])
            return OTHER
        if name in ("minimum", "maximum") or (name in ("min", "max") and isinstance(node.func, ast.Name)):
            nums = [v for v in vals if v.kind in ("int", "bool")]
            if len(nums) >= 2 and len(nums) == len(vals):
                if all(v.known for v in nums):
                    return cv((min if name in ("min", "minimum") else max)(v.const for v in nums))
                f = I.minimum if name in ("min", "minimum") else I.maximum
                out = nums[0]
                for v in nums[1:]:
                    out = dataclasses.replace(join(out, v), iv=f(out.iv, v.iv), const=_NC)
                return out
            return join(*vals[:2]) if len(vals) >= 2 else (vals[0] if vals else OTHER)
        if name in ("max", "min"):    # reductions keep the interval of their operand
            src = fval if fval is not None and not vals else (vals[0] if vals else OTHER)
            return dataclasses.replace(src, const=_NC)
        if name == "abs":
            v = vals[0] if vals else (fval or OTHER)
            return dataclasses.replace(v, iv=I.absolute(v.iv), const=_NC) if not v.known else \
                cv(abs(v.const)) if isinstance(v.const, (int, float)) else v
        if name == "cdiv" and len(vals) == 2:
            a, b = vals
            if a.known and b.known and isinstance(a.const, int) and isinstance(b.const, int) and b.const:
                return cv(-(-a.const // b.const))
            t = self.binop(node, ast.Add(), a, dataclasses.replace(b, sites=frozenset()))
            return self.binop(node, ast.FloorDiv(), dataclasses.replace(t, iv=I.sub(t.iv, I.point(1))), b)
        if name in ("next_power_of_2",) and vals and vals[0].known and isinstance(vals[0].const, int):
            return cv(1 << max(vals[0].const - 1, 0).bit_length())
        if name in ("static_range", "range", "len", "tuple", "list", "zip", "enumerate"):
            if name == "len" and vals and vals[0].elts is not None:
                return cv(len(vals[0].elts))
            return V(kind="other", iv=I.unknown(f"{name}(...) outside a loop header"))
        if name in ("sum", "cumsum", "reduce", "associative_scan", "dot", "histogram", "umulhi"):
            src = vals[0] if vals else (fval or OTHER)
            return V(kind=src.kind if src.kind in ("int", "float") else "other",
                     iv=I.unknown(f"result of {name}"), wide=src.wide, taint=src.taint, pid=src.pid,
                     sites=src.sites)
        # anything else: an opaque call; provenance flows through, magnitude does not
        allv = vals + list(kvals.values()) + ([fval] if fval is not None else [])
        return V(kind="int" if any(v.kind == "int" for v in allv) else "other",
                 iv=I.unknown(f"result of call to {name or ast.unparse(node.func)}()"),
                 wide=any(v.wide for v in allv), taint=any(v.taint for v in allv),
                 pid=any(v.pid for v in allv),
                 sites=frozenset().union(*[v.sites for v in allv]) if allv else frozenset())

    def _comprehension(self, node, env, elt_nodes):
        e = dict(env)
        for gen in node.generators:
            it = self.ev(gen.iter, e)
            self.assign(gen.target, self.iter_value(gen.iter, it, e), e)
            for cond in gen.ifs:
                self.ev(cond, e)
        vals = [self.ev(x, e) for x in elt_nodes]
        out = vals[0]
        for v in vals[1:]:
            out = join(out, v)
        return dataclasses.replace(out, const=_NC)

    def e_ListComp(self, node, env):
        return self._comprehension(node, env, [node.elt])

    e_SetComp = e_GeneratorExp = e_ListComp

    def e_DictComp(self, node, env):
        return self._comprehension(node, env, [node.key, node.value])

    def e_Lambda(self, node, env):
        return OTHER

    def e_JoinedStr(self, node, env):
        return V(kind="other", const="<f-string>")

    # ---- calls into other @triton.jit functions ----------------------------------------------
    def resolve_jit(self, node):
        name = call_name(node)
        if name is None or name not in self.registry:
            return None
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) and \
                node.func.value.id in self.frame.mod.tl_aliases:
            return None   # tl.max etc. are builtins, not the user's helper
        cands = self.registry[name]
        mod = self.frame.mod
        via_module = isinstance(node.func, ast.Attribute)
        if via_module and not (isinstance(node.func.value, ast.Name) and
                               node.func.value.id in mod.imported_names):
            return None   # obj.method(...): not a call of a module-level helper
        same = [c for c in cands if c[0] is mod]
        if same and not via_module:
            return same[0]
        others = [c for c in cands if c[0] is not mod]
        if len(others) == 1 and (via_module or name in mod.imported_names):
            return others[0]
        return None

    def call_jit(self, node, target, env) -> V:
        mod, fn = target
        vals = [self.ev(a, env) for a in node.args]
        kvals = {k.arg: self.ev(k.value, env) for k in node.keywords if k.arg}
        if len(self.frames) > self.MAX_DEPTH or any(f.fn is fn for f in self.frames):
            allv = vals + list(kvals.values())
            return V(kind="int", iv=I.unknown(f"call to {fn.name}() not followed (depth/recursion)"),
                     taint=any(v.taint for v in allv), pid=any(v.pid for v in allv),
                     sites=frozenset().union(*[v.sites for v in allv]) if allv else frozenset())
        callee_env = {}
        params = fn.args.posonlyargs + fn.args.args
        defaults = dict(zip([p.arg for p in params[len(params) - len(fn.args.defaults):]],
                            fn.args.defaults))
        for i, p in enumerate(params):
            if i < len(vals):
                callee_env[p.arg] = vals[i]
            elif p.arg in kvals:
                callee_env[p.arg] = kvals[p.arg]
            elif p.arg in defaults:
                self.frames.append(Frame(mod, fn))
                callee_env[p.arg] = self.ev(defaults[p.arg], {})
                self.frames.pop()
            else:
                callee_env[p.arg] = OTHER
        for p, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults):
            callee_env[p.arg] = kvals.get(p.arg, self.ev(d, {}) if d is not None else OTHER)
        frame = Frame(mod, fn)
        self.frames.append(frame)
        saved_via = self.via
        self.via = self.via + (fn.name,)
        try:
            self.block(fn.body, callee_env)
        finally:
            self.via = saved_via
            self.frames.pop()
        return frame.ret if frame.ret is not None else OTHER

    # ---- statements --------------------------------------------------------------------------
    def iter_value(self, iter_node, it: V, env) -> V:
        """The loop variable of `for x in <iter_node>`."""
        if isinstance(iter_node, ast.Call) and call_name(iter_node) in ("range", "static_range"):
            vals = [self.ev(a, env) for a in iter_node.args]
            if len(vals) == 1:
                start, end, step = cv(0), vals[0], cv(1)
            elif len(vals) >= 2:
                start, end = vals[0], vals[1]
                step = vals[2] if len(vals) > 2 else cv(1)
            else:
                return V(kind="int", iv=I.unknown("range() without arguments"))
            if step.iv.lo > 0:
                iv = Iv(start.iv.lo, end.iv.hi - 1,
                        "" if start.iv.lo != -I.INF and end.iv.hi != I.INF else
                        (end.iv.why or start.iv.why))
            elif step.iv.hi < 0:
                iv = Iv(end.iv.lo + 1, start.iv.hi, end.iv.why or start.iv.why)
            else:
                iv = I.unknown("loop step of unknown sign")
            if not (iv.lo <= iv.hi):
                iv = I.hull(start.iv, start.iv)
            parts = (start, end, step)
            return V(kind="int", iv=iv, wide=any(p.wide for p in parts),
                     taint=any(p.taint for p in parts), pid=any(p.pid for p in parts),
                     sites=frozenset().union(*[p.sites for p in parts]))
        if it.kind == "tuple" and it.elts:
            out = it.elts[0]
            for e in it.elts[1:]:
                out = join(out, e)
            return dataclasses.replace(out, const=_NC)
        if isinstance(iter_node, ast.Call) and call_name(iter_node) in ("zip", "enumerate"):
            return V(kind="tuple", iv=I.unknown("zip/enumerate element"))
        return V(kind="int", iv=I.unknown(f"loop over {ast.unparse(iter_node)[:40]}"),
                 taint=it.taint, pid=it.pid, wide=it.wide, sites=it.sites)

    def assign(self, target, v: V, env: dict) -> None:
        if isinstance(target, ast.Name):
            b = self.local_bounds.get(target.id)
            if b is not None and not v.iv.bounded and v.kind == "int":
                v = dataclasses.replace(v, iv=Iv(min(0, b), max(0, b)))
            env[target.id] = v
        elif isinstance(target, (ast.Tuple, ast.List)):
            if v.elts is not None and len(v.elts) == len(target.elts) and \
                    not any(isinstance(t, ast.Starred) for t in target.elts):
                for t, e in zip(target.elts, v.elts):
                    self.assign(t, e, env)
            else:
                for t in target.elts:
                    self.assign(t.value if isinstance(t, ast.Starred) else t,
                                dataclasses.replace(v, elts=None, const=_NC) if v.kind == "tuple"
                                and v.elts is None else v, env)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, v, env)
        else:   # x[i] = v, obj.attr = v: evaluate for sites, keep no binding
            self.ev(target, env)

    def block(self, stmts, env: dict) -> dict:
        for s in stmts:
            env = self.stmt(s, env)
        return env

    def stmt(self, s, env: dict) -> dict:
        m = getattr(self, "s_" + type(s).__name__, None)
        if m is not None:
            return m(s, env)
        for child in ast.iter_child_nodes(s):
            if isinstance(child, ast.expr):
                self.ev(child, env)
        return env

    def s_Assign(self, s, env):
        v = self.ev(s.value, env)
        for t in s.targets:
            self.assign(t, v, env)
        return env

    def s_AnnAssign(self, s, env):
        if s.value is not None:
            self.assign(s.target, self.ev(s.value, env), env)
        return env

    def s_AugAssign(self, s, env):
        load = _as_load(s.target)
        a, b = self.ev(load, env), self.ev(s.value, env)
        self.assign(s.target, self.binop(s, s.op, a, b), env)
        return env

    def s_Expr(self, s, env):
        self.ev(s.value, env)
        return env

    def s_Return(self, s, env):
        v = self.ev(s.value, env) if s.value is not None else OTHER
        f = self.frame
        f.ret = v if f.ret is None else join(f.ret, v)
        return env

    def s_If(self, s, env):
        t = self.ev(s.test, env)
        if t.known:
            return self.block(s.body if t.const else s.orelse, env)
        a = self.block(s.body, dict(env))
        b = self.block(s.orelse, dict(env))
        return join_env(a, b)

    def s_For(self, s, env):
        it = self.ev(s.iter, env)
        loop_var = self.iter_value(s.iter, it, env)
        return self.loop(s, env, lambda e: self.assign(s.target, loop_var, e), s.body + s.orelse)

    def s_While(self, s, env):
        return self.loop(s, env, lambda e: self.ev(s.test, e), s.body + s.orelse)

    def loop(self, s, env, bind, body):
        """Walk the body until the environment stops changing; widen what keeps growing (after
        the second pass), and walk it once more with the widened values so every site sees them."""
        state = dict(env)
        passes = self.LOOP_PASSES if self.loop_depth < 3 else 2
        self.loop_depth += 1
        try:
            for i in range(passes):
                e = dict(state)
                bind(e)
                e = self.block(body, e)
                new = join_env(state, e)
                if new == state:
                    break
                if i >= 1:
                    why = f"grows in the loop at line {s.lineno + self.frame.mod.line_offset}"
                    new = {k: (dataclasses.replace(v, iv=I.widen(state[k].iv, v.iv, why), const=_NC,
                                                   wide=v.wide and state[k].wide)
                               if k in state and v != state[k] else v) for k, v in new.items()}
                state = new
            else:
                e = dict(state)
                bind(e)
                state = join_env(state, self.block(body, e))
        finally:
            self.loop_depth -= 1
        return state

    def s_With(self, s, env):
        for item in s.items:
            self.ev(item.context_expr, env)
        return self.block(s.body, env)

    def s_Try(self, s, env):
        env = self.block(s.body, env)
        for h in s.handlers:
            env = self.block(h.body, env)
        return self.block(s.finalbody, self.block(s.orelse, env))

    s_TryStar = s_Try

    def s_Match(self, s, env):
        self.ev(s.subject, env)
        out = None
        for case in s.cases:
            e = self.block(case.body, dict(env))
            out = e if out is None else join_env(out, e)
        return out if out is not None else env

    def s_FunctionDef(self, s, env):
        return env

    s_AsyncFunctionDef = s_ClassDef = s_FunctionDef


def _as_load(node):
    if isinstance(node, ast.Name):
        return ast.copy_location(ast.Name(id=node.id, ctx=ast.Load()), node)
    return node


def _fold(op, a, b):
    return {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
            ast.FloorDiv: lambda: a // b, ast.Mod: lambda: a % b, ast.Pow: lambda: a ** b,
            ast.LShift: lambda: a << b, ast.RShift: lambda: a >> b, ast.BitAnd: lambda: a & b,
            ast.BitOr: lambda: a | b, ast.BitXor: lambda: a ^ b, ast.Div: lambda: a / b,
            }[type(op)]()


def _ivop(op, a: Iv, b: Iv) -> Iv:
    f = {ast.Add: I.add, ast.Sub: I.sub, ast.Mult: I.mul, ast.FloorDiv: I.floordiv,
         ast.Mod: I.mod, ast.LShift: I.shl, ast.RShift: I.shr, ast.BitAnd: I.bitand,
         ast.BitOr: I.bitor}.get(type(op))
    if f is None:
        return I.unknown(f"operator {type(op).__name__}")
    return f(a, b)


def enumerate_variants(flags: list[str], limit: int = 5):
    """All True/False assignments of up to `limit` branch flags (the rest stay joined)."""
    flags = flags[:limit]
    for combo in itertools.product((False, True), repeat=len(flags)):
        yield dict(zip(flags, combo))


__all__ = ["Analyzer", "Site", "V", "cv", "join", "enumerate_variants", "GRID_LIMITS"]
