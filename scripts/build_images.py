#!/usr/bin/env python3
"""Build Reaper's images as OCI archives, without a container engine or a registry.

  python3 scripts/build_images.py [--out DIR] [--build DIR] [--repository PREFIX] [--tag TAG]

Images (scratch-based; each carries only its binaries, the shared libraries they load and, for
the node installer, busybox for its shell scripts):
  reaper-node        node installer: binaries + scripts/install-node.sh (DaemonSet init container)
  reaper-controller  reaper-controller, runs as 65532
  reaper-agent       reaper-agent (node DaemonSet; also runs the node's reaper-runtime --version)
Output: DIR/<name>.oci.tar (load with `ctr -n k8s.io images import`, or push with
`skopeo copy oci-archive:DIR/<name>.oci.tar docker://REGISTRY/<name>:TAG`). Prints
"<ref> <archive> <sha256 of the archive>" per image. Same inputs → same bytes.
"""
import argparse
import hashlib
import pathlib
import re
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from oci_image import busybox_layer, layer_tar, oci_blobs, write_oci_archive  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
NODE_BINARIES = ["src/shim/containerd-shim-reaper-v2", "src/runtime/reaper-runtime"]
# image name → (binaries from the build dir, entrypoint, user)
SERVICE_IMAGES = {
    "reaper-controller": (["src/controller/reaper-controller"], "/usr/local/bin/reaper-controller",
                          "65532:65532"),
    # root: it unmounts overlay namespaces and removes their data on the node
    "reaper-agent": (["src/agent/reaper-agent"], "/usr/local/bin/reaper-agent", None),
}
PATH_ENV = ["PATH=/usr/local/bin:/usr/bin:/bin"]


def project_version():
    text = (REPO / "meson.build").read_text()
    return re.search(r"version\s*:\s*'([^']+)'", text).group(1)


def shared_libs(binary):
    """The shared objects `binary` loads (ldd), including the dynamic loader."""
    res = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    if "statically linked" in res.stdout or "not a dynamic executable" in res.stderr:
        return set()
    if res.returncode != 0:
        sys.exit(f"build_images: ldd {binary}: {res.stderr.strip()}")
    out = res.stdout
    libs = set()
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            libs.add(pathlib.Path(m.group(1)))
    return libs


def lib_files(binaries):
    """{image path: host file} for every library (resolved) at the path the loader asks for."""
    files = {}
    for lib in sorted({lib for b in binaries for lib in shared_libs(b)}):
        files[str(lib).lstrip("/")] = lib.resolve()
    return files


def dirs_for(paths):
    dirs = {}
    for p in paths:
        parent = pathlib.PurePosixPath(p).parent
        while str(parent) not in (".", ""):
            dirs[str(parent)] = 0o755
            parent = parent.parent
    return dirs


def files_layer(files):
    return layer_tar(files, dirs_for(files))


def node_image(build, ref):
    bins = [build / b for b in NODE_BINARIES]
    files = {f"opt/reaper/bin/{b.name}": b for b in bins}
    for script in ("install-node.sh", "configure-containerd.sh"):
        files[f"opt/reaper/{script}"] = REPO / "scripts" / script
    files.update(lib_files(bins))
    layers = [busybox_layer(), files_layer(files)]
    return oci_blobs(layers, ref, entrypoint=["/bin/sh", "/opt/reaper/install-node.sh"],
                     env=PATH_ENV)


def service_image(build, ref, binaries, entrypoint, user):
    bins = [build / b for b in binaries]
    files = {f"usr/local/bin/{b.name}": b for b in bins}
    files.update(lib_files(bins))
    files["etc/passwd"] = b"root:x:0:0:root:/:/bin/false\nreaper:x:65532:65532::/:/bin/false\n"
    files["etc/group"] = b"root:x:0:\nreaper:x:65532:\n"
    dirs = {**dirs_for(files), "tmp": 0o1777}
    return oci_blobs([layer_tar(files, dirs)], ref, entrypoint=[entrypoint], env=PATH_ENV,
                     user=user)


def build_all(out, build, repository, tag):
    out.mkdir(parents=True, exist_ok=True)
    images = {"reaper-node": lambda ref: node_image(build, ref)}
    for name, (binaries, entry, user) in SERVICE_IMAGES.items():
        images[name] = (lambda b, e, u: lambda ref: service_image(build, ref, b, e, u))(
            binaries, entry, user)
    results = []
    for name, make in images.items():
        ref = f"{repository}/{name}:{tag}"
        blobs, index = make(ref)
        archive = write_oci_archive(out / f"{name}.oci.tar", blobs, index)
        results.append((ref, archive, hashlib.sha256(archive.read_bytes()).hexdigest()))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=pathlib.Path, default=REPO / "build-images")
    ap.add_argument("--build", type=pathlib.Path, default=REPO / "build-release")
    ap.add_argument("--repository", default="localhost/reaper")
    ap.add_argument("--tag", default=project_version())
    args = ap.parse_args()
    missing = [b for b in NODE_BINARIES + [x for v in SERVICE_IMAGES.values() for x in v[0]]
               if not (args.build / b).is_file()]
    if missing:
        sys.exit(f"build_images: not built in {args.build}: {', '.join(missing)} "
                 "(run scripts/build-images.sh, which builds them first)")
    for ref, archive, digest in build_all(args.out, args.build, args.repository, args.tag):
        print(ref, archive, digest)


if __name__ == "__main__":
    main()
