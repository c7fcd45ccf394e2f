"""xend reload (and SIGHUP): a new configuration, the same guests and sessions."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import xmlrpc.client

import pytest
from harness import ROOT, STATE_WAIT, answers, free_port, wait_until

from xen.xend.daemon.config import DEFAULT_CONFIG_FILE


def _user_session(xend, port=None):
    """A user with a password, logged in over TCP; returns (root SDK, user session ref)."""
    root = xend.sdk()
    user = root.xenapi.user.create({"short_name": "alice", "fullname": "Alice"})
    root.xenapi.user.set_password(user, "correct horse battery")
    reply = xend.raw_tcp(port).session.login_with_password("alice", "correct horse battery")
    assert reply["Status"] == "Success", reply
    return root, reply["Value"]


def test_reload_moves_the_listener_and_keeps_sessions_and_guests(xend):
    xend.start()
    root, alice = _user_session(xend)
    vm = root.xenapi.VM.create({"name_label": "stays", "memory_static_max": "268435456"})
    root.xenapi.VM.start(vm, False)
    pid = xend.pid()

    old_port, new_port = xend.port, free_port()
    xend.write_config(listen="127.0.0.1:%d" % new_port)
    r = xend.xend("reload")
    assert r.returncode == 0, r.stderr
    assert "reloaded" in r.stdout

    # When reload returns, the new port answers and the old one is closed.
    assert answers(new_port) and not answers(old_port)
    assert xend.pid() == pid
    # alice's session, made on the old port, works on the new one; root's on the
    # (rebuilt) Unix socket; the guest never noticed.
    reply = xend.raw_tcp(new_port).VM.get_all(alice)
    assert reply["Status"] == "Success" and vm in reply["Value"]
    assert root.xenapi.VM.get_power_state(vm) == "Running"
    assert "configuration reloaded" in xend.log_text()


def test_a_reload_ends_connections_made_under_the_old_rules(xend):
    """A reload that narrows the allow-list must not leave an excluded client connected:
    its open keep-alive connection ends, while sessions (a connection's, or the SDK's over
    the rebuilt socket) live on."""
    xend.start()
    root, alice = _user_session(xend)
    conn = http.client.HTTPConnection("127.0.0.1", xend.port, timeout=10)

    def get_all():
        conn.request("POST", "/", xmlrpc.client.dumps((alice,), "VM.get_all"))
        reply = conn.getresponse()
        return xmlrpc.client.loads(reply.read())[0][0]
    assert get_all()["Status"] == "Success"
    with open(xend.config, "a") as f:
        f.write('allow = ["192.0.2.0/24"]\n')
    r = xend.xend("reload")
    assert r.returncode == 0 and "reloaded" in r.stdout, r.stdout + r.stderr
    try:
        reply = get_all()
    except (http.client.HTTPException, OSError):
        reply = None                            # the daemon ended the connection
    assert reply is None, "a connection the new allow-list excludes was served: %r" % reply
    root.xenapi.VM.get_all()                    # the SDK reconnects over the Unix socket


def test_sighup_reloads_like_systemd_does(xend):
    xend.start()
    root = xend.sdk()
    new_port = free_port()
    xend.write_config(listen="127.0.0.1:%d" % new_port)
    os.kill(xend.pid(), signal.SIGHUP)
    wait_until(lambda: answers(new_port), STATE_WAIT, "the new port to answer")
    root.xenapi.VM.get_all()


def test_a_bad_config_is_refused_and_the_daemon_goes_on(xend):
    xend.start()
    root = xend.sdk()
    with open(xend.config, "a") as f:
        f.write("log_levle = \"debug\"\n")
    r = xend.xend("reload")
    assert r.returncode == 1
    assert "unknown key 'log_levle'" in r.stderr
    assert answers(xend.port)
    root.xenapi.VM.get_all()
    # Sent straight to the daemon (no check by the command first), it refuses too.
    os.kill(xend.pid(), signal.SIGHUP)
    wait_until(lambda: "reload refused" in xend.log_text(), STATE_WAIT,
               "the refused reload in the log")
    assert answers(xend.port)
    root.xenapi.VM.get_all()
    xend.write_config()


def test_a_port_in_use_keeps_the_old_listeners(xend):
    xend.start()
    root, alice = _user_session(xend)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        xend.write_config(listen="127.0.0.1:%d" % taken)
        r = xend.xend("reload")
    assert r.returncode == 1
    assert "Address already in use" in r.stderr
    assert xend.raw_tcp().VM.get_all(alice)["Status"] == "Success"
    root.xenapi.VM.get_all()


def test_a_foreground_daemon_notifies_systemd_and_is_found_by_the_commands(xend):
    # As under systemd (Type=notify): no pid file, found through the state dir's lock.
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(os.path.join(xend.dir, "notify"))
    notify.settimeout(10)
    proc = subprocess.Popen([sys.executable, "-m", "xen.xend", "start", "--foreground",
                             "--config", xend.config], cwd=ROOT, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ,
                                                NOTIFY_SOCKET=os.path.join(xend.dir, "notify")))
    try:
        assert notify.recv(100) == b"READY=1"
        # The log goes to stderr too; "xend VERSION ready" comes once it listens.
        line = proc.stderr.readline()
        while line and not line.endswith(" ready\n"):
            line = proc.stderr.readline()
        assert line.startswith("xend "), "the daemon exited before it was ready"
        s = xend.xend("status")
        assert s.returncode == 0 and "pid %d" % proc.pid in s.stdout
        assert not os.path.exists(xend.pid_file)
        assert xend.xend("reload").returncode == 0
        assert xend.xend("stop").returncode == 0
        assert notify.recv(100) == b"STOPPING=1"
        assert proc.wait(10) == 0
    finally:
        notify.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def test_a_reload_without_a_config_file_says_the_defaults_are_kept(xend):
    if os.path.exists(DEFAULT_CONFIG_FILE):
        pytest.skip("this host has a %s" % DEFAULT_CONFIG_FILE)
    env = {k: v for k, v in os.environ.items() if k != "XEND_CONFIG"}

    def run(command):   # the flags alone: the default file, which is missing
        return subprocess.run([sys.executable, "-m", "xen.xend", command,
                               "--state-dir", xend.state_dir, "--socket", xend.socket,
                               "--listen", "127.0.0.1:%d" % xend.port, "--backend", "sim",
                               "--pid-file", xend.pid_file], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
    assert run("start").returncode == 0
    r = run("reload")
    said = ("configuration reloaded: no config file at %s, defaults and command-line flags "
            "kept" % DEFAULT_CONFIG_FILE)
    assert r.returncode == 0 and r.stdout.strip() == "xend: " + said, r.stdout + r.stderr
    wait_until(lambda: said in xend.log_text(), STATE_WAIT, "the reload in the log")
