"""xend start (detached) / status / stop / restart, as an administrator runs them."""

import contextlib
import ctypes
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest
from daemontools import DetachedXend
from harness import ROOT, STATE_WAIT, answers, guests, wait_until

from xen.xend.daemon import cli


def _proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def test_start_detaches_and_answers_status_and_stop(xend):
    # A descriptor the caller leaves open must not leak into the daemon.
    leak_r, leak_w = os.pipe()
    os.set_inheritable(leak_w, True)
    try:
        r = subprocess.run([sys.executable, "-m", "xen.xend", "start", "--config", xend.config],
                           cwd=ROOT, capture_output=True, text=True, timeout=60,
                           pass_fds=(leak_w,))
    finally:
        os.close(leak_w)
    assert r.returncode == 0, r.stderr
    pid = xend.pid()
    assert pid and "started (pid %d)" % pid in r.stdout

    # The start returned only once the daemon answers: no waiting here.
    assert guests(xend.sdk().xenapi) == []
    assert answers(xend.port)

    # Detached: another session, not our child, umask 077, stdio on /dev/null,
    # and nothing else inherited (the pipe's only writer is gone: EOF).
    assert os.getsid(pid) != os.getsid(0)
    assert int(_proc_status(pid)["PPid"]) != os.getpid()
    assert _proc_status(pid)["Umask"] == "0077"
    for fd in (0, 1, 2):
        assert os.readlink("/proc/%d/fd/%d" % (pid, fd)) == "/dev/null"
    assert os.read(leak_r, 1) == b""
    os.close(leak_r)
    assert os.readlink("/proc/%d/cwd" % pid) == "/"

    for path in (xend.pid_file, xend.log):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(xend.state_dir).st_mode) == 0o700

    s = xend.xend("status")
    assert s.returncode == 0 and "running (pid %d" % pid in s.stdout

    assert xend.xend("stop").returncode == 0
    assert not os.path.exists("/proc/%d" % pid) or _proc_status(pid)["State"].startswith("Z")
    assert not os.path.exists(xend.pid_file)
    assert not os.path.exists(xend.socket)
    assert not answers(xend.port)
    s = xend.xend("status")
    assert s.returncode == 3 and "not running" in s.stdout
    assert "stopped" in xend.log_text()
    # Stopping what does not run succeeds (LSB).
    assert xend.xend("stop").returncode == 0


def test_a_second_instance_is_refused(xend):
    xend.start()
    pid = xend.pid()
    again = xend.xend("start")
    assert again.returncode != 0
    assert "already running (pid %d" % pid in again.stderr

    # Another pid file, but the same state dir: refused as well, by the state dir's lock.
    other = xend.xend("start", "--pid-file", os.path.join(xend.dir, "other.pid"),
                      "--listen", "none", "--socket", os.path.join(xend.dir, "other.sock"))
    assert other.returncode != 0
    assert "already running (pid %d" % pid in other.stderr and xend.state_dir in other.stderr
    fg = xend.xend("start", "--foreground", "--listen", "none",
                   "--socket", os.path.join(xend.dir, "other.sock"))
    assert fg.returncode != 0
    assert "another xend (pid %d) is running on %s" % (pid, xend.state_dir) in fg.stderr

    assert xend.xend("status").returncode == 0 and xend.pid() == pid
    xend.sdk().xenapi.VM.get_all()


def test_a_bad_config_key_is_reported(xend):
    with open(xend.config, "a") as f:
        f.write("listen_port = 4464\n")
    r = xend.xend("start")
    assert r.returncode == 1
    assert "unknown key 'listen_port'" in r.stderr
    assert not os.path.exists(xend.state_dir)      # refused before anything started
    s = xend.xend("status")                         # LSB: cannot tell, with that file
    assert s.returncode == 4 and "listen_port" in s.stderr


def test_a_port_in_use_is_reported_not_silent(xend):
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", xend.port))
        busy.listen()
        r = xend.xend("start")
    # The daemon's own error, through the pipe (not the parent's "did not answer" timeout).
    assert r.returncode == 1
    assert "Address already in use" in r.stderr and "127.0.0.1:%d" % xend.port in r.stderr
    assert xend.xend("status").returncode == 3
    assert not os.path.exists(xend.pid_file)
    assert "Address already in use" in xend.log_text()


@contextlib.contextmanager
def _as_nobody():
    """This process as the user nobody for a while (effective ids only: the Python
    under root's home stays runnable, which a child of nobody's could not exec)."""
    nobody = pwd.getpwnam("nobody")
    os.setegid(nobody.pw_gid)
    os.seteuid(nobody.pw_uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the commands as nobody: needs root")
def test_a_user_who_may_not_look_is_told_so_not_that_xend_is_stopped(xend, capsys):
    xend.start()

    def as_nobody(command):
        with _as_nobody():
            code = cli.main([command, "--config", xend.config])
        out = capsys.readouterr()
        return code, out.out, out.err
    # The configuration is in root's 0700 directory.
    assert as_nobody("status") == (
        4, "", "xend: cannot read config file %s: Permission denied\n" % xend.config)
    os.chmod(xend.dir, 0o755)         # readable now; the state dir and pid file are not
    os.chmod(xend.config, 0o644)
    denied = "xend: cannot reach xend at %s: permission denied (run as root)\n" % xend.pid_file
    assert as_nobody("status") == (4, "", denied)
    assert as_nobody("stop") == (1, "", denied)
    assert xend.xend("status").returncode == 0


def test_a_killed_daemon_leaves_a_pid_file_that_does_not_block(xend):
    xend.start()
    os.kill(xend.pid(), signal.SIGKILL)
    wait_until(lambda: xend.xend("status").returncode != 0, STATE_WAIT,
               "xend status to see the daemon dead")
    s = xend.xend("status")
    assert s.returncode == 1 and "pid file" in s.stdout
    xend.start()
    assert xend.xend("status").returncode == 0


def test_a_sigterm_taken_by_any_thread_stops_the_daemon(fresh_daemon):
    # kill(1) names the process, and the kernel hands the signal to any thread of it that
    # does not block it: here, on purpose, to one that is not the main thread.
    pid = fresh_daemon.proc.pid
    others = sorted(int(t) for t in os.listdir("/proc/%d/task" % pid) if int(t) != pid)
    assert others, "the daemon runs no thread but its main one"
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.tgkill(pid, others[0], signal.SIGTERM) == 0, os.strerror(ctypes.get_errno())
    # A deadline against a hang, not a timing: the daemon used to wait for ever.
    assert fresh_daemon.proc.wait(30) == 0
    assert "stopped" in fresh_daemon.log_text()


def test_stop_and_restart_leave_guests_running(xend):
    xend.start()
    x = xend.sdk().xenapi
    vm = x.VM.create({"name_label": "keeps-running", "memory_static_max": "268435456"})
    x.VM.start(vm, False)
    assert x.VM.get_power_state(vm) == "Running"

    r = xend.xend("restart")
    assert r.returncode == 0, r.stderr
    assert xend.sdk().xenapi.VM.get_power_state(vm) == "Running"

    xend.stop()
    xend.start()
    assert xend.sdk().xenapi.VM.get_power_state(vm) == "Running"


def test_stop_lets_a_call_in_flight_finish():
    # VM.start takes 3 s: longer than closing the listeners, so stop must wait for it.
    d = DetachedXend(extra_config="sim_op_seconds = 3.0\n")
    try:
        d.start()
        x = d.sdk().xenapi
        vm = x.VM.create({"name_label": "slow", "memory_static_max": "268435456"})
        outcome = {}

        def start_vm():
            try:
                outcome["reply"] = x.VM.start(vm, False)
            except Exception as e:   # the assertion below shows what went wrong
                outcome["error"] = e
        t = threading.Thread(target=start_vm)
        t.start()
        time.sleep(0.5)                       # the call is being answered
        stop = d.xend("stop")
        t.join(30)
        assert stop.returncode == 0, stop.stderr
        assert outcome == {"reply": ""}, outcome
        d.start()
        assert d.sdk().xenapi.VM.get_power_state(vm) == "Running"
    finally:
        d.cleanup()


def test_stop_cancels_a_running_task_cleanly():
    d = DetachedXend(extra_config="sim_op_seconds = 3.0\n")
    try:
        d.start()
        x = d.sdk().xenapi
        vm = x.VM.create({"name_label": "cancelled", "memory_static_max": "268435456"})
        task = x.Async.VM.start(vm, False)
        wait_until(lambda: float(x.task.get_progress(task)) > 0, STATE_WAIT,
                   "the start to be under way")
        assert d.xend("stop").returncode == 0
        assert "stopped" in d.log_text()
        assert "Traceback" not in d.log_text()
        d.start()
        # Cancelled (a finished start would have left it Running), and nothing half-done.
        assert d.sdk().xenapi.VM.get_power_state(vm) == "Halted"
    finally:
        d.cleanup()
