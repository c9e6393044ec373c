"""Record real GPU runs for learners without a GPU: writes results/gpu/*.json (run on a GPU).

    python scripts/gpu_record.py --out results/gpu/<device> [--skip-sanitizer] [--only NAME...]

--out is required: the committed recordings of each GPU live in their own folder (results/gpu/h100,
results/gpu/h200, ...), and a run never overwrites them by accident. Paths inside the recorded
output (a sanitizer or TRITON_DEBUG line names the kernel's file) are stored relative to the
repository, so a recording does not carry the recording machine's layout.

doctor.json             device, capability, memory, versions
repro.json              full-size launches in child processes: the crash, the fixes, the grid limit
silent_corruption.json  int32 launch with a live 6 GiB neighbour buffer: crash or silent wrong rows
detection.json          TRITON_DEBUG=1 overflow sanitizer, compute-sanitizer memcheck, TTIR i32 vs i64
gpu_vs_cpu.json         GPU kernels vs the CPU references and vs the CPU tier (interpreter) on the
                        same inputs: how many codes differ, by how much, and why
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import triton

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import kernels  # noqa: E402
from kernels import reference as R  # noqa: E402
from kernels.compare import compare, fp8_ordinal  # noqa: E402
from kernels.repro import one_line, run  # noqa: E402


def meta(command: str) -> dict:
    return {"device": torch.cuda.get_device_name(0), "date": datetime.date.today().isoformat(),
            "torch": torch.__version__, "triton": triton.__version__, "command": command}


def repo_relative(value):
    """`value` with every absolute path into this checkout made repository-relative (recursively)."""
    if isinstance(value, str):
        return value.replace(str(ROOT) + os.sep, "")
    if isinstance(value, list):
        return [repo_relative(v) for v in value]
    if isinstance(value, dict):
        return {k: repo_relative(v) for k, v in value.items()}
    return value


def save(out: Path, name: str, records, command: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rec = repo_relative(meta(command) | {"records": records})
    (out / f"{name}.json").write_text(json.dumps(rec, indent=1))
    print(f"wrote {out / name}.json", flush=True)


def doctor() -> dict:
    p = torch.cuda.get_device_properties(0)
    free, total = torch.cuda.mem_get_info()
    return {"name": p.name, "capability": f"sm_{p.major}{p.minor}", "fp8_e4m3": (p.major, p.minor) >= (8, 9),
            "sms": p.multi_processor_count, "total_gib": round(total / 2**30, 1),
            "free_gib": round(free / 2**30, 1), "cuda": torch.version.cuda,
            "python": sys.version.split()[0]}


REPRO_CASES = [  # kernel, M, N, index, rows_axis
    ("colmajor", 524_288, 4_096, "int32", 0),   # the last safe multiple of 128
    ("colmajor", 524_416, 4_096, "int32", 0),   # the upstream reproduction: crash
    ("colmajor", 524_416, 4_096, "int64", 0),   # the fix
    ("packed", 524_280, 8_192, "int32", 1),     # int32 overflow inside the grid limit: crash
    ("packed", 524_280, 8_192, "int64", 1),     # the upstream fix works here
    ("packed", 524_416, 4_096, "int32", 1),     # grid axis 1 > 65,535
    ("packed", 524_416, 4_096, "int64", 1),     # ... still, after the int64 fix
    ("packed", 524_416, 4_096, "int64", 0),     # the course's fix: rows on axis 0
    ("packed", 524_416, 4_096, "int32", 0),     # rows on axis 0 but int32: now the overflow bites
]


def repro_all() -> list:
    recs = []
    for k, m, n, idx, ax in REPRO_CASES:
        r = run(k, m, n, idx, ax)
        print(one_line(r), flush=True)
        r.pop("output", None)
        recs.append(r)
    return recs


def silent() -> list:
    recs = []
    for where in ("after", "before"):
        r = run("colmajor", 524_416, 4_096, "int32", 0, neighbour=where, neighbour_gib=6)
        print(one_line(r), r.get("neighbour_minus_x_gib"), flush=True)
        r.pop("output", None)
        recs.append(r)
    return recs


def ttir_lines() -> dict:
    x = torch.randn(64, 512, device="cuda", dtype=torch.bfloat16)
    out = {}
    for idx in ("int32", "int64"):
        q = torch.empty(64, 256, device="cuda", dtype=R.FP8)
        s = R.mn_major(64, 2, torch.float32, "cuda")
        h = kernels.colmajor.silu_mul_fp8_colmajor_kernel[(16,)](   # 8 row blocks x 2 groups
            x_ptr=x, q_ptr=q, s_ptr=s, **kernels.colmajor.kernel_args(
                64, 512, eps=1e-10, index=idx, block_m=8, groups=1, use_ue8m0=False))
        ttir = h.asm["ttir"]
        # the lines that build the block offsets: tile -> pid_m -> row0 -> x_blk / q_blk
        out[idx] = [ln.strip() for ln in ttir.splitlines()
                    if re.match(r"\s*%(tile|pid_m|row0|x_blk|q_blk)\S* = arith\.(muli|extsi|divsi)", ln)]
    return out


def detection(skip_sanitizer: bool) -> dict:
    from kernels import tiles
    t = tiles.CPU_TILES["colmajor"]   # the int32 (upstream) variant always launches this tile
    rec = {"ttir": ttir_lines(),
           "tile": {"block_m": t["block_m"], "groups_per_program": math.gcd(4_096 // 256, t["groups_per_program"])}}
    for idx in ("int32", "int64"):
        r = run("colmajor", 524_416, 4_096, idx, 0, env_extra={"TRITON_DEBUG": "1"}, timeout=400)
        print("TRITON_DEBUG", one_line(r), flush=True)
        lines = [ln for ln in r["output"].splitlines() if "overflow" in ln or "Assertion" in ln]
        rec[f"triton_debug_{idx}"] = {"verdict": r["verdict"], "detail": r.get("detail", ""),
                                      "lines": lines[:6], "wall_s": r["wall_s"]}
    cs = shutil.which("compute-sanitizer")
    if cs and not skip_sanitizer:
        r = run("colmajor", 524_416, 4_096, "int32", 0, prefix=[cs, "--tool", "memcheck",
                                                                  "--print-limit", "4"], timeout=400)
        print("compute-sanitizer", one_line(r), flush=True)
        lines = [ln for ln in r["output"].splitlines() if ln.startswith("=========")]
        rec["compute_sanitizer"] = {"verdict": r["verdict"], "lines": lines[:16], "wall_s": r["wall_s"]}
    return rec


def _explain(q, q_ref, y_ref, scale_ref) -> dict:
    """Split differing codes: quotient y/scale within 2 ulp of the fp8 midpoint (division) or not."""
    d = (fp8_ordinal(q) != fp8_ordinal(q_ref))
    if not d.any():
        return {"near_fp8_midpoint": 0, "elsewhere": 0}
    m, h = q.shape
    v = (y_ref.view(m, -1, 128) / scale_ref.view(m, -1, 1)).view(m, h)[d]
    a, b = q_ref.float()[d], q.float()[d]
    mid = (a + b) / 2
    ulp = (v.abs().view(torch.int32) + 1).view(torch.float32) - v.abs()
    near = ((v - mid).abs() <= 2 * ulp).sum().item()
    return {"near_fp8_midpoint": int(near), "elsewhere": int(d.sum().item() - near)}


def gpu_vs_cpu() -> list:
    recs = []
    gen = torch.Generator().manual_seed(1234)
    for m, n in ((8_192, 4_096), (4_096, 7_168)):
        x = (torch.randn(m, n, generator=gen) * 2).to(torch.bfloat16)
        xg = x.cuda()
        cases = [("colmajor", False), ("colmajor", True), ("packed", None)]
        for k, ue in cases:
            if k == "colmajor":
                q, s = kernels.silu_mul_fp8_colmajor(xg, use_ue8m0=ue)
                qr, sr = R.silu_mul_fp8_colmajor_ref(x, use_ue8m0=ue)
                y = R.colmajor_y(x)
                sc = sr if sr.dtype == torch.float32 else None
            else:
                q, s = kernels.silu_mul_fp8_packed(xg)
                qr, sr = R.silu_mul_fp8_packed_ref(x)
                y = R.packed_y(x)
                sc = R.decode_ue8m0(sr, n // 256)
            rep = compare(q.cpu(), s.cpu(), qr, sr, tier="gpu",
                          envelope=R.gpu_envelope(x, k, bool(ue)))
            recs.append({"what": "GPU kernel vs CPU reference", "kernel": k, "ue8m0": ue, "M": m, "N": n,
                         "ok": rep.ok, "message": rep.message, "code_diffs": rep.code_diffs,
                         "codes": rep.codes, "max_step": rep.max_step, "scale_diffs": rep.scale_diffs,
                         "max_scale_ulp": rep.max_scale_ulp,
                         "cause": _explain(q.cpu(), qr, y, sc.contiguous())})
            print(recs[-1], flush=True)
    # the CPU tier itself (Triton interpreter with the rounding correction) on the GPU machine
    m, n = 512, 4_096
    x = (torch.randn(m, n, generator=gen) * 2).to(torch.bfloat16)
    with tempfile.TemporaryDirectory() as d:
        torch.save(x, f"{d}/x.pt")
        code = ("import torch, kernels; x = torch.load('{d}/x.pt');"
                "torch.save({{'c': kernels.silu_mul_fp8_colmajor(x), 'p': kernels.silu_mul_fp8_packed(x)}},"
                " '{d}/cpu.pt')").format(d=d)
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TRITON_INTERPRET="1",
                   PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        t0 = time.time()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        cpu = torch.load(f"{d}/cpu.pt")
        secs = time.time() - t0
    xg = x.cuda()
    for k, fn in (("colmajor", kernels.silu_mul_fp8_colmajor), ("packed", kernels.silu_mul_fp8_packed)):
        q, s = fn(xg)
        qc, sc = cpu["c" if k == "colmajor" else "p"]
        rep = compare(q.cpu(), s.cpu(), qc, sc, tier="gpu", envelope=R.gpu_envelope(x, k))
        exact = compare(q.cpu(), s.cpu(), qc, sc, tier="cpu")
        recs.append({"what": "GPU kernel vs CPU tier (interpreter) on the same input", "kernel": k,
                     "M": m, "N": n, "identical": exact.ok, "ok": rep.ok, "message": rep.message,
                     "code_diffs": rep.code_diffs, "codes": rep.codes, "max_step": rep.max_step,
                     "scale_diffs": rep.scale_diffs, "cpu_tier_seconds": round(secs, 1)})
        print(recs[-1], flush=True)
    return recs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="a folder, e.g. results/gpu/h200 (one per GPU)")
    ap.add_argument("--skip-sanitizer", action="store_true")
    ap.add_argument("--only", nargs="*", default=None)
    a = ap.parse_args()
    out = Path(a.out)
    cmd = f"python scripts/gpu_record.py --out {os.path.relpath(out.resolve(), ROOT)}"
    steps = {"doctor": lambda: doctor(), "repro": repro_all, "silent_corruption": silent,
             "detection": lambda: detection(a.skip_sanitizer), "gpu_vs_cpu": gpu_vs_cpu}
    for name, fn in steps.items():
        if a.only and name not in a.only:
            continue
        t0 = time.time()
        save(out, name, fn(), cmd)
        print(f"{name}: {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
