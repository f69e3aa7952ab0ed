"""The mount table as this process sees it (/proc/self/mountinfo), for assertions scoped to a
test's own directories and for teardown. Other work on the machine mounts and unmounts
concurrently: ask for what is under a path the test created, never for the whole table."""
import pathlib
import re
import subprocess

_OCTAL = re.compile(r"\\([0-7]{3})")


def unescape(field):
    """mountinfo writes space, tab, newline and backslash in paths as \\040 \\011 \\012 \\134."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def mount_table(pid="self"):
    """[(mount point, the mountinfo line's fields)], in mount order, as process pid sees it."""
    text = pathlib.Path(f"/proc/{pid}/mountinfo").read_bytes().decode(errors="surrogateescape")
    return [(unescape(f[4]), f) for f in (line.split(" ") for line in text.splitlines())]


def mountpoints():
    return [mp for mp, _ in mount_table()]


def is_under(mp, *roots):
    """mp is one of roots or below one of them."""
    return any(mp == r or mp.startswith(r + "/") for r in (str(r).rstrip("/") for r in roots))


def mounts_under(*roots):
    """Mount points at or below any of roots (paths the test owns), in mount order."""
    return [mp for mp in mountpoints() if is_under(mp, *roots)]


def unmount_under(*roots):
    """Lazily unmount everything at or below roots, deepest first."""
    for mp in sorted(set(mounts_under(*roots)), key=lambda p: p.count("/"), reverse=True):
        subprocess.run(["umount", "-l", mp], capture_output=True)
