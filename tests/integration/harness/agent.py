"""reaper-agent as a program under test: its HTTP endpoints and metrics on a free local port."""
import os
import socket
import urllib.error
import urllib.request

from .daemon import Daemon
from .wait import wait_for


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent(Daemon):
    """reaper-agent with `args` (e.g. --standalone), REAPER_CONFIG=runtime_conf and no other
    REAPER_* variable from the caller's environment; returns once /healthz answers."""

    def __init__(self, binary, log_dir, runtime_conf, *args):
        assert binary.exists(), f"{binary} not built"
        self.port = free_port()
        argv = [binary, "--listen", f"127.0.0.1:{self.port}", "--log-level", "debug", *args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("REAPER_")}
        env["REAPER_CONFIG"] = str(runtime_conf)
        super().__init__(argv, log_dir / f"agent-{self.port}.log", env)
        wait_for(lambda: self.get("/healthz")[0] == 200, what="agent serving", interval=0.05)

    def get(self, path, method="GET"):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return None, ""

    def metric(self, line_prefix):
        """The value of the first sample whose text starts with line_prefix, else None."""
        for line in self.get("/metrics")[1].splitlines():
            if line.startswith(line_prefix + " "):
                return float(line.rsplit(" ", 1)[1])
        return None
