#!/usr/bin/python3
"""The main job: a private containerd with Reaper registered runs an example pod.

Everything (containerd state, sockets, logs, overlays) lives under a temp dir that is removed at
the end; the system containerd, if any, is never touched.
"""
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests/integration"))

from harness.containerd import Containerd  # noqa: E402
from harness.cri import CriClient  # noqa: E402
from harness.image import build_test_image  # noqa: E402
from harness.kubelet_lite import run_pod  # noqa: E402

import yaml  # noqa: E402

HANDLER = "reaper-v2"


def say(msg):
    print(f"\033[1m==> {msg}\033[0m", flush=True)


def show_log(cri, pod, name):
    for stream, text in cri.read_log(pod, name):
        print(f"    [{stream}] {text}")


def main():
    build = pathlib.Path(os.environ.get("REAPER_BUILD", REPO / "build"))
    work = pathlib.Path(os.environ.get("TMPDIR", "/tmp"))
    say("building the placeholder image kubelet insists on (Reaper ignores it)")
    image = build_test_image(pathlib.Path(__import__("tempfile").mkdtemp(dir=work)))
    ctd = Containerd(image, build)
    try:
        say(f"starting a private containerd under {ctd.dir} with runtime handler {HANDLER}")
        ctd.start()
        cri = CriClient(ctd.address, ctd.pods_dir, image.ref)
        manifest = REPO / "examples/01-hello.yaml"
        say(f"RunPodSandbox + CreateContainer + StartContainer, like kubelet, for {manifest.name}:")
        print("    " + manifest.read_text().replace("\n", "\n    ").rstrip())
        t0 = time.monotonic()
        pod, ids = run_pod(cri, yaml.safe_load(manifest.read_text()), workdir=ctd.dir)
        cid = ids["hello"]
        st = cri.wait_exited(cid, timeout=30)
        say(f"container exited with status {st.exit_code} "
            f"({(time.monotonic() - t0) * 1000:.0f} ms from RunPodSandbox); its log (kubectl logs):")
        cri.wait_log(pod, "hello", 2)
        show_log(cri, pod, "hello")
        say("a long-running container, and kubectl exec into it:")
        sid = cri.run_container(pod, "shell", command=["sleep", "1000"])
        r = cri.exec_sync(sid, ["/bin/sh", "-c", "echo exec: pid $$ on $(hostname) as $(id -un); "
                                "echo writes land in the overlay > /etc/reaper-demo; "
                                "cat /etc/reaper-demo"])
        for line in r.stdout.decode().splitlines():
            print(f"    {line}")
        print(f"    exit status {r.exit_code}; host /etc/reaper-demo exists: "
              f"{os.path.exists('/etc/reaper-demo')}")
        say("stopping and removing the pod")
        cri.stop_pod(pod)
        cri.remove_pod(pod)
        cri.close()
        return 0 if st.exit_code == 0 and r.exit_code == 0 else 1
    except Exception as e:  # show containerd's and the shim's view before cleaning up
        print(f"demo failed: {e}\n--- containerd log tail ---\n{ctd.log_tail()}", file=sys.stderr)
        if ctd.shim_log.exists():
            print(f"--- shim log ---\n{ctd.shim_log.read_text()[-4000:]}", file=sys.stderr)
        return 1
    finally:
        say("cleaning up (containerd stopped, temp dir removed)")
        ctd.stop()


if __name__ == "__main__":
    sys.exit(main())
