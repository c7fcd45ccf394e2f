"""Locks that say who runs: how the commands find a running daemon.

Every daemon holds an exclusive flock on ``STATE_DIR/xend.lock``, and a detached
one also on its pid file, each file holding the daemon's pid. The kernel drops a
lock when its process dies, even by ``kill -9``, so a file left behind never
blocks a start, a reused pid is never taken for xend, and ``stop`` knows the
daemon is gone when its locks are free (even while nobody has reaped it yet).
"""

import fcntl
import os
import time

from ..util.files import open_own, unlink_if_exists


class LockBusy(Exception):
    """The lock is held by another process; ``pid`` is its pid (None if unreadable)."""

    def __init__(self, path, pid):
        super().__init__(path, pid)
        self.path, self.pid = path, pid


class LockFile:
    """A file that holds its owner's pid under an exclusive flock while it is held.

    Usable as python-daemon's ``pidfile`` (a context manager). With ``remove``
    the file is deleted on release, as a pid file should be; the state dir's
    lock file stays, since its directory is the daemon's own."""

    def __init__(self, path, remove=False):
        self.path = path
        self.remove = remove
        self.fd = None

    def acquire(self):
        """Take the lock and write our pid in the file; LockBusy if another process has it."""
        os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
        fd = open_own(self.path, os.O_RDWR | os.O_CREAT)
        # A few tries: `xend status` probes with a short shared lock of its own.
        for _ in range(20):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(0.025)
        else:
            os.close(fd)
            raise LockBusy(self.path, lock_holder(self.path))
        os.ftruncate(fd, 0)
        os.write(fd, b"%d\n" % os.getpid())
        self.fd = fd
        return self

    def release(self):
        """Drop the lock (deleting the file first when it is a pid file)."""
        if self.fd is None:
            return
        if self.remove:
            unlink_if_exists(self.path)
        os.close(self.fd)
        self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def lock_holder(path):
    """The pid in the lock file at ``path`` while a process holds its lock, else None.

    A symlink (or FIFO) planted at ``path`` is no daemon's lock: it is not followed
    (another file's lock and digits would be taken for a holder) nor waited on.
    PermissionError where this user may not read it: nobody can tell then."""
    try:
        fd = open_own(path, os.O_RDONLY | os.O_NONBLOCK)
    except PermissionError:
        raise   # "not running" would be a guess: the caller says why it cannot tell
    except OSError:   # missing, or a link (ELOOP)
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        except BlockingIOError:
            pass
        # The holder writes its pid right after it locks: allow it that moment.
        for _ in range(40):
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            if text.isdigit() and int(text) > 0:
                return int(text)
            time.sleep(0.025)
        return None
    finally:
        os.close(fd)


def state_lock_path(cfg):
    """The lock file every daemon holds in its state dir."""
    return os.path.join(cfg["state_dir"], "xend.lock")


def find_daemon(cfg):
    """(pid, why) of the daemon that holds ``cfg``'s pid file or state dir, or (None, "")."""
    pid = lock_holder(cfg["pid_file"])
    if pid:
        return pid, "pid file %s" % cfg["pid_file"]
    pid = lock_holder(state_lock_path(cfg))
    if pid:
        return pid, "state dir %s" % cfg["state_dir"]
    return None, ""


def wait_gone(cfg, timeout):
    """Wait until no daemon holds ``cfg``'s locks; True if that happened in time."""
    deadline = time.monotonic() + timeout
    while find_daemon(cfg)[0] is not None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
