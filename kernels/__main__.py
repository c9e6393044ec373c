"""Command line: ``python -m kernels {overflow,repro,bench,tier}`` (``--help`` on each).

Defaults are the launchers' defaults (the fixed kernels: index int64, rows on grid axis 0, the
default tile). ``--upstream`` selects the upstream variants instead: int32 offsets and, for the
packed kernel, upstream's (words, row blocks) grid. Every argument is checked before anything runs;
a bad one is an argparse error (exit 2), never a traceback.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

# ------------------------------------------------------------------------------- argument types


def positive_int(text: str) -> int:
    try:
        v = int(text, 10)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return v


def columns(text: str) -> int:
    try:
        v = int(text, 10)
    except ValueError:
        v = 0
    if v < 256 or v % 256:
        raise argparse.ArgumentTypeError(
            f"must be a positive multiple of 256 (gate and up halves of whole 128-column groups), "
            f"got {text!r}")
    return v


def power_of_two(hi: int):
    def parse(text: str) -> int:
        try:
            v = int(text, 10)
        except ValueError:
            v = 0
        if not 1 <= v <= hi or v & (v - 1):
            raise argparse.ArgumentTypeError(f"must be a power of two in [1, {hi}], got {text!r}")
        return v
    return parse


def seed(text: str) -> int:
    try:
        v = int(text, 10)
    except ValueError:
        v = -1
    if not 0 <= v < 2**63:      # torch.Generator.manual_seed takes a 64-bit integer
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**63), got {text!r}")
    return v


def arch(text: str) -> int:
    try:
        v = int(text, 10)
    except ValueError:
        v = 0
    if not 50 <= v <= 129:
        raise argparse.ArgumentTypeError(f"must be a compute capability as two or three digits "
                                         f"(75 = sm_75 ... 120 = sm_120), got {text!r}")
    return v


def seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return v


def _launch_options(p: argparse.ArgumentParser, kernels: tuple[str, ...], default_kernel: str) -> None:
    """The options overflow and repro share: the launch being analysed or run."""
    from .validate import BLOCK_M_MAX, GROUPS_PER_PROGRAM_MAX, NUM_WARPS_MAX
    p.add_argument("--M", type=positive_int, default=524_416, help="rows (default 524,416)")
    p.add_argument("--N", type=columns, default=4_096, help="input columns, gate + up (default 4,096)")
    p.add_argument("--kernel", choices=kernels, default=default_kernel)
    p.add_argument("--upstream", action="store_true",
                   help="upstream's variants: --index int32 and, packed, --rows-axis 1")
    p.add_argument("--index", choices=("int32", "int64"), default=None,
                   help="int64 = the fix (default), int32 = upstream before the fix")
    p.add_argument("--rows-axis", type=int, choices=(0, 1), default=None,
                   help="packed kernel's grid: 0 = the course's fix (default), 1 = upstream")
    p.add_argument("--block-m", type=power_of_two(BLOCK_M_MAX), default=None,
                   help="rows per program (default: the launcher's)")
    p.add_argument("--groups-per-program", type=power_of_two(GROUPS_PER_PROGRAM_MAX), default=None,
                   help="colmajor: groups per program, must divide N/256 (default: the launcher's)")
    p.add_argument("--num-warps", type=power_of_two(NUM_WARPS_MAX), default=None,
                   help="warps per program (default: the launcher's)")
    p.add_argument("--json", action="store_true")


def _resolve(ap: argparse.ArgumentParser, a: argparse.Namespace, kernel: str) -> dict:
    """The launch configuration of one kernel, resolved exactly as the launcher resolves it: the
    options given, the rest from this machine's tile (kernels.tiles; fixed for the upstream variants
    and on the CPU tier)."""
    import torch

    from . import tier, tiles, validate
    if a.upstream and (a.index == "int64" or a.rows_axis == 0):
        ap.error("--upstream means --index int32 and --rows-axis 1: drop the conflicting option")
    index = "int32" if a.upstream else (a.index or "int64")
    axis = a.rows_axis if a.rows_axis is not None else (1 if a.upstream else 0)
    device = torch.device(tier.DEVICE)
    if kernel == "colmajor":
        if a.rows_axis == 1:
            ap.error("the colmajor kernel always puts rows on grid axis 0 (--rows-axis 1 is packed only)")
        block_m, gpp, num_warps, _ = tiles.fill("colmajor", device, a.M, a.N,
                                                (a.block_m, a.groups_per_program, a.num_warps, None),
                                                upstream=index == "int32")
        try:
            gpp = validate.check_groups_per_program(a.groups_per_program, a.N // 256, gpp)
        except validate.KernelInputError as e:
            ap.error(f"argument --groups-per-program: {e}")
        return {"index": index, "rows_axis": 0, "block_m": block_m, "num_warps": num_warps,
                "groups_per_program": gpp}
    if a.groups_per_program is not None and getattr(a, "kernel", "") == "packed":
        ap.error("--groups-per-program is a colmajor option (the packed kernel handles one packed word "
                 "of 4 groups per program)")
    block_m, num_warps, _ = tiles.fill("packed", device, a.M, a.N, (a.block_m, a.num_warps, None),
                                       upstream=index == "int32" or axis == 1)
    return {"index": index, "rows_axis": axis, "block_m": block_m, "num_warps": num_warps,
            "groups_per_program": 1}


# ------------------------------------------------------------------------------- subcommands


def overflow(ap: argparse.ArgumentParser, a: argparse.Namespace) -> int:
    from .offsets import analyze
    names = ("colmajor", "packed") if a.kernel == "both" else (a.kernel,)
    res = []
    for k in names:
        c = _resolve(ap, a, k)
        res.append(analyze(k, a.M, a.N, c["index"], c["rows_axis"], c["block_m"],
                           c["groups_per_program"]))
    if a.json:
        print(json.dumps([json.loads(x.to_json()) for x in res], indent=2))
    else:
        print("\n\n".join(x.table() for x in res))
    return 0 if all(x.safe for x in res) else 1    # scripts can test the verdict


def repro(ap: argparse.ArgumentParser, a: argparse.Namespace) -> int:
    from .repro import one_line, run
    c = _resolve(ap, a, a.kernel)
    res = run(a.kernel, a.M, a.N, c["index"], c["rows_axis"], a.seed, a.timeout,
              block_m=c["block_m"], groups_per_program=c["groups_per_program"],
              num_warps=c["num_warps"])
    print(json.dumps(res) if a.json else one_line(res))
    return res["exit"]


def bench(ap: argparse.ArgumentParser, a: argparse.Namespace) -> int:
    from .bench import main as run_bench
    return run_bench(a)


def tier_(ap: argparse.ArgumentParser, a: argparse.Namespace) -> int:
    from . import tier
    print(tier.describe())
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kernels", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="{overflow,repro,bench,tier,compile,doctor}")

    o = sub.add_parser("overflow", help="offset and grid analysis of one launch (no GPU needed; "
                       "exit 0 safe, 1 unsafe)")
    _launch_options(o, ("colmajor", "packed", "both"), "both")
    o.set_defaults(run=overflow)

    r = sub.add_parser("repro", help="one full-size GPU launch in a child process, one-line verdict")
    _launch_options(r, ("colmajor", "packed"), "colmajor")
    r.add_argument("--seed", type=seed, default=0)
    r.add_argument("--timeout", type=seconds, default=300.0, help="seconds (default 300)")
    r.set_defaults(run=repro)

    b = sub.add_parser("bench", help="GPU benchmark on triton.testing: kernels vs a device copy, "
                       "tile sweep (--sweep), size sweep (--sizes), plots (--plot, CPU)")
    from .bench import add_arguments
    add_arguments(b)
    b.set_defaults(run=bench)

    t = sub.add_parser("tier", help="which tier (GPU or CPU interpreter) this machine runs")
    t.set_defaults(run=tier_)

    _add_compile_and_doctor(sub)
    a = ap.parse_args(argv)
    if a.cmd in ("compile", "doctor"):
        return _run_compile_or_doctor(a)
    # each subcommand's own parser reports its argument errors
    return a.run(sub.choices[a.cmd], a)


def _add_compile_and_doctor(sub) -> None:
    from .compile import DEFAULT_ARCHS, DTYPES
    c = sub.add_parser("compile", help="compile every kernel and mode for GPU targets (no GPU needed)")
    c.add_argument("--arch", type=arch, nargs="+", default=list(DEFAULT_ARCHS),
                   help="compute capabilities, two digits: 75 = sm_75 (T4), 80 = A100, 86 = RTX 30xx")
    c.add_argument("--dtype", nargs="+", choices=tuple(DTYPES), default=list(DTYPES))
    c.add_argument("--path", choices=("auto", "hardware", "software"), default="auto",
                   help="fp8 conversion (auto: the GPU's own from sm_89, kernels.fp8's encoder below)")
    c.add_argument("--jobs", type=positive_int, default=None, help="parallel compile processes")
    c.add_argument("--json", action="store_true")
    d = sub.add_parser("doctor", help="GPU, compute capability, fp8 path, whether the live demos fit")
    d.add_argument("--json", action="store_true")


def _run_compile_or_doctor(a) -> int:
    if a.cmd == "doctor":
        from .doctor import report, text
        r = report()
        print(json.dumps(r, indent=2) if a.json else text(r))
        return 0
    from .compile import main as compile_main
    argv = ["--arch", *map(str, a.arch), "--dtype", *a.dtype, "--path", a.path]
    argv += ["--jobs", str(a.jobs)] if a.jobs else []
    return compile_main(argv + (["--json"] if a.json else []))


if __name__ == "__main__":
    sys.exit(main())
