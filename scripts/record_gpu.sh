#!/usr/bin/env bash
# Record, on one GPU, everything the course shows from a real run, into one folder per device:
#   scripts/record_gpu.sh results/gpu/h200 [STEP...]   (then commit the folder; lessons pick it up)
# STEP: record fp8-proof ue8m0-probe spelling audit-examples doctor compile host clocks bench sass
#       (default: all, in that order)
# Steps (each bounded, each writing its own files, a failed step does not stop the others):
#   gpu_record.py        doctor, the repro verdicts, silent corruption, the detection ladder, GPU vs CPU
#   gpu_fp8_proof.py     the software e4m3 encoder vs the hardware conversion, kernels both ways
#   gpu_ue8m0_probe.py   the kernels' log2 route near powers of two vs the CPU's (lesson 05)
#   gpu_spelling_proof.py  kernels.gpu_math's spellings vs the plain ones, all 2**32 fp32 (lesson 09)
#   host_overhead.py     the host time of each layer of a small call (lesson 09)
#   gpu_clocks.py        SM clock, power and throttling in sustained loops (lesson 09)
#   kernels bench        tile sweep -> tiles.json, targets, the size sweep, torch.compile baselines
#   audit examples       lesson 10's kernels at the audit's boundary rows, as found and fixed
#   kernels doctor/compile   what this GPU gets, and the cross-target compile table
#   sass_counts.py       SASS instructions per element with the tiles bench just chose (no GPU needed)
# About 8 minutes on an H200 before host, clocks and ue8m0-probe were added; those three took
# 83 s together in one device run (2026-11-30): about 10 minutes in all. Run from anywhere; PY picks the interpreter (default python3).
set -uo pipefail
out=${1:?usage: scripts/record_gpu.sh OUTDIR [STEP...]   (e.g. results/gpu/h200)}
shift
steps=" ${*:-record fp8-proof ue8m0-probe spelling audit-examples doctor compile host clocks bench sass} "
cd "$(dirname "$0")/.."
PY=${PY:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$out"
$PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'record_gpu.sh needs a CUDA GPU')" || exit 6

step() {  # step NAME SECONDS COMMAND...
  local name=$1 limit=$2 t0 rc
  shift 2
  [[ $steps == *" $name "* ]] || return 0
  echo "== $name"
  t0=$(date +%s)
  timeout "$limit" "$@"
  rc=$?
  echo "== $name: exit $rc, $(( $(date +%s) - t0 )) s"
  return 0
}

{
  step record 300 $PY scripts/gpu_record.py --out "$out"
  step fp8-proof 150 $PY scripts/gpu_fp8_proof.py "$out"
  step ue8m0-probe 150 $PY scripts/gpu_ue8m0_probe.py "$out"
  step spelling 60 $PY scripts/gpu_spelling_proof.py "$out"
  step audit-examples 200 $PY -m course.audit.examples.prove "$out"
  step doctor 60 sh -c "$PY -m kernels doctor --json > '$out/doctor_kernels.json' && $PY -m kernels doctor"
  step compile 200 sh -c "$PY -m kernels compile --arch 75 80 86 89 90 100 > '$out/compile_table.txt'; cat '$out/compile_table.txt'"
  step host 120 $PY scripts/host_overhead.py "$out"
  step clocks 150 $PY scripts/gpu_clocks.py "$out"
  step bench 330 $PY -m kernels bench --sweep --sizes --out "$out" --budget-s 300
  step sass 120 $PY scripts/sass_counts.py "$out"
} 2>&1 | tee -a "$out/record_gpu.log"
