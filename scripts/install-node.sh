#!/bin/sh
# Node installer: the reaper-node image runs this as the init container of the node DaemonSet.
# It puts the Reaper node binaries and /etc/reaper/reaper.conf on the host and (optionally)
# registers the runtime in containerd, then restarts containerd only if its config changed.
# With --uninstall (deploy/uninstall): the reverse, the containerd entry removed (when
# CONFIGURE_CONTAINERD) and the binaries and reaper.conf deleted; the node label is removed by
# the step after it (reaper-agent --remove-label), as install's is written by reaper-agent --once.
#
# Safe to re-run and to upgrade in place: a file is replaced by a rename in its directory,
# never rewritten, so running shims keep executing their old binary (no ETXTBSY, no torn file)
# and new pods get the new one. Nothing is touched when the content is already right.
#
# Environment (the DaemonSet sets these from Helm values):
#   HOST_ROOT=/host                 where the host's directories are mounted
#   BIN_DIR=/usr/local/bin          host directory for the binaries (containerd searches PATH)
#   SOURCE_DIR=/opt/reaper/bin      binaries inside the image
#   REAPER_CONF_SOURCE=/config/reaper.conf   ConfigMap file; absent = keep the host's file
#   CONFIGURE_CONTAINERD=true       register the runtime with configure-containerd.sh
#   CONTAINERD_CONFIG=/etc/containerd/config.toml   host path of containerd's config
#   RUNTIME_NAME=reaper-v2          the containerd runtime handler (the RuntimeClass's handler)
#   RESTART_CONTAINERD=true         restart containerd when its config changed
#   CONTAINERD_RESTART_CMD=...      default: systemctl in the host's namespaces (needs hostPID)
#   HOST_EXEC="nsenter -t 1 -m --"  runs a host binary in the host's mount namespace (hostPID)
set -eu

HOST_ROOT=${HOST_ROOT:-/host}
BIN_DIR=${BIN_DIR:-/usr/local/bin}
SOURCE_DIR=${SOURCE_DIR:-/opt/reaper/bin}
REAPER_CONF_SOURCE=${REAPER_CONF_SOURCE:-/config/reaper.conf}
CONFIGURE_CONTAINERD=${CONFIGURE_CONTAINERD:-true}
CONTAINERD_CONFIG=${CONTAINERD_CONFIG:-/etc/containerd/config.toml}
RUNTIME_NAME=${RUNTIME_NAME:-reaper-v2}
RESTART_CONTAINERD=${RESTART_CONTAINERD:-true}
CONTAINERD_RESTART_CMD=${CONTAINERD_RESTART_CMD:-nsenter -t 1 -m -u -i -n -p -- systemctl restart containerd}
HOST_EXEC=${HOST_EXEC:-nsenter -t 1 -m --}
HERE=$(dirname "$0")
BINARIES="containerd-shim-reaper-v2 reaper-runtime"

log() { echo "install-node: $*"; }
die() {
  echo "install-node: error: $*" >&2
  exit 1
}

is_true() {
  case "$1" in
  true | 1 | yes) return 0 ;;
  false | 0 | no | '') return 1 ;;
  *) die "'$1' is not a boolean (true/false)" ;;
  esac
}

# Copy $1 to $2 through a temp file and a rename in $2's directory; mode $3.
# Returns 1 when $2 already has the same bytes.
place() {
  if [ -f "$2" ] && cmp -s "$1" "$2"; then
    return 1
  fi
  dir=$(dirname "$2")
  mkdir -p "$dir" || die "cannot create $dir"
  tmp="$dir/.$(basename "$2").reaper-new"
  cp "$1" "$tmp" && chmod "$3" "$tmp" && mv -f "$tmp" "$2" || {
    rm -f "$tmp"
    die "cannot install $2"
  }
}

install_binaries() {
  for b in $BINARIES; do
    [ -x "$SOURCE_DIR/$b" ] || die "$SOURCE_DIR/$b is missing from the image"
  done
  # Prove the binaries run on this node before anything on the host changes.
  "$SOURCE_DIR/reaper-runtime" --version >/dev/null 2>&1 ||
    die "$SOURCE_DIR/reaper-runtime does not run here (wrong architecture or C library?)"
  for b in $BINARIES; do
    if place "$SOURCE_DIR/$b" "$HOST_ROOT$BIN_DIR/$b" 0755; then
      log "installed $BIN_DIR/$b"
    else
      log "$BIN_DIR/$b is up to date"
    fi
  done
}

install_config() {
  if [ ! -f "$REAPER_CONF_SOURCE" ]; then
    log "no $REAPER_CONF_SOURCE; keeping the node's /etc/reaper/reaper.conf"
    return
  fi
  if place "$REAPER_CONF_SOURCE" "$HOST_ROOT/etc/reaper/reaper.conf" 0644; then
    log "wrote /etc/reaper/reaper.conf"
  else
    log "/etc/reaper/reaper.conf is up to date"
  fi
}

# $1: "" to register the runtime, --undo to remove it.
configure_containerd() {
  is_true "$CONFIGURE_CONTAINERD" || {
    log "containerd configuration left to the operator (CONFIGURE_CONTAINERD=false)"
    return
  }
  cfg="$HOST_ROOT$CONTAINERD_CONFIG"
  before=none
  [ ! -f "$cfg" ] || before=$(sha256sum <"$cfg")
  sh "$HERE/configure-containerd.sh" --config "$cfg" --runtime-name "$RUNTIME_NAME" ${1:+"$1"}
  after=none
  [ ! -f "$cfg" ] || after=$(sha256sum <"$cfg")
  [ "$before" != "$after" ] || return 0
  if is_true "$RESTART_CONTAINERD"; then
    # Shims and workloads are separate processes: they survive a containerd restart.
    log "restarting containerd: $CONTAINERD_RESTART_CMD"
    sh -c "$CONTAINERD_RESTART_CMD" || die "containerd restart failed: $CONTAINERD_RESTART_CMD"
  else
    log "containerd config changed; restart containerd to apply (RESTART_CONTAINERD=false)"
  fi
}

# The runtime root (/run/reaper) as a shared mount point of its own: reaper-agent mounts it with
# Bidirectional propagation, which kubelet refuses on nodes whose / is not shared (no systemd).
# The runtime also does this on first use; doing it now lets the agent start before any pod.
share_runtime_root() {
  # shellcheck disable=SC2086 # HOST_EXEC is a command line
  if out=$($HOST_EXEC "$BIN_DIR/reaper-runtime" setup-root 2>&1); then
    log "$out"
  else
    log "warning: the runtime root is not a shared mount point yet (reaper-agent needs one" \
      "on nodes whose / is not shared; the runtime retries on first use): $out"
  fi
}

# Running shims keep their binary (unlinked, not rewritten); /run/reaper and its overlays stay
# until the workloads are gone (tmpfs: a reboot clears it).
uninstall() {
  configure_containerd --undo
  for f in $BINARIES; do
    remove "$BIN_DIR/$f"
  done
  remove /etc/reaper/reaper.conf
  log "uninstalled; remove /run/reaper once no Reaper pod is left on this node"
}

remove() {
  if [ -e "$HOST_ROOT$1" ]; then
    rm -f "$HOST_ROOT$1" || die "cannot remove $1"
    log "removed $1"
  else
    log "$1 is already gone"
  fi
}

[ -d "$HOST_ROOT" ] || die "host root $HOST_ROOT is not mounted"
case "${1:-}" in
--uninstall)
  uninstall
  exit 0
  ;;
'') ;;
*) die "unknown argument '$1' (none, or --uninstall)" ;;
esac
install_binaries
install_config
configure_containerd
share_runtime_root
log "done: $("$SOURCE_DIR/reaper-runtime" --version 2>&1 | head -n 1)"
