#!/usr/bin/env bash
# The GPU tier in one command: every test (GPU-marked ones included: the full-size live runs) and
# nbval over every lesson and solution notebook, on a machine with a CUDA GPU.
# Uses the python given as $PY (default python3) with torch + triton already installed; the rest
# comes from requirements or an offline wheelhouse (scripts/wheelhouse.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
$PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'test-gpu needs a CUDA GPU')"
start=$(date +%s)
# bounded: each stage is killed after TEST_GPU_TIMEOUT seconds (default 20 min)
T=${TEST_GPU_TIMEOUT:-1200}
timeout "$T" $PY -m pytest tests -q -p no:cacheprovider -rs
timeout "$T" $PY -m pytest notebooks solutions -q -p no:cacheprovider --nbval --nbval-current-env \
    --nbval-cell-timeout=300 --nbval-sanitize-with nbval_sanitize.cfg
echo "test-gpu: $(( $(date +%s) - start )) s on $($PY -c 'import torch; print(torch.cuda.get_device_name(0))')"
