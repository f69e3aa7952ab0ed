#!/usr/bin/env bash
# Installs every Debian 12 package Reaper needs to build, test and demo.
# Idempotent: packages already present are skipped; runs as root.
set -euo pipefail

PKGS=(
  # build
  build-essential meson ninja-build pkg-config clang clang-format libclang-rt-14-dev
  protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
  libjansson-dev libcurl4-openssl-dev libyaml-dev libmicrohttpd-dev libcmocka-dev libseccomp-dev
  # runtime peers and tools the tests drive
  containerd runc crun criu util-linux iproute2 procps psmisc kmod file
  busybox-static  # /bin/busybox: the only binary in the test image (tests/integration/harness)
  # integration tests (Debian's python, not a pyenv one)
  python3 python3-pytest python3-grpcio python3-protobuf python3-jsonschema python3-yaml
  prometheus  # promtool checks the agent's /metrics (the server itself is not started)
  curl jq ansible-core  # what examples 05, 20 and 22 run on the node (tests/integration/test_examples.py)
  nodejs  # tests/cel: the admission policy's CEL evaluated by a real CEL implementation
  gcovr llvm-14 clang-tools  # coverage (llvm-cov gcov), scan-build: scripts/{coverage.py,scan-build.sh}
)

# tests/cel's npm packages (exact versions, package-lock.json), into tests/cel/node_modules.
npm_deps() {
  local dir=tests/cel
  # The stamp is the lock file npm ci last installed: nothing to do while it is unchanged.
  cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-lock.json" 2>/dev/null && return 0
  echo "install-deps: npm ci in $dir"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
  cp "$dir/package-lock.json" "$dir/node_modules/.installed-lock.json"
}

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

cd "$(dirname "$0")/.."
# nodejs from some repositories bundles npm (and conflicts with Debian's npm package).
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  npm_deps
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian containerd package starts a system daemon; Reaper's tests never use it.
# Leave it as the admin configured it: we only need the binaries.
npm_deps
echo "install-deps: done"
