"""Fixtures shared by the whole suite: a real xend daemon started as a subprocess.

Socket paths never contain "_": the XenAPI SDK turns "_" in the host part of
its URL into "/" when it opens a Unix socket.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import xmlrpc.client

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import XenAPI  # noqa: E402  (the official SDK, from PyPI)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scratch_dir():
    """A fresh directory whose path has no "_" (see the module docstring)."""
    path = os.path.join("/tmp", "xendtest-" + uuid.uuid4().hex)
    os.makedirs(path, mode=0o700)
    return path


class Daemon:
    """One xend process on its own state dir, socket and TCP port."""

    def __init__(self, backend="sim", extra_config="", log_level="debug"):
        self.dir = scratch_dir()
        self.state_dir = os.path.join(self.dir, "state")
        self.socket = os.path.join(self.dir, "run", "xen-api.sock")
        self.port = free_port()
        self.config = os.path.join(self.dir, "xend.toml")
        with open(self.config, "w") as f:
            f.write('login_failure_delay = 0.05\nlog_level = "%s"\n' % log_level + extra_config)
        self.log = os.path.join(self.dir, "xend.log")
        self.backend = backend
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.port

    def start(self):
        cmd = [sys.executable, "-m", "xen.xend", "start", "--foreground",
               "--config", self.config, "--state-dir", self.state_dir,
               "--socket", self.socket, "--listen", "127.0.0.1:%d" % self.port,
               "--backend", self.backend, "--log-file", self.log]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("xend exited: %s" % self.proc.stderr.read().decode())
            if os.path.exists(self.socket) and self._answers():
                return self
            time.sleep(0.05)
        raise RuntimeError("xend did not come up")

    def _answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def kill9(self):
        self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- clients -------------------------------------------------------------

    def sdk_unix(self, user="root", password=""):
        """A logged-in XenAPI SDK session over the Unix socket."""
        s = XenAPI.Session("http://%s/" % self.socket.replace("/", "_"),
                           transport=XenAPI.UDSTransport())
        s.xenapi.login_with_password(user, password)
        return s

    def sdk_tcp(self, user, password):
        """A logged-in XenAPI SDK session over TCP."""
        s = XenAPI.Session(self.url)
        s.xenapi.login_with_password(user, password, "1.0", "xend-tests")
        return s

    def raw_tcp(self):
        """A plain xmlrpc.client proxy over TCP (no SDK conveniences)."""
        return xmlrpc.client.ServerProxy(self.url)

    def log_text(self):
        with open(self.log) as f:
            return f.read()


@pytest.fixture(scope="module")
def daemon():
    """A sim-backend daemon shared by a test module."""
    d = Daemon().start()
    yield d
    d.cleanup()


@pytest.fixture
def fresh_daemon():
    """A daemon of the test's own, for tests that restart or kill it."""
    d = Daemon().start()
    yield d
    d.cleanup()


@pytest.fixture(scope="module")
def root(daemon):
    """The SDK's xenapi proxy, logged in as root over the Unix socket."""
    s = daemon.sdk_unix()
    yield s.xenapi
    s.xenapi.session.logout()
