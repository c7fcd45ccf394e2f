"""The fence watchdog: a process of its own that fences a pool member whose daemon died.

The daemon's own fence (state/leases.py) stops its guests when it cannot renew its
lease; a daemon that is killed (or hangs) fences nothing, while its QEMU guests run on
and the other members restart them once the lease expires. As xapi's HA watchdog does,
each member on PostgreSQL therefore runs this small process beside the daemon: started
by it in a session of its own (so it outlives the daemon), and found again by the next
daemon through ``PID_FILE`` in the state directory.

The daemon *pets* it at each successful renewal of its lease, writing a line to the
FIFO ``FIFO`` in the state directory: ``pet SENT LEASE``, the monotonic time the
renewal was sent (CLOCK_MONOTONIC is the machine's, the same in both processes) and the
lease's seconds. When no pet arrives for the lease less ``WATCHDOG_MARGIN`` of it
after SENT it SIGKILLs every guest process of this host (each guest directory's QEMU,
as the QEMU backend records it: ``backend/qemu/domain.py``'s ``PID_FILE``) and logs
why. That is a little later than the daemon's own fence, so that a living daemon
stops its guests itself, through its backend, and the watchdog only acts for a dead
one; both act before the lease can expire. A later pet (the daemon back, or the
database reached again) makes it watch again.

``stop`` on the FIFO (a daemon stopping on purpose, ``xend stop``, or leaving the pool)
makes it exit without fencing. A daemon on SQLite, which has no lease, has no watchdog
and stops one left from before.

Run: ``python -m xen.xend.daemon.fencewatch STATE_DIR FD SENT LEASE [LOG_FILE]``, FD the
FIFO opened for reading and writing (the daemon hands it over).
"""

import errno
import logging
import os
import select
import signal
import stat
import subprocess
import sys
import time

from ..backend.qemu.domain import proc_starttime, record_process, recorded_process
from ..util.files import unlink_if_exists

log = logging.getLogger("xend.fencewatch")

PID_FILE = "fencewatch.pid"
FIFO = "fencewatch.fifo"
MODULE = "xen.xend.daemon.fencewatch"
# The share of the lease the watchdog keeps in hand: half the daemon's own margin
# (leases.FENCE_MARGIN), so that a living daemon fences first and both before expiry.
WATCHDOG_MARGIN = 1 / 12
STOP_WAIT = 5.0           # seconds a daemon stopping waits for its watchdog to exit


def _alive_as_recorded(pid, starttime, marker):
    """Whether process ``pid`` still has start time ``starttime`` and ``marker`` in its
    command line (a pid reused since is another process)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read()
        return proc_starttime(pid) == starttime and marker in cmdline
    except OSError:
        return False


# -- the daemon's side ------------------------------------------------------------------

class FenceWatch:
    """The daemon's handle on the watchdog of its state directory ``state_dir``;
    ``log_file``: where the watchdog logs ("" : the daemon's stderr)."""

    def __init__(self, state_dir, log_file):
        self.state_dir = state_dir
        self.log_file = log_file
        self.fifo = os.path.join(state_dir, FIFO)
        self.pid_file = os.path.join(state_dir, PID_FILE)
        self._child = None       # the Popen of a watchdog this daemon started

    def running(self):
        """The pid of this state directory's watchdog, or None."""
        recorded = recorded_process(self.state_dir, PID_FILE)
        if recorded is None:
            return None
        pid, starttime = recorded
        return pid if _alive_as_recorded(pid, starttime, MODULE.encode()) else None

    def ensure(self, sent, lease):
        """Adopt the watchdog left by the last daemon, else start one, and pet it."""
        pid = self.running()
        if pid is not None:
            log.info("fence watchdog: adopted (pid %d)", pid)
        else:
            self._start(sent, lease)
        self.pet(sent, lease)

    def _start(self, sent, lease):
        try:
            if not stat.S_ISFIFO(os.lstat(self.fifo).st_mode):
                os.unlink(self.fifo)
                raise FileNotFoundError(self.fifo)
        except FileNotFoundError:
            os.mkfifo(self.fifo, 0o600)
        # The FIFO opened here and handed over, read and write: it has its reader before
        # the first pet, and never reads as closed while no daemon has it open.
        fifo = os.open(self.fifo, os.O_RDWR | os.O_NONBLOCK)
        argv = [sys.executable, "-m", MODULE, self.state_dir, str(fifo), repr(sent),
                repr(lease)]
        if self.log_file:
            argv.append(self.log_file)
        try:
            # Its own session: neither the daemon's death nor its terminal's signals
            # reach it.
            self._child = subprocess.Popen(argv, cwd="/", stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, pass_fds=[fifo],
                                           start_new_session=True)
        finally:
            os.close(fifo)
        record_process(self.state_dir, self._child.pid, PID_FILE)
        log.info("fence watchdog: started (pid %d)", self._child.pid)

    def _send(self, line):
        """Write ``line`` to the watchdog (one write, atomic in a pipe); False when no
        watchdog reads the FIFO."""
        try:
            fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno in (errno.ENXIO, errno.ENOENT):
                return False
            raise
        try:
            os.write(fd, line.encode())
            return True
        except BlockingIOError:     # a full pipe: the watchdog reads no more
            return False
        finally:
            os.close(fd)

    def pet(self, sent, lease):
        """A renewal sent at ``sent`` (monotonic) of a lease of ``lease`` seconds
        succeeded. A watchdog gone is started again."""
        if not self._send("pet %r %r\n" % (sent, lease)):
            log.warning("fence watchdog: not running; starting it again")
            self._start(sent, lease)
            self._send("pet %r %r\n" % (sent, lease))

    def stop(self):
        """Tell the watchdog to exit without fencing (and reap it if it is ours)."""
        if self.running() is None:
            return
        self._send("stop\n")
        if self._child is not None:
            try:
                self._child.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                log.warning("fence watchdog: pid %d did not stop", self._child.pid)
            self._child = None
        unlink_if_exists(self.pid_file)
        log.info("fence watchdog: stopped")


# -- the watchdog process ---------------------------------------------------------------

def kill_guests(state_dir):
    """SIGKILL the QEMU of every guest directory under ``state_dir`` whose recorded
    process still runs; the pids killed."""
    vms = os.path.join(state_dir, "vms")
    try:
        names = os.listdir(vms)
    except FileNotFoundError:
        return []
    killed = []
    for name in names:
        recorded = recorded_process(os.path.join(vms, name))
        if recorded is None:
            continue
        pid, starttime = recorded
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            continue          # gone already
        try:
            # The pidfd pins the pid: the check and the signal reach the same process.
            if _alive_as_recorded(pid, starttime, name.encode()):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                killed.append(pid)
                log.error("VM %s: its QEMU (pid %d) killed (fenced)", name, pid)
        finally:
            os.close(pidfd)
    return killed


def watch(state_dir, fd, sent, lease):
    """Read pets from the FIFO (open on ``fd``) until ``stop``; fence once a pet is
    overdue."""
    fenced = False
    pending = b""
    while True:
        now = time.monotonic()
        left = sent + lease * (1 - WATCHDOG_MARGIN) - now
        if left <= 0 and not fenced:
            log.error("no pet from the daemon for %.1f s (pool_lease_seconds %s: the "
                      "daemon is dead or hangs): fenced, %.1f s before the lease can "
                      "expire; killing this host's guests", now - sent, lease,
                      sent + lease - now)
            killed = kill_guests(state_dir)
            log.error("fenced: %d guest process(es) killed", len(killed))
            fenced = True
        readable, _, _ = select.select([fd], [], [], None if fenced else max(left, 0))
        if not readable:
            continue
        pending += os.read(fd, 4096)
        *lines, pending = pending.split(b"\n")
        for line in lines:
            words = line.decode(errors="replace").split()
            if words == ["stop"]:
                log.info("stopped by the daemon")
                return
            if len(words) == 3 and words[0] == "pet":
                sent, lease = max(sent, float(words[1])), float(words[2])
                if fenced:
                    log.warning("petted again: watching again")
                fenced = False


def main(argv):
    state_dir, fd, sent, lease = argv[0], int(argv[1]), float(argv[2]), float(argv[3])
    handler = (logging.FileHandler(argv[4]) if len(argv) > 4 else logging.StreamHandler())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: "
                                           "%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    log.info("watching (pid %d): fences when no pet comes for %.1f s", os.getpid(),
             lease * (1 - WATCHDOG_MARGIN))
    watch(state_dir, fd, sent, lease)


if __name__ == "__main__":
    main(sys.argv[1:])
