"""Live migration of a Xen guest to another Xen host: ``xl migrate`` at the source,
``xl migrate-receive`` at the target, joined by migrelay.py instead of ssh.

* The target (``receive``) starts a receiving relay on its pool address; the relay
  picks a port and waits for the sender with a one-time token. The URI handed to the
  source is ``xl://TOKEN@ADDRESS:PORT`` (it travels over the pool's TLS channel).
* The source (``send``) runs ``xl migrate -s "" -e DOMID "<sending relay>"``. xl
  copies the guest's memory while it runs, then suspends it and sends the rest; the
  target's xl builds the domain, paused, and answers that it is ready. The sending
  relay holds that answer back until this module says commit or abandon (migrelay's
  docstring): the moment of no return is decided here, in the caller's thread, where
  a task's cancel is asked. A cancel before it makes the relay end: xl then fails and
  resumes the guest at the source. After it, xl tells the target to go: the target's
  xl renames and unpauses its domain, and the source's xl destroys its own.
* The target (``finish``) waits for its xl to end and hands back the domain it made;
  or, when the migration failed or was abandoned, ends its relay and destroys
  whatever domain of the guest it made.

Only guests whose disks both hosts reach are migrated (the storage option "copy" is
QEMU's). xl does not report the guest's pause, so ``downtime_ms`` is None.
"""

import os
import queue
import secrets
import select
import shlex
import signal
import subprocess
import sys
import threading
import time

from xen.xend.util import progress

from ..base import BackendError
from . import migrelay
from .xl import MIB

# Run by its path: as ``-m``, Python would import this package (the whole backend) first.
RELAY = os.path.abspath(migrelay.__file__)
# How long the target waits for its relay to say its port, and for its xl to end once
# the source's migration has ended.
RECEIVE_TIMEOUT = 60.0
# A migration that sent nothing for this long before the switch is abandoned.
STALL_TIMEOUT = 120.0
# How long the source's xl may take to finish after the commit (the target restores).
COMMIT_TIMEOUT = 300.0
POLL = 0.1
LOG_FILE = "migration-in.log"


def check_storage(uuid, storage):
    """VM_MIGRATE_FAILED for the storage option "copy": xl moves no disks."""
    if storage != "shared":
        raise BackendError("VM_MIGRATE_FAILED", uuid, "the xen backend migrates only guests "
                           "whose disks both hosts reach (storage %r is not offered)" % storage)


def _relay_argv(role, tls):
    argv = [sys.executable, RELAY, role]
    if tls:
        argv += ["--cert", tls["cert"], "--key", tls["key"], "--ca", tls["ca"]]
    return argv


def parse_uri(uri):
    """(token, host, port) of an ``xl://TOKEN@HOST:PORT`` URI (HOST in brackets when it
    is an IPv6 address); ValueError for anything else."""
    if not uri.startswith("xl://") or "@" not in uri:
        raise ValueError("not an xl migration URI: %r" % uri)
    token, _, where = uri[len("xl://"):].partition("@")
    host, _, port = where.rpartition(":")
    host = host.strip("[]")
    if not host or not 0 < int(port) < 65536:
        raise ValueError("not an xl migration URI: %r" % uri)
    return token, host, int(port)


# -- the target -----------------------------------------------------------------------

class Incoming:
    """A guest being received: the receiving relay (and the xl it runs) and its log."""

    def __init__(self, proc, uri, log_path):
        self.proc, self.uri, self.log_path = proc, uri, log_path

    def log_tail(self, chars=600):
        """The end of what the relay and xl said."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - chars))
                return " ".join(f.read().decode(errors="replace").split())
        except OSError:
            return ""

    def end(self):
        """Kill the relay and its xl (one session) and reap them."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()


def receive(xl, uuid, state_dir, address, tls):
    """Start the receiving relay on ``address`` for VM ``uuid`` (its log in
    ``state_dir``); an Incoming. VM_MIGRATE_FAILED when it cannot listen."""
    token = secrets.token_urlsafe(24)
    log_path = os.path.join(state_dir, LOG_FILE)
    with open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as log:
        proc = subprocess.Popen(_relay_argv("receive", tls) + [
            address, "--", xl.path, "migrate-receive", "-e"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, start_new_session=True)
    incoming = Incoming(proc, "", log_path)
    proc.stdin.write((token + "\n").encode())
    proc.stdin.close()
    line = b""
    if select.select([proc.stdout], [], [], RECEIVE_TIMEOUT)[0]:
        line = proc.stdout.readline()
    proc.stdout.close()
    if not line.startswith(b"port "):
        incoming.end()
        raise BackendError("VM_MIGRATE_FAILED", uuid, "cannot listen on %s for the guest: %s"
                           % (address, incoming.log_tail()))
    host = "[%s]" % address if ":" in address else address
    incoming.uri = "xl://%s@%s:%d" % (token, host, int(line.split()[1]))
    return incoming


def finish(xl, uuid, incoming, ok):
    """After the source's migration: with ``ok``, wait for the target's xl and return
    the listing entry of the domain it made (running); without, or when it failed,
    end the relay and destroy any domain of ``uuid`` it made (then VM_MIGRATE_FAILED
    if ``ok``; None otherwise)."""
    rc = None
    if ok:
        try:
            rc = incoming.proc.wait(timeout=RECEIVE_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
    entry = xl.list(max_age=0).get(uuid)
    if ok and rc == 0 and entry is not None:
        return entry
    incoming.end()
    entry = xl.list(max_age=0).get(uuid)
    if entry is not None:
        xl.run("destroy", str(entry["domid"]))
        xl.forget_listing()
    if ok:
        raise BackendError("VM_MIGRATE_FAILED", uuid, "the guest's state did not arrive "
                           "whole: %s" % incoming.log_tail())
    return None


# -- the source -----------------------------------------------------------------------

def _lines(stream):
    """A queue of ``stream``'s lines (str), read by a thread; None at its end."""
    lines = queue.Queue()

    def read():
        for raw in stream:
            lines.put(raw.decode(errors="replace").rstrip("\n"))
        lines.put(None)
    threading.Thread(target=read, name="xend-xl-migrate", daemon=True).start()
    return lines


class _Sender:
    """One ``xl migrate``: its process, what it said, and the relay's figures."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = _lines(proc.stderr)
        self.said = []                  # xl's own lines (not the relay's)
        self.relay_pid = None
        self.sent = 0
        self.last_progress = time.monotonic()
        # The relay held the target's READY; it passed it on (the guest is given
        # away); this module told it to end (a cancel, or no progress).
        self.ready = self.committed = self.abandoned = False
        self.ended = False

    def read(self, timeout):
        """Take in what came within ``timeout`` s."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            if line is None:
                self.ended = True
                return
            what = line[len(migrelay.PREFIX):] if line.startswith(migrelay.PREFIX) else None
            if what is None:
                self.said.append(line)
            elif what.startswith("pid "):
                self.relay_pid = int(what.split()[1])
            elif what.startswith("sent "):
                self.sent = int(what.split()[1])
                self.last_progress = time.monotonic()
            elif what == "ready":
                self.ready = True
            elif what == "committed":
                self.committed = True
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return

    def signal(self, signum):
        """Tell the relay (SIGUSR1: abandon, SIGUSR2: commit), while xl (and so the
        relay, its child) has not ended: a pid that ended may be another's now."""
        if signum == signal.SIGUSR1:
            self.abandoned = True
        if self.relay_pid is not None and not self.ended:
            try:
                os.kill(self.relay_pid, signum)
            except ProcessLookupError:
                pass

    def wait(self, timeout):
        """Read until xl ends (at most ``timeout`` s); its exit status, None if alive."""
        deadline = time.monotonic() + timeout
        while not self.ended and time.monotonic() < deadline:
            self.read(POLL)
        try:
            return self.proc.wait(timeout=max(0.0, deadline - time.monotonic()) + 5)
        except subprocess.TimeoutExpired:
            return None

    def reason(self):
        """The end of what xl said, for a Failure."""
        return " ".join(" ".join(self.said[-4:]).split()) or "xl migrate failed"


def send(xl, dom, uri, options):
    """Migrate the running domain ``dom`` to ``uri``; the figures once the target runs
    it (the source's domain is gone then). A cancel before the switch leaves the
    guest running here (progress.Cancelled); so does a failure (VM_MIGRATE_FAILED)."""
    token, host, port = parse_uri(uri)
    limit = options.get("max_bandwidth")
    rune = _relay_argv("send", options.get("tls")) + [host, str(port)] + (
        ["--max-bandwidth", str(limit)] if limit else [])
    memory = (xl.list(max_age=0).get(dom.uuid) or {}).get("mem_mib", 0) * MIB
    began = time.monotonic()
    sender = _Sender(subprocess.Popen(
        [xl.path, "migrate", "-s", "", "-e", str(dom.domid), shlex.join(rune)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env=dict(os.environ, **{migrelay.TOKEN_ENV: token}), start_new_session=True))
    try:
        with progress.cancellable():
            _until_ready(sender, memory)
    except progress.Cancelled:
        sender.signal(signal.SIGUSR1)
        sender.wait(COMMIT_TIMEOUT)
        raise
    if sender.ready and not sender.abandoned:
        sender.signal(signal.SIGUSR2)
    rc = sender.wait(COMMIT_TIMEOUT)
    if not sender.committed or (rc != 0 and any("Resumed OK" in line
                                                for line in sender.said)):
        # xl resumed the guest here: it never reached the target's go.
        raise BackendError("VM_MIGRATE_FAILED", dom.uuid, sender.reason())
    if rc != 0:
        # Past the switch the guest is the target's, or no one's: never run it here.
        entry = xl.list(max_age=0).get(dom.uuid)
        if entry is not None:
            xl.run("destroy", str(entry["domid"]))
    return {"total_time_ms": int((time.monotonic() - began) * 1000), "downtime_ms": None,
            "transferred_bytes": sender.sent}


def _until_ready(sender, memory):
    """Follow ``sender`` until the target holds the whole guest or xl ends, reporting
    progress; a cancel makes the relay end (xl then resumes the guest here)."""
    tracker = progress.current()
    while not sender.ready and not sender.ended:
        sender.read(POLL)
        if memory:
            # Memory goes once, then what the guest dirtied meanwhile: past 100%.
            progress.report(0.9 * min(sender.sent / memory, 1.0))
        stalled = time.monotonic() - sender.last_progress > STALL_TIMEOUT
        if not sender.abandoned and sender.relay_pid is not None and (
                stalled or (tracker is not None and tracker.cancel_requested)):
            sender.signal(signal.SIGUSR1)
            if stalled:
                sender.said.append("nothing sent for %d s" % STALL_TIMEOUT)
