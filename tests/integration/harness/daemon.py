"""A long-running program under test (controller, agent) with its stderr in a log file."""
import signal
import subprocess


class Daemon:
    def __init__(self, argv, log, env=None):
        self.log = log
        with open(log, "w") as f:
            self.proc = subprocess.Popen([str(a) for a in argv], env=env, stderr=f,
                                         stdout=subprocess.DEVNULL)

    def text(self):
        return self.log.read_text()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Send sig and reap it (SIGKILL after `timeout` s if it ignores sig); the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
