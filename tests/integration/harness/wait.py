"""The one bounded wait of the test code (the product never polls): retry until a positive
signal, fail the test naming what did not happen."""
import time


def wait_for(fn, timeout=10.0, what="condition", interval=0.02, retry_on=()):
    """Call fn until it returns a truthy value and return that value. Exceptions listed in
    retry_on count as "not yet". After `timeout` seconds the test fails (AssertionError) with
    `what` (a string, or a callable describing the state at that moment) and the last value (or
    exception) seen."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            last = fn()
            if last:
                return last
        except retry_on as e:
            last = e
        if time.monotonic() > deadline:
            what = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {what} "
                                 f"(last: {last!r})")
        time.sleep(interval)
