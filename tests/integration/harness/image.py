"""Deterministic OCI test image built from Debian's static busybox (scripts/oci_image.py)."""
import hashlib
import io
import os
import pathlib
import sys
import tarfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "scripts"))
from oci_image import busybox_layer, oci_blobs, write_oci_archive  # noqa: E402

IMAGE_REF = "docker.io/reaper/test:1"
DEFAULT_CMD = ["/bin/sleep", "infinity"]


def extract_rootfs(layer, dest):
    """Unpack a layer into a plain directory (for `ctr run --rootfs`)."""
    dest = pathlib.Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        tar.extractall(dest, numeric_owner=True)
    return dest


class TestImage:
    """Artifacts of the busybox test image: OCI tarball, plain rootfs, reference name."""

    __test__ = False  # not a pytest class

    def __init__(self, workdir, ref=IMAGE_REF):
        workdir = pathlib.Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.ref = ref
        layer = busybox_layer()
        blobs, index = oci_blobs([layer], ref, cmd=DEFAULT_CMD)
        self.tar = write_oci_archive(workdir / "test-image.oci.tar", blobs, index)
        self.rootfs = extract_rootfs(layer, workdir / "rootfs")
        self.digest = "sha256:" + hashlib.sha256(self.tar.read_bytes()).hexdigest()


def build_test_image(workdir):
    return TestImage(workdir)


if __name__ == "__main__":  # python3 -m harness.image <dir>: build and print the paths
    import sys
    img = build_test_image(sys.argv[1] if len(sys.argv) > 1 else os.getcwd())
    print(img.tar, img.rootfs, img.digest)
