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

    b = sub.add_parser("bench", help="GPU benchmark: course kernels vs PyTorch, torch.compile, copy")
    b.add_argument("--quick", action="store_true", help="only the headline shape")
    b.add_argument("--sweep", action="store_true", help="also sweep block sizes and warps")
    b.add_argument("--no-compile", action="store_true", help="skip torch.compile (slow to build)")
    b.add_argument("--out", default="results/gpu")

    sub.add_parser("tier", help="which tier (GPU or CPU interpreter) this machine runs")
    _add_compile_and_doctor(sub)
    a = ap.parse_args(argv)
    if a.cmd in ("compile", "doctor"):
        return _run_compile_or_doctor(a)

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
        import torch
        if not torch.cuda.is_available():
            print("bench needs a CUDA GPU; recorded results: results/gpu/bench.json")
            return 6
        from .bench import run as bench
        res = bench(a.quick, a.sweep, a.out, not a.no_compile)
        for r in res["records"]:
            print(f"{r['name']:<34} M={r['M']:>9,} N={r['N']:>6,} " +
                  (f"{r['us']:>10,.1f} us {r['tbps']:>6.3f} TB/s" if "us" in r else r["error"]))
        print(f"{res['device']}, {res['date']}, torch {res['torch']}, triton {res['triton']} -> {a.out}")
        return 0
    from . import tier
    print(tier.describe())
    return 0


def _add_compile_and_doctor(sub) -> None:
    from .compile import DEFAULT_ARCHS, DTYPES
    c = sub.add_parser("compile", help="compile every kernel and mode for GPU targets (no GPU needed)")
    c.add_argument("--arch", type=int, nargs="+", default=list(DEFAULT_ARCHS),
                   help="compute capabilities, two digits: 75 = sm_75 (T4), 80 = A100, 86 = RTX 30xx")
    c.add_argument("--dtype", nargs="+", choices=tuple(DTYPES), default=list(DTYPES))
    c.add_argument("--path", choices=("auto", "hardware", "software"), default="auto",
                   help="fp8 conversion (auto: the GPU's own from sm_89, kernels.fp8's encoder below)")
    c.add_argument("--jobs", type=int, default=None, help="parallel compile processes")
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
