"""Deterministic OCI image archives (image layout tarballs), no daemon and no registry.

The same inputs give the same bytes on every run (fixed mtimes, owners and ordering), so image
digests are reproducible. Used by scripts/build_images.py (the node installer, controller and
agent images) and by the test harness (busybox test image).
"""
import hashlib
import io
import json
import pathlib
import platform
import subprocess
import tarfile

BUSYBOX = pathlib.Path("/bin/busybox")
MTIME = 0  # every tar entry carries this mtime, owner 0:0

# A small /etc so run_as_user / id / ls -l have names to show.
ETC_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/hosts": "127.0.0.1 localhost\n",
}
DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "proc": 0o755, "root": 0o700, "sys": 0o755,
        "tmp": 0o1777, "usr": 0o755, "usr/bin": 0o755, "var": 0o755}


def _info(name, kind, mode, size=0, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.size, ti.linkname = kind, mode, size, linkname
    ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = MTIME, 0, 0, "", ""
    return ti


def busybox_applets(busybox=BUSYBOX):
    out = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True)
    return sorted(a for a in out.stdout.split() if a and a != "busybox")


def layer_tar(files, dirs=None, symlinks=None):
    """Uncompressed, deterministic layer tar.

    files: {path: bytes | pathlib.Path (copied, mode kept)}; dirs: {path: mode};
    symlinks: {path: target}. Paths are relative ("bin/sh"). Entries are sorted by path.
    """
    entries = {}
    for d, mode in (dirs or {}).items():
        entries[d] = ("d", mode, None)
    for f, data in files.items():
        if isinstance(data, pathlib.Path):
            entries[f] = ("f", data.stat().st_mode & 0o7777, data.read_bytes())
        else:
            entries[f] = ("f", 0o644, data if isinstance(data, bytes) else data.encode())
    for s, target in (symlinks or {}).items():
        entries[s] = ("l", 0o777, target)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            kind, mode, payload = entries[name]
            if kind == "d":
                tar.addfile(_info(name + "/", tarfile.DIRTYPE, mode))
            elif kind == "l":
                tar.addfile(_info(name, tarfile.SYMTYPE, mode, linkname=payload))
            else:
                tar.addfile(_info(name, tarfile.REGTYPE, mode, len(payload)), io.BytesIO(payload))
    return buf.getvalue()


def _blob(blobs, data):
    digest = hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return "sha256:" + digest


def _json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _arch():
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def oci_blobs(layers, ref, cmd=None, entrypoint=None, env=None, user=None):
    """Build the blobs of a single-manifest image. Returns (blobs, index_json_bytes)."""
    blobs = {}
    config = {
        "architecture": _arch(), "os": "linux",
        "config": {"Env": env or ["PATH=/usr/bin:/bin"], "WorkingDir": "/"},
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]},
    }
    if cmd:
        config["config"]["Cmd"] = cmd
    if entrypoint:
        config["config"]["Entrypoint"] = entrypoint
    if user:
        config["config"]["User"] = user
    cfg = _json(config)
    manifest = _json({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _blob(blobs, cfg), "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": _blob(blobs, l), "size": len(l)} for l in layers],
    })
    index = _json({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": _blob(blobs, manifest), "size": len(manifest),
                       "annotations": {"org.opencontainers.image.ref.name": ref},
                       "platform": {"architecture": _arch(), "os": "linux"}}],
    })
    return blobs, index


def write_oci_archive(path, blobs, index):
    """OCI image layout (oci-layout, index.json, blobs/sha256/*) as one deterministic tarball."""
    files = {"oci-layout": _json({"imageLayoutVersion": "1.0.0"}), "index.json": index}
    files.update({f"blobs/sha256/{d}": data for d, data in blobs.items()})
    dirs = {"blobs": 0o755, "blobs/sha256": 0o755}
    pathlib.Path(path).write_bytes(layer_tar(files, dirs))
    return pathlib.Path(path)


def busybox_layer(busybox=BUSYBOX):
    symlinks = {f"bin/{a}": "busybox" for a in busybox_applets(busybox)}
    files = {"bin/busybox": pathlib.Path(busybox), **ETC_FILES}
    return layer_tar(files, DIRS, symlinks)
