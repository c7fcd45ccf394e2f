"""Fixtures shared by the whole suite: a real xend daemon started as a subprocess.

Socket paths never contain "_" (see helpers.scratch_dir). Plain helper functions are in
tests/helpers.py; a tier's conftest keeps only what is specific to that tier.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import xmlrpc.client

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# tests/ itself, so that helpers imports the same way under pytest and from bench/.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import XenAPI  # noqa: E402  (the official SDK, from PyPI)

# free_port is also looked up by name on this module (tests/security/conftest.py).
from helpers import (answers, build_tiny_guest, free_port, halt_all,  # noqa: E402
                     scratch_dir, sdk_unix, skip_without_qemu)


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
        self.api = None         # root's SDK proxy, once relogin() was called

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
            if os.path.exists(self.socket) and answers(self.port):
                return self
            time.sleep(0.05)
        raise RuntimeError("xend did not come up")

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

    def cleanup(self, sig=signal.SIGTERM):
        """Stop the daemon with ``sig`` and remove its files."""
        self.stop(sig)
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- clients -------------------------------------------------------------

    def sdk_unix(self, user="root", password=""):
        """A logged-in XenAPI SDK session over the Unix socket."""
        return sdk_unix(self.socket, user, password)

    def relogin(self):
        """Log root in over the Unix socket again (e.g. after a restart): the new SDK proxy
        becomes ``.api`` and is returned."""
        self.api = self.sdk_unix().xenapi
        return self.api

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


@pytest.fixture(scope="session")
def daemon_class():
    """The Daemon class, for tier conftests: every conftest module is named "conftest", so
    ``from conftest import Daemon`` would not find this one."""
    return Daemon


@pytest.fixture(scope="session")
def daemon_stop_signal():
    """How ``daemon`` and ``fresh_daemon`` stop their daemon at teardown: SIGKILL, as
    nothing is checked then, and a graceful stop waits ~0.5 s for each listener's poll
    interval. The graceful stop is tested where it is the point (tests/daemon, the
    restarts of test_api_persistence.py and of the qemu tier); a tier's conftest may
    override this."""
    return signal.SIGKILL


@pytest.fixture(scope="module")
def daemon(daemon_stop_signal):
    """A sim-backend daemon shared by a test module."""
    d = Daemon().start()
    yield d
    d.cleanup(daemon_stop_signal)


@pytest.fixture
def fresh_daemon(daemon_stop_signal):
    """A daemon of the test's own, for tests that restart or kill it."""
    d = Daemon().start()
    yield d
    d.cleanup(daemon_stop_signal)


@pytest.fixture(scope="module")
def root(daemon):
    """The SDK's xenapi proxy, logged in as root over the Unix socket."""
    s = daemon.sdk_unix()
    yield s.xenapi
    s.xenapi.session.logout()


@pytest.fixture(scope="session")
def tiny_guest(tmp_path_factory):
    """The tiny Linux guest of tests/guest/build.py (built once, cached): {"kernel",
    "initrd", "cmdline"}, its files pinned in a directory of the session's own."""
    skip_without_qemu()
    return build_tiny_guest(str(tmp_path_factory.mktemp("tiny-guest")))


@pytest.fixture(autouse=True)
def _no_guest_outlives_its_test(request):
    """After each test that used a tier's shared ``sim_daemon`` or ``qemu_daemon`` (metrics,
    qemu): every VM of it that is not Halted is hard_shutdown and every host enabled again,
    so the next test starts from a quiet host; a QEMU left after that is SIGKILLed and
    reported as an error of the test."""
    yield
    problems = []
    for name in ("sim_daemon", "qemu_daemon"):
        if name not in request.fixturenames:
            continue
        d = request.getfixturevalue(name)
        problems += halt_all(d)
        for host in d.api.host.get_all():
            if not d.api.host.get_enabled(host):
                d.api.host.enable(host)
    assert not problems, problems
