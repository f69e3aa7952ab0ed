#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds every configuration, runs unit tests
# (plain and ASan/UBSan), every fuzzer briefly, scan-build, and the integration tests as root;
# then the line coverage of what ran on build-asan, against floors (scripts/coverage.py).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3   # Debian's python, where python3-pytest and python3-grpcio live
FUZZ_SECONDS=${FUZZ_SECONDS:-10}

scripts/install-deps.sh || exit 1
scripts/build.sh || exit 1
find build-asan -name '*.gcda' -exec truncate -s 0 {} +  # coverage counts this run only

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
step "static analysis (scan-build)" scripts/scan-build.sh

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
  # The shims' sanitizer reports go to files the harness checks (tests/integration/conftest.py).
  # Left out: 100 runs in a row and a 200 MB log burst (80 s together under ASan, for volume
  # and timing that the plain run above covers, not for code the other tests do not reach).
  step "shim integration tests (asan+ubsan)" env REAPER_BUILD="$ROOT/build-asan" \
    $PY -m pytest -q -p no:cacheprovider -m "shim and not runc" tests/integration \
    --deselect tests/integration/test_shim_ctr.py::test_fast_true_100_times \
    --deselect tests/integration/test_shim_cri.py::test_large_log_burst_is_complete
  step "coverage (build-asan, floors per library)" $PY scripts/coverage.py build-asan
fi

echo
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
