#!/usr/bin/env bash
# Builds the two configurations the tests use:
#   build/       optimised with debug info (what gets installed and benchmarked)
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer
#   build-fuzz/  clang libFuzzer targets (with ASan/UBSan)
set -euo pipefail
cd "$(dirname "$0")/.."

setup() { # dir, args...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir" >"$dir/last-build.log" 2>&1 || { cat "$dir/last-build.log"; return 1; }
}

# With arguments, only the named configurations (e.g. `scripts/build.sh build` for the demo).
want() { [ ${#WANT[@]} -eq 0 ] || [[ " ${WANT[*]} " == *" $1 "* ]]; }
WANT=("$@")
want build && setup build
want build-asan && setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
  -Dbuildtype=debug
want build-fuzz && CC=clang setup build-fuzz -Dfuzzers=true -Db_sanitize=address,undefined \
  -Db_lundef=false -Dbuildtype=debug
echo "build: ${*:-build build-asan build-fuzz} up to date"
