#!/usr/bin/env bash
# Release build of the node binaries in build-release/: optimised and fully static (static-pie:
# glibc, jansson and protobuf-c from their Debian .a files; -Dstatic_node), so they run on any
# Linux of the same architecture and a shim maps no shared library. Prints the executables.
# The controller and agent are not node binaries: they ship in images (scripts/build-images.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${BUILD_RELEASE_DIR:-build-release}
NODE_BINARIES=(src/shim/containerd-shim-reaper-v2 src/runtime/reaper-runtime)

if [ ! -f "$DIR/build.ninja" ]; then
  meson setup "$DIR" --buildtype=release -Dprefer_static=true -Dstatic_node=true \
    -Db_ndebug=if-release \
    --prefix=/usr/local >/dev/null
fi
ninja -C "$DIR" "${NODE_BINARIES[@]}" >"$DIR/last-build.log" 2>&1 || {
  cat "$DIR/last-build.log"
  exit 1
}
printf "$DIR/%s\n" "${NODE_BINARIES[@]}"
