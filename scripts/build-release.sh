#!/usr/bin/env bash
# Release build of the node binaries in build-release/: optimised, jansson and protobuf-c linked
# statically (-Dprefer_static picks their .a files), so the binaries need only the C library and
# run on any glibc-based Linux of the same architecture. Prints the built executables.
# The controller and agent are not node binaries: they ship in images (scripts/build-images.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${BUILD_RELEASE_DIR:-build-release}
NODE_BINARIES=(src/shim/containerd-shim-reaper-v2 src/runtime/reaper-runtime)

if [ ! -f "$DIR/build.ninja" ]; then
  meson setup "$DIR" --buildtype=release -Dprefer_static=true -Db_ndebug=if-release \
    --prefix=/usr/local >/dev/null
fi
ninja -C "$DIR" "${NODE_BINARIES[@]}" >"$DIR/last-build.log" 2>&1 || {
  cat "$DIR/last-build.log"
  exit 1
}
printf "$DIR/%s\n" "${NODE_BINARIES[@]}"
