#!/usr/bin/env bash
# Builds the two configurations the tests use:
#   build/       optimised with debug info (what gets installed and benchmarked)
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer with clang, plus coverage (the
#                tests that run on it give the coverage report: scripts/coverage.py; fresh
#                .gcda files after each link: tests/meson.build). clang, as
#                gcc's separate libubsan ignores log_path next to libasan, and the shim daemon's
#                reports must go to files (its stderr is /dev/null).
#   build-fuzz/  clang libFuzzer targets (with ASan/UBSan)
set -euo pipefail
cd "$(dirname "$0")/.."

setup() { # dir, args...
  local dir=$1; shift
  if [ -n "${CC:-}" ] && [ -f "$dir/build.ninja" ] &&
     ! grep -qx " command = $CC .*" "$dir/build.ninja"; then
    rm -rf "$dir" # made by an older build.sh with another compiler
  fi
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null
  else # a dir made by an older build.sh: bring its options up to date (no-op when they are)
    meson configure "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir" >"$dir/last-build.log" 2>&1 || { cat "$dir/last-build.log"; return 1; }
}

# With arguments, only the named configurations (e.g. `scripts/build.sh build` for the demo).
want() { [ ${#WANT[@]} -eq 0 ] || [[ " ${WANT[*]} " == *" $1 "* ]]; }
WANT=("$@")
want build && setup build
want build-asan && CC=clang setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
  -Dbuildtype=debug -Db_coverage=true
want build-fuzz && CC=clang setup build-fuzz -Dfuzzers=true -Db_sanitize=address,undefined \
  -Db_lundef=false -Dbuildtype=debug
echo "build: ${*:-build build-asan build-fuzz} up to date"
