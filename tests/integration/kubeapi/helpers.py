"""Shared by the controller and agent tests: a bounded wait on the fake API server's state."""
from harness import wait

from .fake_apiserver import ApiError


def wait_for(fn, timeout=10.0, what="condition"):
    """harness.wait.wait_for with a missing object (ApiError) counting as "not yet"."""
    return wait.wait_for(fn, timeout, what, interval=0.05, retry_on=(ApiError,))
