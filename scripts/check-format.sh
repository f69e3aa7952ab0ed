#!/usr/bin/env bash
# Fails if any C file differs from clang-format's output.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
  if ! clang-format --style=file "$f" | cmp -s - "$f"; then
    echo "not clang-formatted: $f"; bad=1
  fi
done < <(git ls-files '*.c' '*.h')
exit $bad
