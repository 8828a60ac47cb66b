#!/usr/bin/env bash
# The main job on bundled defaults: sets the machine up, then runs it.
#   scripts/demo.sh [--flags for python -m tasks.demo]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec .venv/bin/python -m tasks.demo "$@"
