#!/usr/bin/env bash
# The test suite: sets the machine up, then runs every test (the `large`
# real-checkpoint ones included). Extra arguments go to pytest, e.g.
#   scripts/test.sh -m "not large"     # the fast subset
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec .venv/bin/python -m pytest -q tests "$@"
