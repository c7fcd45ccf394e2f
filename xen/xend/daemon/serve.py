"""The daemon in this process: build it, serve until a signal, stop it cleanly."""

import gc
import logging
import os
import queue
import select
import signal
import socket
import sys
import threading

from ..transport.listeners import Servers, listeners_from_config
from ..util.files import UnsafeDirectory, private_dir
from .app import VERSION, Xend
from .autostart import Autostart
from .locks import LockBusy, LockFile, state_lock_path
from .logs import setup_logging
from .reload import listen_error, reload

log = logging.getLogger("xend")

# Container allocations between young collections (Python's default is 700): a large
# reply allocates about 100,000 (get_all_records of 10,000 VMs), and each collection
# walks everything young, again and again as it ages, for little garbage.
GC_YOUNG_THRESHOLD = 10000


class CallGate:
    """Stands in for the dispatcher to count the calls being answered.

    The listeners' connection threads are daemon threads nobody joins, so this
    is how a stopping daemon lets in-flight calls finish before it closes the
    store. A call that arrives after ``close()`` (on a kept-alive connection)
    is held until the process exits, which drops its connection unanswered:
    it never runs against a closed store. (A reply is written after its call has
    left the gate, and the records of a get_all_records are built as it is
    written: they only read the store's memory, which closing leaves in place.)"""

    def __init__(self, dispatcher):
        self._dispatcher = dispatcher
        self._busy = 0
        self._closed = False
        self._cond = threading.Condition()

    def __getattr__(self, name):
        # Everything but dispatch (stats for /metrics, resolve, ...) is the dispatcher's.
        return getattr(self._dispatcher, name)

    def dispatch(self, name, params, peer):
        """Answer one call through the dispatcher, counted."""
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._busy += 1
        try:
            return self._dispatcher.dispatch(name, params, peer)
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def close(self, timeout):
        """Refuse new calls, then wait up to ``timeout`` seconds for those running."""
        with self._cond:
            self._closed = True
            if not self._cond.wait_for(lambda: self._busy == 0, timeout):
                log.warning("stopping with %d call(s) still running", self._busy)


def sd_notify(state):
    """Tell systemd (Type=notify units) about the daemon's state; a no-op elsewhere."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):            # an abstract socket
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
        try:
            s.sendto(state.encode(), addr)
        except OSError as e:
            log.warning("cannot notify systemd at %s: %s", addr, e)


class _Signals:
    """SIGTERM, SIGINT and SIGHUP in the order they came, for the main thread to wait on.

    The kernel hands a signal sent to the process to any one of its threads. Python runs
    the handler in the main thread, but only when that thread runs Python code again: a
    main thread asleep on a lock (``queue.get()``) would sleep through a signal taken by a
    listener's thread, and the daemon would never stop. Python's C-level handler also
    writes to the wakeup fd, whichever thread it runs on: the main thread waits on that
    pipe instead, and the handler has run by the time it checks the queue again."""

    def __init__(self):
        self._queue = queue.SimpleQueue()    # put() is called from the signal handler
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        self._old = {sig: signal.signal(sig, lambda signum, _frame: self._queue.put(signum))
                     for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}

    def next(self):
        """The next signal, waiting for it."""
        while True:
            try:
                return self._queue.get_nowait()
            except queue.Empty:
                pass
            select.select([self._wake_r], [], [])
            try:
                os.read(self._wake_r, 512)
            except BlockingIOError:
                pass

    def close(self):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._old_wakeup)
        os.close(self._wake_r)
        os.close(self._wake_w)


def serve(cfg, reload_config=None, ready=None):
    """Run the daemon in this process until SIGTERM or SIGINT.

    SIGHUP re-reads the configuration through ``reload_config()`` and rebuilds
    the listeners, keeping guests, sessions and tasks. ``ready()`` is called once
    every listener accepts connections. A startup failure raises SystemExit with
    a one-line message (its traceback, if any, goes to the log)."""
    os.umask(0o077)   # every file the daemon makes is root's alone
    # The log may live in the state dir (a detached daemon's default): make it first,
    # or refuse one that another user could plant files in.
    try:
        private_dir(cfg["state_dir"])
    except UnsafeDirectory as e:
        raise SystemExit("xend: state dir: %s" % e)
    if cfg["log_file"]:
        os.makedirs(os.path.dirname(cfg["log_file"]), mode=0o700, exist_ok=True)
    setup_logging(cfg)
    state_lock = LockFile(state_lock_path(cfg))
    try:
        state_lock.acquire()
    except LockBusy as e:
        raise SystemExit("xend: another xend (pid %s) is running on %s"
                         % (e.pid or "?", cfg["state_dir"]))
    except OSError as e:   # ELOOP: a symlink in its place, never followed
        raise SystemExit("xend: cannot lock %s: %s" % (state_lock.path, e.strerror or e))
    signals = _Signals()
    try:
        app = Xend(cfg)
    except Exception as e:   # the process boundary: a message for the admin, the rest logged
        log.exception("startup failed")
        state_lock.release()
        raise SystemExit("xend: cannot start: %s" % e)
    gate = app.dispatcher = CallGate(app.dispatcher)
    try:
        servers = Servers(listeners_from_config(app))
    except (OSError, RuntimeError, ValueError) as e:
        log.error("%s", listen_error(cfg, e))
        app.close()
        state_lock.release()
        raise SystemExit("xend: %s" % listen_error(cfg, e))
    settle_heap()
    log.info("xend %s serving", VERSION)   # only now: every listener is bound
    if ready:
        ready()
    autostart = Autostart(app)
    autostart.begin()      # in the background: the listeners are never kept waiting
    try:
        reloads = 0
        while signals.next() == signal.SIGHUP:
            reloads += 1
            servers = reload(app, servers, reload_config, reloads)
    finally:
        log.info("stopping: closing listeners, finishing calls and tasks; guests keep running")
        sd_notify("STOPPING=1")
        autostart.stop(cfg["shutdown_timeout"])
        servers.close()
        gate.close(cfg["shutdown_timeout"] + 5)
        app.close()
        log.info("stopped")
        state_lock.release()
        signals.close()
    if app.restart_requested:
        # pool.join or eject: the same command again in this process (its pid, which a
        # supervisor watches, kept), now on the store the state directory names.
        standard_streams_open()
        os.execv(sys.executable, [sys.executable, "-m", "xen.xend"] + sys.argv[1:])


def standard_streams_open():
    """Make descriptors 0-2 outlive the exec, /dev/null where one is closed. A detached
    daemon's are /dev/null opened by python-daemon, which may leave them close-on-exec
    (it opens /dev/null into the lowest free descriptor, 0, then dup2s 0 onto itself),
    and a Python started without them has no sys.stdin: the command run again could not
    detach."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        try:
            os.set_inheritable(fd, True)
        except OSError:             # closed
            os.dup2(null, fd)
    if null > 2:
        os.close(null)


def settle_heap():
    """Once the daemon is built (the store loaded): move every object alive now out of
    the cyclic collector's sight, and collect the young generation less often.

    The store's records live as long as the daemon; without this every full collection
    walks all of them, and collections come every 700 allocations: building all the
    records of 10,000 VMs at once spent a third of its time in the collector, under a
    tenth with this (docs/performance.md). Start-up's garbage is collected first, so
    that none is frozen with the rest. Frozen objects are still freed when nothing
    refers to them; only a cycle among them would be kept. A reload rebuilds the
    listeners, not the store, so it freezes nothing more. Objects made later (VMs
    created while the daemon runs) are collected as usual: only the threshold helps
    with those."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
