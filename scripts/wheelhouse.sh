#!/usr/bin/env bash
# Build a wheelhouse of everything the course needs *beyond torch and triton*, for an offline GPU
# node that already has them (and numpy/matplotlib, which GPU images ship).
#   scripts/wheelhouse.sh [DEST] [PYTHON_VERSION] [PLATFORM...]
#   default: .whl 3.12 manylinux x86_64
# Install on the node (no network):
#   python3 -m pip install --no-index --find-links DEST nbval ipykernel ipywidgets nbclient tqdm
# or, where site-packages is read-only:
#   python3 -m pip install --no-index --no-deps --target /tmp/site DEST/*.whl && export PYTHONPATH=/tmp/site
set -euo pipefail
dest=${1:-.whl}
pyver=${2:-3.12}
shift $(( $# > 2 ? 2 : $# ))
plats=("$@")
[ ${#plats[@]} -gt 0 ] || plats=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64)
pargs=()
for p in "${plats[@]}"; do pargs+=(--platform "$p"); done
mkdir -p "$dest"
# pip resolves the dependency tree for the target interpreter; numpy, torch and triton are excluded
# because the GPU node's own builds must be used.
python3 -m pip download --quiet --only-binary=:all: --python-version "$pyver" --implementation cp \
  "${pargs[@]}" -d "$dest" -r "$(dirname "$0")/gpu-requirements.txt"
rm -f "$dest"/torch-* "$dest"/triton-* "$dest"/numpy-* "$dest"/nvidia_* "$dest"/matplotlib-* \
      "$dest"/pillow-* "$dest"/contourpy-* "$dest"/fonttools-* "$dest"/kiwisolver-* "$dest"/sympy-* \
      "$dest"/networkx-* "$dest"/mpmath-* "$dest"/cuda_* "$dest"/setuptools-*
ls "$dest" | wc -l | xargs echo "wheels in $dest:"
du -sh "$dest"
