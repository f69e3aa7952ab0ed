"""200 pod lifecycles through CRI (the short version of bench/soak.py): every exit code, exec
result and log byte right, and nothing the lifecycles used is left behind: fds of containerd
and of the long-lived shims, mounts, state and overlay entries, bundles, shims, workload
processes, zombies, containerd's tasks, CRI pods and containers. reaper-agent --standalone
runs its state GC beside it every second."""
import pytest

from conftest import BUILD
from harness.agent import Agent
from harness.containerd import Containerd
from harness.cri import CriClient
from harness.soak import Soak, format_table, leaks

pytestmark = pytest.mark.shim

LIFECYCLES = 200
WORKERS = 4


@pytest.fixture
def own_containerd(test_image):
    """A containerd of its own: its fds and tasks are the soak's alone."""
    c = Containerd(test_image, BUILD)
    try:
        c.start()
        yield c
    finally:
        c.stop()


def test_soak_200_lifecycles_leave_nothing(own_containerd, tmp_path):
    ctd = own_containerd
    agent = Agent(BUILD / "src/agent/reaper-agent", tmp_path, ctd.reaper_config, "--standalone",
                  "--resync", "1", "--gc-grace", "1")
    clients = [CriClient(ctd.address, ctd.pods_dir, ctd.image.ref) for _ in range(WORKERS)]
    try:
        soak = Soak(ctd, tmp_path, seed=7)
        soak.start_residents(clients[0])
        soak.warm_up(clients[0])
        extra = {"reaper-agent": agent.proc.pid}
        before = soak.snapshot(clients[0], extra)
        runs = agent.metric("reaper_gc_runs_total")
        problems, done = soak.run_many(clients, LIFECYCLES)
        assert (problems, done) == ([], LIFECYCLES)
        soak.settle()
        after = soak.snapshot(clients[0], extra)
        assert leaks(before, after) == {}, format_table(before, after)
        assert agent.metric("reaper_gc_runs_total") > runs  # the GC ran during the soak
        assert agent.metric('reaper_gc_removed_total{kind="state"}') == 0  # nothing was stale
    finally:
        for c in clients:
            c.close()
        assert agent.stop() == 0, agent.text()
