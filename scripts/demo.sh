#!/usr/bin/env bash
# The main job: install what is missing, build, start a private containerd with Reaper
# registered, run an example pod, show its output and an exec, clean up.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
exec /usr/bin/python3 scripts/demo.py
