#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds every configuration, runs unit tests
# (plain and ASan/UBSan), every fuzzer briefly, and the integration tests as root.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3   # Debian's python, where python3-pytest and python3-grpcio live
FUZZ_SECONDS=${FUZZ_SECONDS:-10}

scripts/install-deps.sh || exit 1
scripts/build.sh || exit 1

passed=0; failed=0
step() { # name, command...
  local name=$1; shift
  echo "=== $name"
  if "$@"; then passed=$((passed + 1)); echo "--- ok: $name"
  else failed=$((failed + 1)); echo "--- FAILED: $name"; fi
}

step "format (clang-format)" scripts/check-format.sh
step "unit tests" meson test -C build --suite unit --print-errorlogs
step "unit tests (asan+ubsan)" meson test -C build-asan --suite unit --print-errorlogs

run_fuzzers() {
  local rc=0
  for f in build-fuzz/tests/fuzz/fuzz_*; do
    [ -f "$f" ] && [ -x "$f" ] || continue  # skip the fuzz_*.p object dirs
    local name=${f##*/fuzz_}
    local corpus=$(mktemp -d)
    cp tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
    echo "fuzz $name for ${FUZZ_SECONDS}s"
    "$f" -max_total_time="$FUZZ_SECONDS" -print_final_stats=0 "$corpus" >"$corpus.log" 2>&1 \
      || { rc=1; tail -40 "$corpus.log"; }
    rm -rf "$corpus" "$corpus.log"
  done
  return $rc
}
step "fuzzers" run_fuzzers

if [ "$(id -u)" -ne 0 ]; then
  echo "integration tests need root; refusing to report them as passed" >&2
  failed=$((failed + 1))
else
  step "integration tests" env REAPER_BUILD="$ROOT/build" \
    $PY -m pytest -q -p no:cacheprovider tests/integration
  step "runtime integration tests (asan+ubsan)" env REAPER_BUILD="$ROOT/build-asan" \
    $PY -m pytest -q -p no:cacheprovider -m runtime tests/integration
  step "controller and agent integration tests (asan+ubsan)" env REAPER_BUILD="$ROOT/build-asan" \
    $PY -m pytest -q -p no:cacheprovider -m "controller or (agent and not shim)" tests/integration
fi

echo
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
