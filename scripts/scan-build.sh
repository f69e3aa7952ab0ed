#!/usr/bin/env bash
# Static analysis: clang's scan-build over the product code (the libraries and the five programs;
# the cmocka tests are left out: the analyzer cannot know a failed assert_* never returns, so
# every "assert, then use" there is a false report). Everything is re-analysed on each run, so
# an unchanged file with a finding still fails. Fails on any report (--status-bugs); a
# suppression must be explained where it is, in the code.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=build-scan
TARGETS=(src/shim/containerd-shim-reaper-v2 src/runtime/reaper-runtime
         src/controller/reaper-controller src/agent/reaper-agent src/validate/reaper-validate)

# The compiler must be scan-build's wrapper from the start: meson records it at setup.
[ -f "$DIR/build.ninja" ] || scan-build meson setup "$DIR" -Dbuildtype=debug >/dev/null
ninja -C "$DIR" -t clean >/dev/null
rm -rf "$DIR/reports"
scan-build -o "$DIR/reports" --status-bugs ninja -C "$DIR" "${TARGETS[@]}" \
  >"$DIR/scan.log" 2>&1 || {
  grep -E "warning:|scan-build:" "$DIR/scan.log"
  echo "scan-build: reports in $DIR/reports (scan-view to browse)" >&2
  exit 1
}
grep -E "scan-build: (Analysis run complete|No bugs found)" "$DIR/scan.log"
