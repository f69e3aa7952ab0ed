#!/usr/bin/env bash
# Installs every Debian 12 package Reaper needs to build, test and demo.
# Idempotent: packages already present are skipped; runs as root.
set -euo pipefail

PKGS=(
  # build
  build-essential meson ninja-build pkg-config clang clang-format libclang-rt-14-dev
  protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
  libjansson-dev libcurl4-openssl-dev libyaml-dev libmicrohttpd-dev libcmocka-dev
  # runtime peers and tools the tests drive
  containerd runc crun criu util-linux iproute2 procps psmisc kmod file
  busybox-static  # /bin/busybox: the only binary in the test image (tests/integration/harness)
  # integration tests (Debian's python, not a pyenv one)
  python3 python3-pytest python3-grpcio python3-protobuf python3-jsonschema python3-yaml
  prometheus  # promtool checks the agent's /metrics (the server itself is not started)
  gcovr llvm-14 clang-tools  # coverage (llvm-cov gcov), scan-build: scripts/{coverage.py,scan-build.sh}
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
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
echo "install-deps: done"
