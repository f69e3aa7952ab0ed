"""/proc helpers: process state, our process tree, the shims of one containerd and the sockets
they hold. Assertions use them on pids the test started or owns, never on the whole table."""
import os
import pathlib
import select
import signal
import time

REAPER_SHIM = b"containerd-shim-reaper-v2"


def cmdline(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def _stat_fields(pid):
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...), or None."""
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def proc_state(pid):
    """The state letter of /proc/<pid>/stat, or None if gone."""
    f = _stat_fields(pid)
    return f[0] if f else None


def alive(pid):
    """Running or sleeping; a zombie counts as gone (it has exited, only the reaping is left)."""
    return proc_state(pid) not in (None, "Z")


class Watched:
    """A process the test holds a pidfd to: exited() stays right after the pid has been reaped
    and reused by other work on the machine (a bare pid does not)."""

    def __init__(self, pid):
        self.pid = pid
        self.fd = os.pidfd_open(pid)

    def exited(self):
        """True once the process has terminated (zombie or reaped)."""
        p = select.poll()
        p.register(self.fd, select.POLLIN)
        return bool(p.poll(0))

    def __del__(self):
        os.close(self.fd)

    def __repr__(self):
        return f"Watched({self.pid})"


def descendants(pid):
    """All live descendants of pid (via the ppid of every /proc/<n>/stat)."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit() and (f := _stat_fields(d)):
            children.setdefault(int(f[1]), []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _ppid(pid):
    f = _stat_fields(pid)
    try:
        return int(f[1]) if f else 0
    except ValueError:
        return 0


def shims_for_address(address, binary=b"containerd-shim"):
    """Pids of shim processes (argv[0] containing `binary`) whose command line names `address`:
    the shims of one containerd. A shim's child that has not exec'd yet (a workload; with a
    coverage build it writes its counts just before exec) still shows the shim's command line:
    it is left out."""
    addr = address.encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        argv = cmdline(entry)
        if argv and binary in os.path.basename(argv[0]) and any(addr in a for a in argv):
            pids.append(int(entry))
    return [p for p in pids if _ppid(p) not in pids]


def kill_all(pids, grace=3.0):
    """SIGTERM, then SIGKILL after `grace` seconds (test-side bounded wait)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = [p for p in pids if alive(p)]
        if not pids:
            return


def _socket_inodes(pid):
    try:
        fds = pathlib.Path(f"/proc/{pid}/fd")
        links = [os.readlink(fds / fd) for fd in os.listdir(fds)]
    except OSError:
        return set()
    return {link[8:-1] for link in links if link.startswith("socket:[")}


def _unix_socket_paths():
    """{inode: path} of the bound unix sockets in /proc/net/unix."""
    paths = {}
    for line in pathlib.Path("/proc/net/unix").read_text().splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 8 and cols[7].startswith("/"):
            paths[cols[6]] = cols[7]
    return paths


def unix_sockets_of(pids):
    """Paths of unix sockets the given processes hold (a shim's listening socket)."""
    inodes = set().union(*(_socket_inodes(p) for p in pids))
    return sorted({path for ino, path in _unix_socket_paths().items() if ino in inodes})


def socket_holder(pids, path):
    """The first of pids that holds the unix socket bound at path, else None."""
    paths = _unix_socket_paths()
    for pid in pids:
        if any(paths.get(ino) == path for ino in _socket_inodes(pid)):
            return pid
    return None


def unlink_stale(paths):
    """Remove socket files a killed shim left behind (a clean shim removes its own)."""
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


def with_environ(entry):
    """Pids of processes whose environment holds `entry` ("NAME=value"): the workloads a test
    tagged, wherever they were reparented."""
    want = entry.encode()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            env = pathlib.Path(f"/proc/{d}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if want in env:
            pids.append(int(d))
    return pids
