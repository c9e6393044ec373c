"""What the GPU's clocks and power do while each kernel runs back to back (lesson 09, packed's spread).

    python scripts/gpu_clocks.py OUT_DIR          (a CUDA GPU; writes OUT_DIR/clocks.json)

For each workload at M = 524,416, N = 8,192 (a device copy of the same bytes; the colmajor, colmajor
UE8M0 and packed kernels; colmajor and packed also spelled as upstream spells them -- kernels.bench.PLAIN,
what the kernels were before kernels.gpu_math; packed without its exp, and packed with upstream's loop
over its word's groups -- kernels.bench's variants), a loop of calls
runs for PHASE_S seconds while `nvidia-smi` samples the SM clock, the memory clock, the power draw,
the power limit, the temperature and the active clock-throttle reasons every 100 ms. The JSON keeps,
per workload, the achieved time per call (events around the loop) and the medians of the samples
taken while it ran. Each workload runs twice, in the order copy, colmajor, colmajor_plain,
colmajor_ue8m0, packed, packed_plain, packed_no_exp, packed_group_loop, copy, ..., so a drift over time
shows as a difference between the passes.
"""
from __future__ import annotations

import csv
import datetime
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import torch  # noqa: E402
import triton  # noqa: E402
from kernels import bench  # noqa: E402

M, N, PHASE_S = 524_416, 8_192, 6.0
FIELDS = ["timestamp", "clocks.sm", "clocks.mem", "power.draw", "power.limit", "temperature.gpu",
          "clocks_throttle_reasons.active", "clocks_throttle_reasons.sw_power_cap",
          "clocks_throttle_reasons.hw_slowdown", "clocks_throttle_reasons.sw_thermal_slowdown"]


def fields(smi: str) -> list[str]:
    """FIELDS this driver's nvidia-smi answers (newer drivers rename the throttle reasons)."""
    ok = []
    for f in FIELDS:
        r = subprocess.run([smi, f"--query-gpu={f}", "--format=csv,noheader"], capture_output=True,
                           text=True)
        if r.returncode == 0 and "not a valid" not in r.stdout.lower():
            ok.append(f)
    return ok


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else "results/tmp"
    smi = shutil.which("nvidia-smi")
    if smi is None:
        print("nvidia-smi not found: nothing to sample")
        return 3
    gen = torch.Generator(device="cuda").manual_seed(M * 7 + N)
    x = torch.randn(M, N, generator=gen, device="cuda", dtype=torch.bfloat16)
    providers = bench._providers()
    work = {name: providers[name].make(x) for name in ("copy", "colmajor", "colmajor_plain", "colmajor_ue8m0",
                                                      "packed", "packed_plain", "packed_no_exp",
                                                      "packed_group_loop")}
    for fn in work.values():      # compile, allocate
        fn()
    torch.cuda.synchronize()
    names = fields(smi)
    # samples go to a file: a pipe holds 64 KiB, and a sampler blocked on a full pipe stops sampling
    # (the first run with six workloads lost its last phases that way)
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen([smi, f"--query-gpu={','.join(names)}", "--format=csv,noheader,nounits",
                             "-lms", "100"], stdout=log, text=True)
    phases = []
    try:
        time.sleep(1.0)
        for rep in range(2):
            for name, fn in work.items():
                s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                t0 = time.time()
                s.record()
                calls = 0
                while time.time() - t0 < PHASE_S:
                    for _ in range(20):
                        fn()
                    calls += 20
                    torch.cuda.synchronize()
                e.record()
                torch.cuda.synchronize()
                phases.append({"name": name, "pass": rep, "start": t0, "end": time.time(),
                               "calls": calls, "us_per_call": round(s.elapsed_time(e) / calls * 1e3, 1)})
                time.sleep(1.0)   # a gap between phases, so samples are not attributed twice
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:   # a sampler that ignores SIGTERM must not cost the run
            proc.kill()
            proc.wait()
        log.seek(0)
        text = log.read()
    samples = []
    for row in csv.reader(io.StringIO(text)):
        if len(row) != len(names):
            continue
        ts = datetime.datetime.strptime(row[0].strip(), "%Y/%m/%d %H:%M:%S.%f").timestamp()
        samples.append((ts, [c.strip() for c in row[1:]]))
    # nvidia-smi prints local time; align it to time.time() by the offset of the first sample
    for p in phases:
        # nvidia-smi stamps local time, strptime reads it as local time: same clock as time.time()
        inside = [v for ts, v in samples if p["start"] + 0.5 <= ts <= p["end"]]
        p["samples"] = len(inside)
        for i, f in enumerate(names[1:]):
            vals = [v[i] for v in inside]
            if f.startswith("clocks_throttle_reasons"):
                p[f] = sorted(set(vals))
            else:
                nums = [float(v) for v in vals if _number(v)]
                p[f] = round(statistics.median(nums), 1) if nums else None
        print({k: v for k, v in p.items() if k not in ("start", "end")}, flush=True)
    rec = {"device": torch.cuda.get_device_name(), "date": datetime.date.today().isoformat(),
           "torch": torch.__version__, "triton": triton.__version__, "python": sys.version.split()[0],
           "command": "python scripts/gpu_clocks.py " + out, "M": M, "N": N, "phase_s": PHASE_S,
           "bytes_per_call": bench.bytes_moved("colmajor", M, N)["total"],
           "phases": [{k: v for k, v in p.items() if k not in ("start", "end")} for p in phases],
           "fields": names, "samples_note": "per phase: medians (sets for the throttle reasons) of "
           "the nvidia-smi samples taken from 0.5 s after its start to its end"}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "clocks.json"), "w") as f:
        json.dump(rec, f, indent=1)
    return 0


def _number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


if __name__ == "__main__":
    sys.exit(main())
