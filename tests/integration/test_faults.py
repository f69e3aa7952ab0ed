"""The node fault campaign (docs/faults.md), one test per fault: each injects its fault into a
pod it creates and asserts the stated outcome, that nothing was lost (exit codes, log lines)
and that nothing of the pod was left behind. bench/faults.py runs the same scenarios and prints
the table."""
import pytest

from conftest import BUILD
from harness.faults import FAULTS, OwnNode

pytestmark = pytest.mark.shim

SHARED = [f for f in FAULTS.values() if not f.own]
OWN = [f for f in FAULTS.values() if f.own]


@pytest.mark.parametrize("fault", SHARED, ids=[f.name for f in SHARED])
def test_fault(fault, containerd, cri, tmp_path):
    fault.run(containerd, cri, tmp_path)


@pytest.mark.parametrize("fault", OWN, ids=[f.name for f in OWN])
def test_fault_own_node(fault, test_image, tmp_path):
    """Faults that change the node (a tiny tmpfs, /run wiped) get a containerd of their own."""
    node = OwnNode(test_image, BUILD, fault.prepare)
    with node:
        fault.run(node.ctd, node.cri, tmp_path)
    assert not node.errors, node.errors
