#!/usr/bin/env bash
# Release-build the binaries, then write the images as OCI archives into build-images/
# (scripts/build_images.py; arguments are passed through, e.g. --repository REGISTRY/reaper).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-release.sh >/dev/null
ninja -C "${BUILD_RELEASE_DIR:-build-release}" src/controller/reaper-controller \
  src/agent/reaper-agent >/dev/null
exec /usr/bin/python3 scripts/build_images.py --build "${BUILD_RELEASE_DIR:-build-release}" "$@"
