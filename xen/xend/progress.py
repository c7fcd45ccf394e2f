"""Progress and cancellation for whatever operation the current thread runs.

An operation (a VM start, a clone, a disk copy) reports how far it is with
``report(fraction)`` and offers safe points with ``checkpoint()``; around a
stage that cannot be stopped half-way it holds ``uncancellable()``. When the
operation runs as an API task these reach the task; when it runs synchronously
they cost nothing. No layer needs to know which.
"""

import contextlib
import threading

_local = threading.local()


class Cancelled(Exception):
    """Raised at a safe point after the operation's task was cancelled."""


class Tracker:
    """What a task manager installs for the operation it runs."""

    def __init__(self, on_progress):
        self._on_progress = on_progress
        self.fraction = 0.0
        self.cancel_requested = False
        self.cancellable = True
        self._lock = threading.Lock()

    def report(self, fraction):
        # Monotonic and short of 1.0: reaching 100% is the task manager's, at completion.
        fraction = min(max(fraction, self.fraction), 0.99)
        if fraction > self.fraction:
            self.fraction = fraction
            self._on_progress(fraction)

    def request_cancel(self):
        """True if the cancel will be honoured at the next safe point."""
        with self._lock:
            if not self.cancellable:
                return False
            self.cancel_requested = True
            return True


def install(tracker):
    """Make ``tracker`` the current thread's (None removes it)."""
    _local.tracker = tracker


def current():
    return getattr(_local, "tracker", None)


def report(fraction):
    """The current operation is ``fraction`` (0.0-1.0) done."""
    t = current()
    if t is not None:
        t.report(fraction)


def checkpoint():
    """A safe point: raise Cancelled if the operation's task was cancelled."""
    t = current()
    if t is not None and t.cancel_requested:
        raise Cancelled()


@contextlib.contextmanager
def uncancellable():
    """A stage that must finish once begun; a cancel asked meanwhile is refused."""
    t = current()
    if t is None:
        yield
        return
    checkpoint()
    with t._lock:
        t.cancellable = False
    try:
        yield
    finally:
        with t._lock:
            t.cancellable = True
