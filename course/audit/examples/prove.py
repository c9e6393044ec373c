"""The proof step for the unfamiliar kernels: launch each at the sizes the audit names, on a GPU.

    python -m course.audit.examples.prove OUT_DIR            # on a CUDA machine; writes OUT_DIR/audit_examples.json

For every kernel that the audit says wraps (course/audit/examples/bounds.toml), it launches the
kernel as found at the last safe size and at the first wrapping size the audit reports, and the
fixed kernel at the first wrapping size; the persistent kernel (audited safe) at a size whose
element count is beyond 2**31. Each launch runs in its own process (an illegal memory access
poisons the CUDA context) and is compared with the torch reference on its first and last rows.
Nothing is hard-coded: the sizes come from the audit itself.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
SIZE_ARG = {"softmax_rows": "M", "softmax_rows_fixed": "M", "scatter_add_rows": "R",
            "scatter_add_rows_fixed": "R", "rms_norm_persistent": "n_rows"}


def audit_thresholds() -> dict:
    """{kernel: (verdict, first wrapping size or None, the launch's bounds)} from the audit."""
    from course.audit.cli import load_config
    from course.audit.core import analyze_kernel, build_registry, load_file
    defaults, per = load_config(str(HERE / "bounds.toml"))
    mods = [load_file(str(HERE / f)) for f in ("softmax.py", "scatter.py", "persistent.py")]
    reg = build_registry(mods)
    out = {}
    for mod in mods:
        for fn in mod.jit:
            launch = defaults.merged(per[fn.name])
            k = analyze_kernel(mod, fn, reg, launch)
            wraps = [f for f in k.findings if f.verdict == "wraps"]
            # findings that wrap whatever the size (`dst * D` at the bounded index) have a note
            first = min((f.first_wrap["value"] for f in wraps
                         if f.first_wrap and not f.first_wrap.get("note")), default=None)
            out[fn.name] = ("wraps" if wraps else "safe", first, launch.resolve()[0])
    return out


def run_case(kernel: str, size: int, small: bool = False) -> dict:
    """Launch one kernel at one size; compare first and last rows with the reference."""
    import torch

    from course.audit.examples import persistent, scatter, softmax
    from kernels.tier import DEVICE as dev
    g = torch.Generator(device=dev).manual_seed(0)
    t0 = time.perf_counter()
    if kernel.startswith("softmax"):
        n = 300 if small else 128_256
        x = torch.randn(size, n, device=dev, dtype=torch.float16, generator=g)
        y = softmax.softmax(x, fixed=kernel.endswith("fixed"), block=64 if small else 4096)
        rows = [0, 1, size - 2, size - 1]
        want = softmax.softmax_ref(x[rows])
        got = y[rows]
    elif kernel.startswith("scatter"):
        d = 200 if small else 4096
        src = torch.randn(size, d, device=dev, generator=g)
        idx = torch.arange(size - 1, -1, -1, device=dev, dtype=torch.int32)   # dst = R - 1 - pid
        out = torch.zeros(size, d, device=dev)
        scatter.scatter_add(src, idx, out, fixed=kernel.endswith("fixed"), block_d=64 if small else 128)
        rows = [0, 1, size - 2, size - 1]
        want = src[[size - 1 - r for r in rows]]
        got = out[rows]
    else:
        d = 300 if small else 4096
        x = torch.randn(size, d, device=dev, generator=g)
        y = persistent.rms_norm(x, programs=4 if small else 132)
        rows = [0, 1, size - 2, size - 1]
        want = persistent.rms_norm_ref(x[rows])
        got = y[rows]
    if dev == "cuda":
        torch.cuda.synchronize()
    err = (got - want).abs().max().item()
    return {"kernel": kernel, "size": size, "completed": True, "max_abs_err": err,
            "correct": bool(err <= 1e-4 and got.isfinite().all().item()),
            "seconds": round(time.perf_counter() - t0, 2)}


def run_child(kernel: str, size: int, timeout: int) -> dict:
    cmd = [sys.executable, "-m", "course.audit.examples.prove", "--case", kernel, "--size", str(size)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           cwd=HERE.parent.parent.parent)
    except subprocess.TimeoutExpired:
        return {"kernel": kernel, "size": size, "completed": False, "error": f"timeout {timeout} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode == 0 and lines:
        return json.loads(lines[-1])
    tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
    return {"kernel": kernel, "size": size, "completed": False, "returncode": p.returncode,
            "error": " | ".join(tail)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m course.audit.examples.prove")
    ap.add_argument("out_dir", nargs="?")
    ap.add_argument("--case")
    ap.add_argument("--size", type=int)
    ap.add_argument("--timeout", type=int, default=240)
    args = ap.parse_args(argv)
    if args.case:                       # child: one launch
        if args.case not in SIZE_ARG or not args.size or args.size < 2:
            print(f"error: --case one of {sorted(SIZE_ARG)} and --size >= 2", file=sys.stderr)
            return 2
        print(json.dumps(run_case(args.case, args.size)))
        return 0
    if not args.out_dir:
        ap.error("give OUT_DIR (or --case/--size for one launch)")
    import torch
    if not torch.cuda.is_available():
        print("error: this proof launches at sizes beyond 2**31 elements and needs a CUDA GPU "
              "(about 20 GB of memory); the CPU tier uses the recorded results", file=sys.stderr)
        return 2
    import triton
    plan = []
    for kernel, (verdict, first, _bounds) in audit_thresholds().items():
        if verdict == "wraps":
            plan += [(kernel, first - 1, "safe"), (kernel, first, "wraps")]
            plan.append((kernel + "_fixed", first, "safe (fixed)"))
        elif not kernel.endswith("_fixed"):
            plan.append((kernel, 600_000, "safe"))   # 600,000 x 4,096 elements > 2**31
    cases = []
    for kernel, size, expect in plan:
        r = run_child(kernel, size, args.timeout)
        r["audit"] = expect
        cases.append(r)
        print(json.dumps(r), flush=True)
    out = pathlib.Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    import datetime
    rec = {"device": torch.cuda.get_device_name(), "date": datetime.date.today().isoformat(),
           "torch": torch.__version__, "triton": triton.__version__,
           "command": f"python -m course.audit.examples.prove {args.out_dir}", "cases": cases}
    (out / "audit_examples.json").write_text(json.dumps(rec, indent=2) + "\n")
    print(f"wrote {out / 'audit_examples.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
