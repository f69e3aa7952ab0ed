#!/bin/sh
# Register (or with --undo, unregister) the Reaper runtime handler in a containerd config.
#
#   configure-containerd.sh [--config PATH] [--undo] [--layout 1|2|3] [--runtime-name NAME]
#
# The runtime goes into one block between marker comments at the end of the file; nothing else
# in the file is touched. Running it again with the same inputs changes nothing. Before every
# change the previous file is kept as PATH.reaper-backup; the new file replaces the old one with
# a rename, so containerd never reads a half-written config.
# Layouts: 2 = containerd 1.6/1.7 (`version = 2`), 3 = containerd 2.x (`version = 3`), 1 = the old
# unversioned layout (plugins.cri). The layout is read from the file's `version` line; for a
# missing or empty file it follows `containerd --version` (2.x → 3, else 2).
# POSIX sh on purpose: the node installer image runs it with busybox.
# Prints one line saying what it did; exits 1 with a message naming the problem otherwise.
set -eu

CONFIG=/etc/containerd/config.toml
UNDO=0
BACKUP=
LAYOUT=
NAME=reaper-v2
BEGIN_MARK='# BEGIN reaper runtime (managed by configure-containerd.sh; do not edit)'
END_MARK='# END reaper runtime'

die() {
  echo "configure-containerd: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
  --config) [ $# -ge 2 ] || die "--config needs a path"; CONFIG=$2; shift 2 ;;
  --undo) UNDO=1; shift ;;
  --layout) [ $# -ge 2 ] || die "--layout needs 1, 2 or 3"; LAYOUT=$2; shift 2 ;;
  --runtime-name) [ $# -ge 2 ] || die "--runtime-name needs a name"; NAME=$2; shift 2 ;;
  -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
  *) die "unknown argument '$1' (see --help)" ;;
  esac
done
case "$NAME" in
'' | *[!a-z0-9-]*) die "runtime name '$NAME' must be a DNS label (a-z, 0-9, -)" ;;
esac

# The `version = N` of an existing config, empty when the file has none.
file_version() {
  [ -s "$CONFIG" ] || return 0
  sed -n 's/^[[:space:]]*version[[:space:]]*=[[:space:]]*\([0-9][0-9]*\)[[:space:]]*\(#.*\)\{0,1\}$/\1/p' \
    "$CONFIG" | head -n 1
}

detect_layout() {
  v=$(file_version)
  if [ -n "$v" ]; then
    echo "$v"
  elif [ -s "$CONFIG" ] && grep -q '^[[:space:]]*\[' "$CONFIG"; then
    echo 1 # an unversioned, non-empty config is read by containerd 1.x as version 1
  elif command -v containerd >/dev/null 2>&1 &&
    containerd --version 2>/dev/null | grep -q ' v\{0,1\}2\.'; then
    echo 3
  else
    echo 2
  fi
}

# The managed block for layout $1.
block() {
  case "$1" in
  1) table="plugins.cri.containerd.runtimes.$NAME" mode='sandbox_mode = "podsandbox"' ;;
  2) table="plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.$NAME"
     mode='sandbox_mode = "podsandbox"' ;;
  3) table="plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.$NAME"
     mode='sandboxer = "podsandbox"' ;;
  *) die "unsupported containerd config layout '$1' (expected 1, 2 or 3)" ;;
  esac
  printf '%s\n[%s]\n  runtime_type = "io.containerd.reaper.v2"\n  %s\n' "$BEGIN_MARK" "$table" "$mode"
  printf '  pod_annotations = ["reaper.runtime/*"]\n  container_annotations = ["reaper.runtime/*"]\n'
  printf '%s\n' "$END_MARK"
}

# The file without the managed block (and without the blank line the script put before it).
without_block() {
  [ -f "$CONFIG" ] || return 0
  awk -v b="$BEGIN_MARK" -v e="$END_MARK" '
    $0 == b { skip = 1; held = 0; next }
    skip { if ($0 == e) skip = 0; next }
    held { print ""; held = 0 }
    /^$/ { held = 1; next }
    { print }
    END { if (held) print "" }' "$CONFIG"
}

# A table for this runtime that someone else wrote: refuse rather than make a duplicate table.
check_unmanaged() {
  line=$(without_block | grep -n "^[[:space:]]*\[.*runtimes\.[\"']\{0,1\}$NAME[\"']\{0,1\}[[:space:]]*\]" |
    head -n 1 | cut -d: -f1) || true
  [ -z "$line" ] || die "$CONFIG already defines runtime '$NAME' outside the managed block" \
    "(line $line of the file without it); remove that table, then run this again"
}

# Replace $CONFIG by the content of $1 atomically, keeping a backup and the file mode.
install_file() {
  if [ -f "$CONFIG" ] && cmp -s "$1" "$CONFIG"; then
    rm -f "$1"
    return 1
  fi
  if [ -f "$CONFIG" ]; then
    cp -p "$CONFIG" "$CONFIG.reaper-backup"
    chmod "$(stat -c %a "$CONFIG")" "$1"
    BACKUP=" (previous file kept as $CONFIG.reaper-backup)"
  else
    chmod 0644 "$1"
  fi
  mv -f "$1" "$CONFIG"
}

main() {
  dir=$(dirname "$CONFIG")
  [ -d "$dir" ] || mkdir -p "$dir" || die "cannot create $dir"
  [ ! -e "$CONFIG" ] || [ -f "$CONFIG" ] || die "$CONFIG is not a regular file"
  tmp=$(mktemp "$dir/.config.toml.reaper.XXXXXX") || die "cannot write in $dir"
  trap 'rm -f "$tmp"' EXIT
  if [ "$UNDO" = 1 ]; then
    [ -f "$CONFIG" ] || { echo "configure-containerd: $CONFIG does not exist; nothing to undo"; return; }
    without_block >"$tmp"
    if install_file "$tmp"; then
      echo "configure-containerd: removed runtime '$NAME' from $CONFIG$BACKUP"
    else
      echo "configure-containerd: $CONFIG has no Reaper runtime; unchanged"
    fi
    return
  fi
  layout=${LAYOUT:-$(detect_layout)}
  check_unmanaged
  {
    if [ -s "$CONFIG" ]; then
      without_block
      echo
    elif [ "$layout" != 1 ]; then
      printf 'version = %s\n\n' "$layout"
    fi
    block "$layout"
  } >"$tmp"
  if install_file "$tmp"; then
    echo "configure-containerd: registered runtime '$NAME' (layout $layout) in $CONFIG$BACKUP;" \
      "restart containerd to apply"
  else
    echo "configure-containerd: runtime '$NAME' already registered in $CONFIG; unchanged"
  fi
}

main
