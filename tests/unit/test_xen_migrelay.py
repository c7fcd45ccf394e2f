"""The Xen migration relay (xen/xend/backend/xen/migrelay.py) as the real programs on
127.0.0.1, between a fake ``xl migrate`` (which runs the sending relay as its rune, with
pipes as xl has them) and a fake ``xl migrate-receive``, both speaking xl_migrate.c's
protocol: the stream arrives whole, READY waits for the commit (SIGUSR2), an abandon
(SIGUSR1) fails xl at both ends, strangers are refused, and the bandwidth cap holds."""

import io
import os
import re
import shlex
import signal
import subprocess
import sys

import harness
import pytest

from xen.xend.backend.xen import migrelay

RELAY = [sys.executable, migrelay.__file__]
TOKEN = "one-time-token"
MIB = 1024 * 1024

# xl as tools/xl/xl_migrate.c has it (fake_xl.py says what it does).
FAKE_XL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_xl.py")


class Rig:
    """Relays and fake xl in ``tmp``, killed (their sessions) at the end."""

    def __init__(self, tmp):
        self.tmp, self.started = tmp, []

    def _start(self, argv, log, **kw):
        with open(self.tmp / log, "wb") as f:
            proc = subprocess.Popen(argv, stderr=f, start_new_session=True, **kw)
        self.started.append(proc)
        return proc

    def _env(self, **more):
        return dict(os.environ, FAKE_XL_MARKS=str(self.tmp), **more)

    def receiver(self, tls=None):
        """The receiving relay running the fake xl migrate-receive: (process, port)."""
        proc = self._start(RELAY + ["receive"] + tls_args(tls) + [
            "127.0.0.1", "--", FAKE_XL, "migrate-receive", "-e"],
            "receiver.log", stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self._env())
        proc.stdin.write(TOKEN.encode() + b"\n")
        proc.stdin.close()
        line = proc.stdout.readline()
        assert line.startswith(b"port "), line
        return proc, int(line.split()[1])

    def sender(self, port, size, tls=None, token=TOKEN, limit=None):
        """The fake ``xl migrate`` whose rune is the sending relay (stderr: sender.log)."""
        rune = RELAY + ["send"] + tls_args(tls) + ["127.0.0.1", str(port)] + (
            ["--max-bandwidth", str(limit)] if limit else [])
        return self._start(
            [FAKE_XL, "migrate", "-s", "", "-e", "7", shlex.join(rune)],
            "sender.log", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            env=self._env(FAKE_XL_SIZE=str(size), **{migrelay.TOKEN_ENV: token}))

    def said(self, log="sender.log"):
        return (self.tmp / log).read_text()

    def relay_said(self):
        """The sending relay's lines (without its prefix), in order."""
        return [line[len(migrelay.PREFIX):] for line in self.said().splitlines()
                if line.startswith(migrelay.PREFIX)]

    def relay_pid(self, after):
        """The sending relay's pid, once it has said ``after`` (a line or its start)."""
        harness.wait_until(lambda: any(line.startswith(after) for line in self.relay_said()),
                           60, "%r from the relay" % after, interval=0.02)
        first = self.relay_said()[0]
        assert first.startswith("pid ")
        return int(first.split()[1])

    def mark(self, name):
        path = self.tmp / name
        return path.read_text() if path.exists() else None

    def commit(self, receiver, xl):
        """Once the relay holds READY (xl has not got it), SIGUSR2: both xl end well
        and the guest arrived whole."""
        pid = self.relay_pid("ready")
        assert self.mark("got-ready") is None and xl.poll() is None
        os.kill(pid, signal.SIGUSR2)
        assert xl.wait(60) == 0 and receiver.wait(60) == 0
        assert "Migration successful." in self.said() and self.mark("relay-rc") == "0"
        assert self.mark("sent-sha256") and self.mark("received-sha256") == self.mark(
            "sent-sha256")
        return self.relay_said()

    def refused(self, receiver, port, log_says, **sender):
        """A stranger's migration fails at its xl and the receiver, saying ``log_says``,
        waits on."""
        assert self.sender(port, MIB, **sender).wait(60) == 1
        assert "Migration failed, resuming at sender." in self.said()
        harness.wait_until(lambda: log_says in self.said("receiver.log"), 60, log_says)
        assert receiver.poll() is None and self.mark("received-sha256") is None


@pytest.fixture
def rig(tmp_path):
    rig = Rig(tmp_path)
    yield rig
    for proc in rig.started:
        if proc.returncode is None:     # not reaped: its pid is still its session's
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def tls_args(tls):
    return ["--cert", tls["cert"], "--key", tls["key"], "--ca", tls["ca"]] if tls else []


def sent_before_ready(lines):
    return [int(line.split()[1]) for line in lines[:lines.index("ready")]
            if line.startswith("sent ")]


def test_a_migration_arrives_whole_and_ready_waits_for_the_commit(rig):
    """4 MiB arrive unchanged; the relay says its pid, then ``sent`` figures up to all xl
    wrote, then ``ready``; xl gets READY only after SIGUSR2, then both xl end well."""
    receiver, port = rig.receiver()
    lines = rig.commit(receiver, rig.sender(port, 4 * MIB))
    assert lines[0].startswith("pid ") and lines.index("ready") < lines.index("committed")
    sent = sent_before_ready(lines)
    assert sent and sent == sorted(sent) and sent[-1] == len(b"%d\n" % (4 * MIB)) + 4 * MIB


@pytest.mark.parametrize("when", ["sending", "held"])
def test_an_abandon_ends_the_relay_without_ready(rig, when):
    """SIGUSR1 while the memory goes (held to 1 MiB/s) or while READY is held: the relay
    ends with CANCELLED, READY never reaches xl, which resumes the guest (exit 1), and the
    target's xl sees the stream end (exit 1: it would destroy its copy)."""
    receiver, port = rig.receiver()
    xl = rig.sender(port, 4 * MIB, limit=MIB if when == "sending" else None)
    os.kill(rig.relay_pid("sent " if when == "sending" else "ready"), signal.SIGUSR1)
    assert xl.wait(60) == 1 and receiver.wait(60) == 1
    assert rig.mark("relay-rc") == str(migrelay.CANCELLED)
    assert rig.mark("got-ready") is None and rig.mark("receiver-eof") == ""
    assert "Migration failed, resuming at sender." in rig.said()
    assert "abandoned" in rig.relay_said()
    assert ("ready" in rig.relay_said()) == (when == "held")


def test_a_wrong_token_is_refused_and_the_right_sender_served(rig):
    """A sender with another token is closed (its xl fails) and logged; the receiver
    keeps listening and serves the next sender, which has the token."""
    receiver, port = rig.receiver()
    rig.refused(receiver, port, "wrong token", token="guessed")
    rig.commit(receiver, rig.sender(port, MIB))


def test_no_sender_in_time(monkeypatch, capsys):
    """The receiver says its port, and ends with NO_SENDER when no one comes in time."""
    monkeypatch.setattr(migrelay, "ACCEPT_TIMEOUT", 0.2)
    monkeypatch.setattr(sys, "stdin", io.StringIO(TOKEN + "\n"))
    assert migrelay.main(["receive", "127.0.0.1", "--", "false"]) == migrelay.NO_SENDER
    out, err = capsys.readouterr()
    assert re.fullmatch(r"port \d+\n", out) and "no sender came" in err


def test_tls_both_ends_verify(rig, tmp_path):
    """With certificates of the pool's CA a migration goes through TLS; a sender that
    trusts the target but whose own certificate another CA signed is refused."""
    ca = harness.make_ca(str(tmp_path))
    stranger = harness.migration_tls(str(tmp_path), "stranger",
                                     harness.make_ca(str(tmp_path), "other CA"))
    receiver, port = rig.receiver(tls=harness.migration_tls(str(tmp_path), "target", ca))
    rig.refused(receiver, port, "certificate verify failed", tls=dict(stranger, ca=ca[0]))
    rig.commit(receiver, rig.sender(port, MIB,
                                    tls=harness.migration_tls(str(tmp_path), "source", ca)))


def test_max_bandwidth_sends_gradually(rig):
    """Held to 2 MiB/s, 3 MiB go in steps: at least three growing ``sent`` figures come
    before the whole has gone."""
    receiver, port = rig.receiver()
    sent = sent_before_ready(rig.commit(receiver, rig.sender(port, 3 * MIB, limit=2 * MIB)))
    total = len(b"%d\n" % (3 * MIB)) + 3 * MIB
    partial = [n for n in sent if n < total]
    assert len(set(partial)) >= 3 and partial == sorted(partial) and sent[-1] == total
