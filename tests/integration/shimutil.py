"""Helpers shared by the shim tests: ctr runs on the reaper runtime, raw ttrpc frames.
(/proc, mount table and waits: harness.procs, harness.mounts, harness.wait.)"""
import contextlib
import struct
import subprocess

REAPER = "io.containerd.reaper.v2"


def ctr_cmd(containerd, *args, namespace="default"):
    return ["ctr", "-a", containerd.address, "-n", namespace, *map(str, args)]


def ctr_run(containerd, image, cid, *cmd, extra=(), timeout=30, binary=False):
    """`ctr run --rm` on the Reaper runtime; returns the CompletedProcess."""
    argv = ctr_cmd(containerd, "run", "--rm", "--runtime", REAPER, *extra, "--rootfs",
                   image.rootfs, cid, *cmd)
    return subprocess.run(argv, capture_output=True, text=not binary, env=containerd.env(),
                          timeout=timeout)


def ctr_run_detached(containerd, image, cid, *cmd):
    argv = ctr_cmd(containerd, "run", "-d", "--runtime", REAPER, "--rootfs", image.rootfs, cid,
                   *cmd)
    subprocess.run(argv, check=True, capture_output=True, env=containerd.env(), timeout=30)
    return task_pid(containerd, cid)


@contextlib.contextmanager
def detached_task(containerd, image, cid, *cmd):
    """A task running for the with-block (yields its pid), killed and removed afterwards."""
    pid = ctr_run_detached(containerd, image, cid, *cmd)
    try:
        yield pid
    finally:
        remove_task(containerd, cid)


def _task_row(containerd, cid):
    """cid's row of `ctr task ls` ([id, pid, status]), or None."""
    out = containerd.ctr("task", "ls", check=True).stdout
    return next((f for f in (line.split() for line in out.splitlines()[1:]) if f and f[0] == cid),
                None)


def task_pid(containerd, cid):
    row = _task_row(containerd, cid)
    assert row, f"task {cid} not listed"
    return int(row[1])


def task_status(containerd, cid):
    row = _task_row(containerd, cid)
    return row[2] if row else None


def remove_task(containerd, cid):
    containerd.ctr("task", "kill", "-s", "SIGKILL", "-a", cid)
    containerd.ctr("task", "delete", "-f", cid)
    containerd.ctr("container", "rm", cid)


# ---- raw ttrpc (the wire format in notes/containerd-shim-protocol.md): header, Request ----
def frame(length, stream, mtype=1, flags=0):
    return struct.pack(">IIBB", length, stream, mtype, flags)


def read_frame(s):
    hdr = b""
    while len(hdr) < 10:
        chunk = s.recv(10 - len(hdr))
        if not chunk:
            return None
        hdr += chunk
    length, stream, mtype, _ = struct.unpack(">IIBB", hdr)
    body = b""
    while len(body) < length:
        chunk = s.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return stream, mtype, body


def status_code(body):
    """Response{status=1 Status{code=1}}: enough protobuf decoding for the status code."""
    if not body or body[0] != 0x0a:  # field 1, length-delimited
        return 0
    inner = body[2:2 + body[1]]
    return inner[1] if inner[:1] == b"\x08" else 0


def _varint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def ld(field, data):
    """A length-delimited protobuf field."""
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def request(service, method, payload=b"", namespace=None):
    """ttrpc Request; namespace adds the containerd-namespace metadata containerd sends."""
    body = ld(1, service.encode()) + ld(2, method.encode()) + ld(3, payload)
    if namespace:
        body += ld(5, ld(1, b"containerd-namespace") + ld(2, namespace.encode()))
    return body


def vi(field, n):
    """A varint protobuf field."""
    return _varint(field << 3) + _varint(n)


def pb_fields(data):
    """{field number: value} of a flat protobuf message (varints as int, the rest as bytes)."""
    out, i = {}, 0
    while i < len(data):
        key, i = _read_varint(data, i)
        if key & 7 == 0:
            out[key >> 3], i = _read_varint(data, i)
        else:  # length-delimited
            n, i = _read_varint(data, i)
            out[key >> 3], i = data[i:i + n], i + n
    return out


def _read_varint(data, i):
    n = shift = 0
    while True:
        b = data[i]
        n |= (b & 0x7f) << shift
        i, shift = i + 1, shift + 7
        if not b & 0x80:
            return n, i


def call(sock, stream, method, payload, namespace="default"):
    """One ttrpc call of containerd.task.v2.Task.<method>: (status code, response payload)."""
    body = request("containerd.task.v2.Task", method, payload, namespace)
    sock.sendall(frame(len(body), stream) + body)
    sid, _, resp = read_frame(sock)
    assert sid == stream
    fields = pb_fields(resp)
    return status_code(resp), fields.get(2, b"")
