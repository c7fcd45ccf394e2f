"""Progress and cancellation for whatever operation the current thread runs.

An operation (a VM start, a clone, a disk copy) reports how far it is with
``report(fraction)``. Once it has begun it cannot be cancelled, except inside
a ``cancellable()`` region, which it opens around work that can stop cleanly
(waiting, copying in steps) and in which it offers safe points with
``checkpoint()``; the region's end is a safe point too. A cancel asked outside
such a region is refused, so an accepted cancel is always honoured. When the
operation runs as an API task these reach the task; when it runs
synchronously they cost nothing. No layer needs to know which.
"""

import contextlib
import threading

_local = threading.local()

# The least gain worth passing on: each report that reaches a task updates its record
# and sends an event, and a copy in 1 MiB steps would otherwise send one per MiB.
STEP = 0.001


class Cancelled(Exception):
    """Raised at a safe point after the operation's task was cancelled."""


class Tracker:
    """What a task manager installs for the operation it runs."""

    def __init__(self, on_progress):
        self._on_progress = on_progress
        self.fraction = 0.0
        self.cancel_requested = False
        self.cancellable = True          # while queued; begin() ends that
        # Set while the operation runs on another host (api/forwarding.RemoteTask): a
        # cancel is asked there by calling it, which answers whether it was accepted.
        self.cancel_elsewhere = None
        self._lock = threading.Lock()

    def report(self, fraction):
        # Monotonic and short of 1.0: reaching 100% is the task manager's, at completion.
        fraction = min(fraction, 0.99)
        if fraction >= self.fraction + STEP:
            self.fraction = fraction
            self._on_progress(fraction)

    def request_cancel(self):
        """True if the cancel will be honoured (queued, or in a cancellable region; run
        on another host: if that host's task accepted it)."""
        elsewhere = self.cancel_elsewhere
        if elsewhere is not None and not elsewhere():   # a call: never under the lock
            return False
        with self._lock:
            if not self.cancellable and elsewhere is None:
                return False
            self.cancel_requested = True
            return True

    def elsewhere(self, cancel):
        """The operation runs on another host from now on, where ``cancel()`` asks
        for its cancel (None: no longer)."""
        with self._lock:
            self.cancel_elsewhere = cancel
            self.cancellable = False

    def mirror(self, fraction, cancellable):
        """The operation run elsewhere is ``fraction`` done and may be cancelled now
        (``cancellable``), as its own task there says."""
        self.report(fraction)
        with self._lock:
            self.cancellable = cancellable and self.cancel_elsewhere is not None

    def begin(self):
        """The operation starts: Cancelled if it was cancelled while queued."""
        with self._lock:
            if self.cancel_requested:
                raise Cancelled()
            self.cancellable = False


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


def reporter():
    """``report`` bound to this thread's operation, to call from another thread
    (a backend's event loop); a no-op where no task runs."""
    t = current()
    return t.report if t is not None else (lambda fraction: None)


def checkpoint():
    """A safe point: raise Cancelled if the operation's task was cancelled."""
    t = current()
    if t is not None and t.cancel_requested:
        raise Cancelled()


@contextlib.contextmanager
def cancellable():
    """Work that may stop at its checkpoints; on leaving it, a cancel asked
    meanwhile is honoured (Cancelled) and later ones are refused."""
    t = current()
    if t is None:
        yield
        return
    with t._lock:
        t.cancellable = True
    try:
        yield
    finally:
        with t._lock:
            t.cancellable = False
            requested = t.cancel_requested
    if requested:
        raise Cancelled()
