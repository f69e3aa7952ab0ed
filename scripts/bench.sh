#!/usr/bin/env bash
# Benchmarks: install what is missing, build, measure Reaper vs runc on a private containerd.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
scripts/build-release.sh >/dev/null  # the shim measured is the release (static) one
exec /usr/bin/python3 bench/run.py "$@"
