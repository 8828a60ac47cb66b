#!/usr/bin/env bash
# The main job on bundled defaults: sets the machine up, then runs it.
#   scripts/demo.sh [--flags for python -m tasks.demo]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
# The commands keep TensorFlow's own log lines off the console
# (bert_tf/cli/console.py); BERT_TF_VERBOSE=1 brings them back.
exec .venv/bin/python -m tasks.demo "$@"
