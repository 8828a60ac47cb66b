#!/usr/bin/env bash
# The test suite: sets the machine up, then runs every test (the `large`
# real-checkpoint ones included) in TEST_WORKERS parallel processes (2 by
# default: each test's TensorFlow uses every core, but many tests wait on
# subprocesses and servers). Test files are kept whole per process, so
# class-level servers are shared as written. Extra arguments go to pytest:
#   scripts/test.sh -m "not large"     # the fast subset
#   TEST_WORKERS=0 scripts/test.sh     # one process
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
# TensorFlow's C++ log quiet in the test process (commands run by the
# tests quiet theirs themselves: bert_tf/cli/console.py).
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec .venv/bin/python -m pytest -q tests bert_tf -n "${TEST_WORKERS:-2}" \
  --dist loadfile "$@"
