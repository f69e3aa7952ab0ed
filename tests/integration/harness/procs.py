"""/proc and mount-table helpers for teardown: find our shims, kill them, unmount our tree."""
import os
import pathlib
import signal
import subprocess
import time


def cmdline(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def _ppid(pid):
    try:
        return int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def shims_for_address(address):
    """Pids of containerd-shim-* processes whose command line mentions `address`. A shim's
    child that has not exec'd yet (a workload; with a coverage build it writes its counts just
    before exec, which takes a while) still shows the shim's command line: it is left out."""
    addr = address.encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        argv = cmdline(entry)
        if argv and b"containerd-shim" in os.path.basename(argv[0]) and \
                any(addr in a for a in argv):
            pids.append(int(entry))
    return [p for p in pids if _ppid(p) not in pids]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = pathlib.Path(f"/proc/{pid}/stat")
    try:  # a zombie counts as gone: it is not ours to reap
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_all(pids, grace=3.0):
    """SIGTERM, then SIGKILL after `grace` seconds (test-side bounded wait)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = [p for p in pids if _alive(p)]
        if not pids:
            return


def _unescape(path):
    # mountinfo escapes space, tab, newline and backslash as octal
    return path.encode().decode("unicode_escape").encode("latin-1").decode()


def mounts_under(root):
    root = str(root).rstrip("/")
    found = []
    for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines():
        mp = _unescape(line.split()[4])
        if mp == root or mp.startswith(root + "/"):
            found.append(mp)
    return found


def unmount_under(root):
    """Lazily unmount everything below root, deepest first."""
    for mp in sorted(set(mounts_under(root)), key=lambda p: p.count("/"), reverse=True):
        subprocess.run(["umount", "-l", mp], capture_output=True)


def unix_sockets_of(pids):
    """Paths of unix sockets the given processes hold (a shim's listening socket)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            continue
    paths = set()
    for line in pathlib.Path("/proc/net/unix").read_text().splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 8 and cols[6] in inodes and cols[7].startswith("/"):
            paths.add(cols[7])
    return sorted(paths)


def unlink_stale(paths):
    """Remove socket files a killed shim left behind (a clean shim removes its own)."""
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
