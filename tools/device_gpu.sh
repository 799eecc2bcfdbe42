#!/usr/bin/env bash
# Run on a lent GPU machine (device tool), from the repo root, with .gl .whl .nvref .fixtures carried:
#   bash tools/device_gpu.sh [budget_s] [sections]
# Prepare once here (all four folders are ignored through .git/info/exclude, never committed):
#   .gl        EGL/GL loader debs (see the device tool's README)
#   .whl       cp312 wheels of moderngl glcontext av soundfile cffi pycparser python-osc tomli-w
#   .fixtures  a copy of ../shared/fixtures/stylegan
#   .nvref     optional: a checkout of NVlabs/stylegan3 for the ratio against NVIDIA's code
set -u
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 EGL_PLATFORM=surfaceless
[ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] && export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 tools/bench_gpu.py --out "$OUT/gpu.json" --budget "${1:-360}" --fixtures .fixtures --nvidia .nvref \
  --sections "${2:-fixtures,sg2,sg3,live,render,nvidia}" 2>&1 | tee "$OUT/gpu-log.txt"
