"""Command line: ``python -m course.audit PATH... [--bound NAME=VALUE] [--grid G0[,G1,G2]] ...``.

Exit status: 0 when nothing wraps, 1 when some int32 index expression wraps (or, with --strict,
cannot be bounded), 2 for a usage error (bad bound, unreadable TOML, no such path).
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import os
import re
import sys
import time

from .consts import dotted
from .core import (BoundsError, Launch, Skipped, analyze_module, build_registry, helper_names,
                   iter_python_files, load_file)

USAGE_ERROR = 2


def _split_grid(text: str) -> list[str]:
    """'cdiv(M, 8) * 16, 4' -> ['cdiv(M, 8) * 16', '4'] (commas inside calls stay)."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise BoundsError(f"--grid: cannot read {text!r} (expected G0[,G1[,G2]])") from None
    elts = node.elts if isinstance(node, ast.Tuple) else [node]
    return [ast.get_source_segment(text.strip(), e) for e in elts]


def _name_value(text: str, flag: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier() or not value.strip():
        raise BoundsError(f"{flag} expects NAME=VALUE, got {text!r}")
    return name, value.strip()


def _vary(text: str, flag: str = "--vary") -> tuple[str, int]:
    name, _, step = str(text).partition(":")
    if not name.strip().isidentifier():
        raise BoundsError(f"{flag} expects NAME or NAME:STEP, got {text!r}")
    try:
        s = int(step) if step else 1
    except ValueError:
        raise BoundsError(f"{flag}: step must be an integer, got {step!r}") from None
    if s < 1:
        raise BoundsError(f"{flag}: step must be at least 1, got {s}")
    return name.strip(), s


def _table_launch(table, where: str) -> Launch:
    if not isinstance(table, dict):
        raise BoundsError(f"{where}: expected a table")
    unknown = set(table) - {"bounds", "grid", "const", "vary"}
    if unknown:
        raise BoundsError(f"{where}: unknown key(s) {sorted(unknown)} (allowed: bounds, grid, const, vary)")
    bounds, consts = table.get("bounds", {}), table.get("const", {})
    for what, d in (("bounds", bounds), ("const", consts)):
        if not isinstance(d, dict) or not all(isinstance(v, (int, str, bool)) for v in d.values()):
            raise BoundsError(f"{where}.{what}: expected a table of NAME = integer or expression")
    grid = table.get("grid")
    if grid is not None:
        if isinstance(grid, (int, str)):
            grid = _split_grid(str(grid)) if isinstance(grid, str) else [grid]
        if not isinstance(grid, list) or not all(isinstance(g, (int, str)) for g in grid):
            raise BoundsError(f"{where}.grid: expected a list of 1 to 3 integers or expressions")
    vary = _vary(table["vary"], f"{where}.vary") if "vary" in table else None
    return Launch(dict(bounds), grid, {k: v for k, v in consts.items()}, vary)


def load_config(path: str) -> tuple[Launch, dict]:
    import tomllib
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise BoundsError(f"--config {path}: cannot read ({e.strerror or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise BoundsError(f"--config {path}: not valid TOML ({e})") from None
    unknown = set(data) - {"defaults", "kernels"}
    if unknown:
        raise BoundsError(f"--config {path}: unknown top-level key(s) {sorted(unknown)} "
                          "(allowed: [defaults], [kernels.NAME])")
    defaults = _table_launch(data.get("defaults", {}), "[defaults]")
    kernels = data.get("kernels", {})
    if not isinstance(kernels, dict):
        raise BoundsError("[kernels]: expected tables [kernels.NAME]")
    return defaults, {k: _table_launch(v, f"[kernels.{k}]") for k, v in kernels.items()}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m course lint",
        description="Find int32 index arithmetic that can wrap in Triton kernels (static; "
                    "nothing is imported or run).")
    p.add_argument("paths", nargs="+", help="Python files or folders to audit")
    p.add_argument("--bound", action="append", default=[], metavar="NAME=VALUE",
                   help="value of a kernel argument at the largest launch (an integer or an "
                        "expression of other bounds, e.g. half=N//2); repeatable")
    p.add_argument("--grid", metavar="G0[,G1,G2]",
                   help="launch grid (bounds tl.program_id); expressions allowed, e.g. 'cdiv(M,8)*16'")
    p.add_argument("--const", action="append", default=[], metavar="NAME=VALUE",
                   help="value of a tl.constexpr parameter (selects `if FLAG:` branches); repeatable")
    p.add_argument("--vary", metavar="NAME[:STEP]",
                   help="for findings that wrap, bisect NAME (multiples of STEP) for the first "
                        "value that wraps (default: the config's vary, else the first --bound)")
    p.add_argument("--config", metavar="FILE.toml", help="per-kernel bounds/grid/const/vary")
    p.add_argument("--kernel", action="append", metavar="NAME",
                   help="audit only these @triton.jit functions (also helpers, standalone)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--all", action="store_true",
                   help="also list int64 sites and int32 ones that never reach memory")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 on unknown findings and kernels it could not analyse too")
    return p


def run(args) -> tuple[dict, int]:
    cli = Launch()
    for b in args.bound:
        k, v = _name_value(b, "--bound")
        cli.bounds[k] = v
    for c in args.const:
        k, v = _name_value(c, "--const")
        cli.consts[k] = v
    if args.grid is not None:
        cli.grid = _split_grid(args.grid)
    if args.vary:
        cli.vary = _vary(args.vary)
    defaults, per_kernel = (load_config(args.config) if args.config else (Launch(), {}))
    for p in args.paths:
        if not os.path.exists(p):
            raise BoundsError(f"no such file or folder: {p}")

    def launch_for(name: str) -> Launch:
        base = defaults.merged(per_kernel[name]) if name in per_kernel else defaults
        out = base.merged(cli)
        if out.vary is None and out.bounds:     # default: the config's vary, else the first --bound
            out.vary = (next(iter(cli.bounds or out.bounds)), 1)
        return out

    t0 = time.perf_counter()
    modules, skipped, analysed = [], [], []
    for path in iter_python_files(args.paths):
        m = load_file(path)
        if isinstance(m, Skipped):
            skipped.append(m)
            continue
        analysed.append(m.path)
        if m.jit:               # a file without @triton.jit functions is done once parsed
            modules.append(m)
    registry = build_registry(modules)
    helpers = helper_names(modules)
    only = set(args.kernel) if args.kernel else None
    kernels = []
    for m in modules:
        kernels += analyze_module(m, registry, launch_for, helpers, only=only, include_all=args.all)
    if only:
        missing = only - {f.name for m in modules for f in m.jit}
        if missing:
            raise BoundsError(f"--kernel: no @triton.jit function named {', '.join(sorted(missing))} "
                              f"in the given paths")
    _check_names(cli, modules, [defaults, *per_kernel.values()])
    findings = [f for k in kernels for f in k.findings]
    counts = {v: sum(f.verdict == v for f in findings) for v in ("wraps", "safe", "unknown")}
    counts["not_analysed"] = sum(1 for k in kernels if k.error)
    report = {
        "files": {"analysed": len(analysed), "skipped": [dataclasses.asdict(s) for s in skipped]},
        "kernels": [{"path": k.path, "name": k.name, "line": k.line, "variants": k.variants,
                     "error": k.error} for k in kernels],
        "findings": [dataclasses.asdict(f) for f in findings],
        "summary": counts | {"kernels": len(kernels), "seconds": round(time.perf_counter() - t0, 3)},
    }
    failed = counts["wraps"] > 0 or (args.strict and (counts["unknown"] > 0 or counts["not_analysed"] > 0))
    return report, (1 if failed else 0), findings, kernels


def _check_names(cli: Launch, modules, configs: list) -> None:
    """--const must name something a kernel or helper in the given paths uses, and --vary a bound
    (from --bound or the config) or a kernel parameter: a misspelt name would otherwise be ignored
    and the audit would answer another question."""
    fns = [f for m in modules for f in m.jit]          # helpers too: a name may live in one
    if not fns:
        return
    params = {a.arg for f in fns for a in f.args.posonlyargs + f.args.args + f.args.kwonlyargs}
    used = params | {n.id for f in fns for n in ast.walk(f) if isinstance(n, ast.Name)}
    used |= {d for f in fns for n in ast.walk(f) if isinstance(n, ast.Attribute)
             for d in [dotted(n)] if d}
    for name in cli.consts:
        if name not in used:
            raise BoundsError(f"--const {name}: no kernel or helper in the given paths has a "
                              f"parameter or uses a name {name!r} (parameters: "
                              f"{', '.join(sorted(params))})")
    exprs = [str(v) for c in [cli, *configs] for v in [*c.bounds.values(), *(c.grid or [])]]
    mentioned = {w for e in exprs for w in re.findall(r"[A-Za-z_]\w*", e)}
    for name in cli.bounds:
        if name not in used | mentioned:   # a local name may be bounded too (docs/audit.md)
            raise BoundsError(f"--bound {name}: no kernel or helper in the given paths has it as a "
                              f"parameter or local name, nor do the grid or other bounds use it "
                              f"(parameters: {', '.join(sorted(params))})")
    bounds = set(cli.bounds).union(*(set(c.bounds) for c in configs))
    if cli.vary is not None and cli.vary[0] not in params | bounds:
        raise BoundsError(f"--vary {cli.vary[0]}: neither a bound (--bound or the config) nor a "
                          f"parameter of a kernel (parameters: {', '.join(sorted(params))})")


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:     # argparse printed the usage error
        return int(e.code or 0)
    try:
        report, status, findings, kernels = run(args)
    except BoundsError as e:
        print(f"error: {e}", file=sys.stderr)
        return USAGE_ERROR
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return status
    for f in findings:
        print(f.describe())
    for k in kernels:
        if k.error:
            print(f"{k.path}:{k.line}: {k.name}: not analysed: {k.error}")
    for s in report["files"]["skipped"]:
        print(f"{s['path']}: skipped: {s['reason']}")
    c = report["summary"]
    print(f"{report['files']['analysed']} file(s) analysed, {len(report['files']['skipped'])} skipped; "
          f"{c['kernels']} kernel(s); {c['wraps']} wrap, {c['safe']} safe, {c['unknown']} unknown"
          + (f", {c['not_analysed']} kernel(s) not analysed" if c["not_analysed"] else "")
          + ("" if status == 0 else "  -> FAIL"))
    return status


if __name__ == "__main__":
    sys.exit(main())
