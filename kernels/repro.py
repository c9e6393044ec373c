"""Run one full-size launch on the GPU in a child process and classify what happened.

A CUDA illegal memory access poisons the CUDA context of the process that hit it, so the launch
happens in a child (``python -m kernels.repro``) and the parent -- a notebook, the CLI, a test --
only reads its one-line JSON verdict and exit status.

Verdicts and exit codes (also the CLI's):
    0 ok                      ran, and the first and last 256 rows match the reference (GPU rule)
    3 wrong-result            ran to completion, but rows differ from the reference
    4 illegal-memory-access   CUDA error: an illegal memory access was encountered
    5 launch-error            the launch itself was refused (e.g. grid too large: invalid argument)
    6 no-gpu                  no CUDA device in the child
    7 error                   anything else (out of memory, a crash, a timeout)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

EXIT = {"ok": 0, "wrong-result": 3, "illegal-memory-access": 4, "launch-error": 5, "no-gpu": 6,
        "error": 7}
CHECK_ROWS = 256


def classify(text: str) -> str:
    t = text.lower()
    if "illegal memory access" in t or "illegal address" in t:
        return "illegal-memory-access"
    if "invalid argument" in t or "too many resources" in t or "launch failure" in t:
        return "launch-error"
    return "error"


def _child(a: argparse.Namespace) -> dict:
    import torch
    if not torch.cuda.is_available():
        return {"verdict": "no-gpu", "detail": "torch.cuda.is_available() is False"}
    import kernels
    from kernels.compare import compare
    from kernels.reference import gpu_envelope
    dev = torch.cuda.get_device_name(0)
    from kernels import doctor, fp8  # fp8 path and input dtype for this GPU (KERNELS_FP8_PATH forces)
    path, (dtype, dtype_why) = fp8.choose(fp8.capability_of(torch.device("cuda")))[0], doctor.input_dtype()
    gen = torch.Generator(device="cuda").manual_seed(a.seed)
    neighbour = None
    if a.neighbour == "before":  # a live buffer allocated before x (see "no crash != correct")
        neighbour = torch.full((a.neighbour_gib << 29,), 1.0, device="cuda", dtype=torch.bfloat16)
    x = torch.randn(a.M, a.N, device="cuda", dtype=dtype, generator=gen)
    layout = {"fp8_path": path, "input": str(dtype).replace("torch.", "")}
    if dtype != torch.bfloat16:
        layout["input_why"] = dtype_why
    if a.neighbour == "after":
        neighbour = torch.full((a.neighbour_gib << 29,), 1.0, device="cuda", dtype=torch.bfloat16)
    if neighbour is not None:
        layout |= {"neighbour": a.neighbour, "neighbour_gib": a.neighbour_gib,
                   "neighbour_minus_x_gib": round((neighbour.data_ptr() - x.data_ptr()) / 2**30, 3)}
    kw = dict(index=a.index, unsafe_skip_launch_checks=True)
    for k in ("block_m", "num_warps"):
        if getattr(a, k) is not None:
            kw[k] = getattr(a, k)
    try:
        t0 = time.perf_counter()
        if a.kernel == "colmajor":
            q, s = kernels.silu_mul_fp8_colmajor(x, groups_per_program=a.groups_per_program, **kw)
        else:
            q, s = kernels.silu_mul_fp8_packed(x, rows_axis=a.rows_axis, **kw)
        torch.cuda.synchronize()
        ms = (time.perf_counter() - t0) * 1e3
    except Exception as e:  # noqa: BLE001 -- classified, then reported
        msg = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        return {"verdict": classify(str(e)), "detail": msg, "device": dev, **layout}
    reports = []
    for rows in (slice(0, CHECK_ROWS), slice(a.M - CHECK_ROWS, a.M)):
        xr = x[rows]
        ref = (kernels.silu_mul_fp8_colmajor_ref(xr) if a.kernel == "colmajor"
               else kernels.silu_mul_fp8_packed_ref(xr))
        env = [(qv, sv.contiguous()) for qv, sv in gpu_envelope(xr, a.kernel)]
        reports.append(compare(q[rows], s[rows].contiguous(), ref[0], ref[1].contiguous(),
                               tier="gpu", envelope=env))
    ok = all(reports)
    return {"verdict": "ok" if ok else "wrong-result", "device": dev, "ms_first_call": round(ms, 1),
            "q": list(q.shape), "scales": list(s.shape), "scale_strides": list(s.stride()), **layout,
            "detail": "; ".join(f"rows {r}: {rep.message}" for r, rep in
                                zip(("first 256", "last 256"), reports))}


def run(kernel: str, M: int, N: int, index: str, rows_axis: int = 1, seed: int = 0,
        timeout: float = 300.0, neighbour: str = "none", neighbour_gib: int = 6,
        env_extra: dict | None = None, prefix: list[str] | None = None, *,
        block_m: int | None = None, groups_per_program: int | None = None,
        num_warps: int | None = None) -> dict:
    """Launch in a child process; return its verdict dict (+ exit code, wall time, stderr tail).

    block_m, groups_per_program, num_warps: the tile (None: the launcher's default).
    neighbour: allocate a neighbour_gib GiB bf16 buffer "before" or "after" x, to show that a
    wrapped offset may land in live memory (no crash, wrong rows). env_extra / prefix: e.g.
    {"TRITON_DEBUG": "1"} or ["compute-sanitizer", "--tool", "memcheck"] (detection ladder).
    """
    if kernel not in ("colmajor", "packed") or index not in ("int32", "int64") or \
            rows_axis not in (0, 1):
        raise ValueError(f"bad launch: kernel={kernel!r}, index={index!r}, rows_axis={rows_axis!r}")
    if M < 1 or N < 256 or N % 256:
        raise ValueError(f"need M >= 1 and N a positive multiple of 256, got M={M}, N={N}")
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
    cmd = [*(prefix or []), sys.executable, "-m", "kernels.repro", "--kernel", kernel,
           "--M", str(M), "--N", str(N), "--index", index, "--rows-axis", str(rows_axis),
           "--seed", str(seed), "--neighbour", neighbour, "--neighbour-gib", str(neighbour_gib)]
    for flag, v in (("--block-m", block_m), ("--groups-per-program", groups_per_program),
                    ("--num-warps", num_warps)):
        if v is not None:
            cmd += [flag, str(v)]
    env = dict(os.environ, **(env_extra or {}))
    env.pop("TRITON_INTERPRET", None)  # the child must run the real GPU kernels
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        res = {"verdict": "error", "detail": f"timed out after {timeout:.0f} s"}
    else:
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        if lines:
            res = json.loads(lines[-1])
        else:  # the child died before it could report (e.g. a crash at exit)
            tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
            res = {"verdict": classify(p.stderr), "detail": " | ".join(tail)}
        res["output"] = "\n".join((p.stdout + p.stderr).strip().splitlines()[-40:])
    res.update(kernel=kernel, M=M, N=N, index=index, rows_axis=rows_axis if kernel == "packed" else 0,
               exit=EXIT[res["verdict"]], wall_s=round(time.perf_counter() - t0, 1))
    res.update({k: v for k, v in (("block_m", block_m), ("groups_per_program", groups_per_program),
                                  ("num_warps", num_warps)) if v is not None})
    return res


def one_line(r: dict) -> str:
    grid = f", rows on axis {r['rows_axis']}" if r["kernel"] == "packed" else ""
    head = f"{r['kernel']} index={r['index']}{grid}, M={r['M']:,} N={r['N']:,}"
    where = f" on {r['device']}" if r.get("device") else ""
    where += " (software fp8)" if r.get("fp8_path") == "software" else ""
    where += f" (input {r['input']}: {r['input_why']})" if r.get("input_why") else ""
    return f"{head}{where}: {r['verdict'].upper()} -- {r.get('detail', '')} [exit {r['exit']}, {r['wall_s']} s]"


if __name__ == "__main__":  # the child
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", choices=("colmajor", "packed"), required=True)
    ap.add_argument("--M", type=int, required=True)
    ap.add_argument("--N", type=int, required=True)
    ap.add_argument("--index", choices=("int32", "int64"), required=True)
    ap.add_argument("--rows-axis", type=int, choices=(0, 1), default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--neighbour", choices=("none", "before", "after"), default="none")
    ap.add_argument("--neighbour-gib", type=int, default=6)
    ap.add_argument("--block-m", type=int, default=None)
    ap.add_argument("--groups-per-program", type=int, default=None)
    ap.add_argument("--num-warps", type=int, default=None)
    out = _child(ap.parse_args())
    print(json.dumps(out), flush=True)
    # leave without CUDA teardown: after an illegal access it can hang or abort noisily
    os._exit(EXIT[out["verdict"]])
