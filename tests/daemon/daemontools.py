"""A detached xend driven through its own command line (``xend start|stop|...``).

Each DetachedXend has a scratch directory of its own whose path has no "_"
(the XenAPI SDK turns "_" into "/" in a Unix socket URL), holding the
configuration file, the state dir, the socket and the pid file.
"""

import os
import shutil
import signal
import subprocess
import sys
import xmlrpc.client

from harness import ROOT, STATE_WAIT, free_port, scratch_dir, sdk_unix, wait_until

from xen.xend.daemon.locks import lock_holder


class DetachedXend:
    """One detached daemon with the sim backend, on its own dir, socket and port."""

    def __init__(self, extra_config=""):
        self.dir = scratch_dir()
        self.state_dir = os.path.join(self.dir, "state")
        self.socket = os.path.join(self.dir, "run", "xen-api.sock")
        self.pid_file = os.path.join(self.dir, "run", "xend.pid")
        self.log = os.path.join(self.state_dir, "xend.log")   # a detached daemon's default
        self.config = os.path.join(self.dir, "xend.toml")
        self.port = free_port()
        self.extra_config = extra_config
        self.write_config()

    def write_config(self, **changes):
        """(Re)write the configuration file, e.g. write_config(listen="127.0.0.1:5000")."""
        values = {"state_dir": self.state_dir, "socket": self.socket,
                  "pid_file": self.pid_file, "listen": "127.0.0.1:%d" % self.port,
                  "backend": "sim", "log_level": "debug"}
        values.update(changes)
        with open(self.config, "w") as f:
            for key, value in values.items():
                f.write('%s = "%s"\n' % (key, value))
            f.write("login_failure_delay = 0.05\n" + self.extra_config)

    def xend(self, command, *args, timeout=120):
        """Run ``xend COMMAND --config FILE ARGS``; the CompletedProcess (text)."""
        return subprocess.run([sys.executable, "-m", "xen.xend", command, "--config",
                               self.config, *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout)

    def start(self):
        """``xend start``, which must succeed; returns its CompletedProcess."""
        r = self.xend("start")
        assert r.returncode == 0, r.stderr
        return r

    def stop(self):
        """``xend stop``, which must succeed."""
        r = self.xend("stop")
        assert r.returncode == 0, r.stdout + r.stderr
        return r

    def pid(self):
        """The pid in the pid file, or None."""
        try:
            with open(self.pid_file) as f:
                return int(f.read())
        except (FileNotFoundError, ValueError):
            return None

    def sdk(self):
        """The XenAPI SDK logged in as root over the Unix socket."""
        return sdk_unix(self.socket)

    def raw_tcp(self, port=None):
        """A plain xmlrpc.client proxy on the TCP listener."""
        return xmlrpc.client.ServerProxy("http://127.0.0.1:%d/" % (port or self.port))

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def cleanup(self):
        """Kill the daemon if it still runs, and remove its directory. Nothing is checked
        at this point, so no graceful ``xend stop`` (tested where it is the point): a
        daemon holds an flock on its lock file and its pid file while it lives, and the
        pid written in a file that is locked is SIGKILLed. A stale pid file's pid, which
        may be anybody's by now, is never used."""
        try:
            for path in (os.path.join(self.state_dir, "xend.lock"), self.pid_file):
                pid = lock_holder(path)
                if pid is None:
                    continue
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                wait_until(lambda: lock_holder(path) is None, STATE_WAIT,
                           "the killed daemon to release %s" % path, interval=0.02)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
