"""Shared by the controller and agent tests: a bounded wait on the fake API server's state."""
import time

from .fake_apiserver import ApiError


def wait_for(fn, timeout=10.0, what="condition"):
    """Test-side bounded retry until fn() is truthy; returns its value."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = fn()
            if last:
                return last
        except ApiError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
