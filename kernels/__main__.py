"""Command line: ``python -m kernels {overflow,repro,tier}`` (``--help`` on each)."""
from __future__ import annotations

import argparse
import json
import sys


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kernels", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    o = sub.add_parser("overflow", help="offset and grid analysis of one launch (no GPU needed)")
    o.add_argument("--M", type=int, default=524_416)
    o.add_argument("--N", type=int, default=4_096)
    o.add_argument("--kernel", choices=("colmajor", "packed", "both"), default="both")
    o.add_argument("--index", choices=("int32", "int64"), default="int32",
                   help="int32 = the upstream kernels before the fix (default), int64 = fixed")
    o.add_argument("--rows-axis", type=int, choices=(0, 1), default=1,
                   help="packed kernel's grid: 1 = upstream (default), 0 = the course's fix")
    o.add_argument("--block-m", type=int, default=8)
    o.add_argument("--groups-per-program", type=int, default=8,
                   help="colmajor only: groups per tile of the course's 1-D grid (grid size only)")
    o.add_argument("--json", action="store_true")

    r = sub.add_parser("repro", help="one full-size GPU launch in a child process, one-line verdict")
    r.add_argument("--M", type=int, default=524_416)
    r.add_argument("--N", type=int, default=4_096)
    r.add_argument("--kernel", choices=("colmajor", "packed"), default="colmajor")
    r.add_argument("--index", choices=("int32", "int64"), default="int32")
    r.add_argument("--rows-axis", type=int, choices=(0, 1), default=1,
                   help="packed kernel only: 1 = upstream grid (default), 0 = fixed grid")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--timeout", type=float, default=300.0)
    r.add_argument("--json", action="store_true")

    b = sub.add_parser("bench", help="GPU benchmark on triton.testing: kernels vs a device copy, "
                       "tile sweep (--sweep), size sweep (--sizes), plots (--plot, CPU)")
    from .bench import add_arguments
    add_arguments(b)

    sub.add_parser("tier", help="which tier (GPU or CPU interpreter) this machine runs")
    a = ap.parse_args(argv)

    if a.cmd == "overflow":
        from .offsets import analyze
        names = ("colmajor", "packed") if a.kernel == "both" else (a.kernel,)
        res = [analyze(k, a.M, a.N, a.index, a.rows_axis if k == "packed" else 0, a.block_m,
                       a.groups_per_program if k == "colmajor" else 1) for k in names]
        if a.json:
            print(json.dumps([json.loads(x.to_json()) for x in res], indent=2))
        else:
            print("\n\n".join(x.table() for x in res))
        return 0
    if a.cmd == "repro":
        from .repro import one_line, run
        res = run(a.kernel, a.M, a.N, a.index, a.rows_axis, a.seed, a.timeout)
        print(json.dumps(res) if a.json else one_line(res))
        return res["exit"]
    if a.cmd == "bench":
        from .bench import main as bench
        return bench(a)
    from . import tier
    print(tier.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
