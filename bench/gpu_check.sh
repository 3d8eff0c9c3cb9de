#!/usr/bin/env bash
# The t4 code path on a CUDA machine in under 5 minutes, offline: see bench/gpu_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
timeout 290 "$PY" bench/gpu_check.py
