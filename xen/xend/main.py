"""The ``xend`` command: start (foreground or detached), stop, status, restart, reload.

How the commands find a running daemon: every daemon holds an exclusive flock on
``STATE_DIR/xend.lock``, and a detached one also on its pid file, each file
holding the daemon's pid. The kernel drops a lock when its process dies, even by
``kill -9``, so a file left behind never blocks a start, a reused pid is never
taken for xend, and ``stop`` knows the daemon is gone when its locks are free
(even while nobody has reaped it yet).
"""

import argparse
import fcntl
import gc
import logging
import os
import queue
import re
import select
import signal
import socket
import sys
import threading
import time

import daemon

from . import config as configmod
from .app import VERSION, Xend
from .files import unlink_if_exists
from .server import Servers, listeners_from_config, parse_listen

log = logging.getLogger("xend")

# LSB exit codes: status says 3 when the daemon is not running, 1 when it died and
# left its pid file, 4 when it cannot tell; other actions say 7 when it is not running.
STATUS_DEAD_PID_FILE, STATUS_NOT_RUNNING, STATUS_UNKNOWN = 1, 3, 4
NOT_RUNNING = 7

START_TIMEOUT = 60.0      # seconds `xend start` waits for the daemon to answer
RELOAD_TIMEOUT = 30.0     # seconds `xend reload` waits for the daemon's verdict

# Keys a reload applies: the listeners (with their admission limits) and the log are
# rebuilt from them, the request limits are read per request. Every other key is
# taken at start only.
RELOADABLE = ("socket", "listen", "tls_listen", "tls_cert", "tls_key", "allow", "tls_allow",
              "max_connections", "max_connections_per_client", "log_file", "log_level",
              "max_request_bytes", "request_timeout", "keepalive_timeout")
# Keys naming files: made absolute, because a detached daemon works in "/".
PATH_KEYS = ("state_dir", "socket", "pid_file", "log_file", "tls_cert", "tls_key")

COMMANDS = ("start", "stop", "status", "restart", "reload")

# Container allocations between young collections (Python's default is 700): a large
# reply allocates about 100,000 (get_all_records of 10,000 VMs), and each collection
# walks everything young, again and again as it ages, for little garbage.
GC_YOUNG_THRESHOLD = 10000


def build_parser():
    """The argument parser of the ``xend`` command."""
    p = argparse.ArgumentParser(prog="xend", description="The Xen Management API daemon.")
    p.add_argument("--version", action="version", version="xend " + VERSION)
    sub = p.add_subparsers(dest="command", required=True)
    helps = {"start": "start the daemon (detached unless --foreground)",
             "stop": "stop the daemon gracefully; guests keep running",
             "status": "tell whether the daemon runs (exit 0 running, 3 not running)",
             "restart": "stop the daemon if it runs, then start it detached",
             "reload": "re-read the configuration and rebuild the listeners"}
    for name in COMMANDS:
        s = sub.add_parser(name, help=helps[name], description=helps[name])
        if name == "start":
            s.add_argument("--foreground", "-f", action="store_true",
                           help="stay in the foreground (for systemd and terminals)")
        if name in ("stop", "restart"):
            s.add_argument("--timeout", type=float, default=90.0,
                           help="seconds to wait for the daemon to exit (default 90)")
        s.add_argument("--config", help="configuration file (default %s)"
                       % configmod.DEFAULT_CONFIG_FILE)
        s.add_argument("--state-dir", dest="state_dir", help="state directory")
        s.add_argument("--socket", help="Unix socket path ('none' turns it off)")
        s.add_argument("--listen", help="TCP ADDR:PORT ('none' turns it off)")
        s.add_argument("--tls-listen", dest="tls_listen",
                       help="HTTPS ADDR:PORT ('none', the default, turns it off)")
        s.add_argument("--backend", choices=["auto", "xen", "qemu", "sim"], help="hypervisor backend")
        s.add_argument("--log-file", dest="log_file",
                       help="log file (default: stderr in the foreground, "
                            "STATE_DIR/xend.log when detached)")
        s.add_argument("--log-level", dest="log_level",
                       choices=["debug", "info", "warning", "error"])
        s.add_argument("--pid-file", dest="pid_file", help="pid file of a detached daemon")
    return p


# C0 and C1 control characters (newline and carriage return among them) and DEL.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class OneLineFormatter(logging.Formatter):
    """Every message on one line: control characters in it are escaped (\\n, \\x1b...), so
    that a client's string (a user name, a method name, a ref) can neither forge a log
    line nor hide one. Only a traceback, which the daemon writes, spans lines."""

    def formatMessage(self, record):
        record.message = _CONTROL.sub(
            lambda m: m.group().encode("unicode_escape").decode("ascii"), record.message)
        return super().formatMessage(record)


def setup_logging(cfg):
    """Send the root logger to the configured file (reopened: SIGHUP serves logrotate)
    or to stderr, at the configured level."""
    handler = (logging.FileHandler(cfg["log_file"]) if cfg["log_file"]
               else logging.StreamHandler(sys.stderr))
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = [handler]
    root.setLevel(cfg["log_level"].upper())


# -- locks that say who runs ----------------------------------------------------

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
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
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
    """The pid in the lock file at ``path`` while a process holds its lock, else None."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
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


# -- the daemon -------------------------------------------------------------------

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


def _listen_error(cfg, e):
    # A bind error does not say which listener failed; name them all.
    return "cannot listen (socket = %r, listen = %r, tls_listen = %r): %s" % (
        cfg["socket"], cfg["listen"], cfg["tls_listen"], e)


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
    # The log may live in the state dir (a detached daemon's default): make it first.
    os.makedirs(cfg["state_dir"], mode=0o700, exist_ok=True)
    if cfg["log_file"]:
        os.makedirs(os.path.dirname(cfg["log_file"]), mode=0o700, exist_ok=True)
    setup_logging(cfg)
    state_lock = LockFile(state_lock_path(cfg))
    try:
        state_lock.acquire()
    except LockBusy as e:
        raise SystemExit("xend: another xend (pid %s) is running on %s"
                         % (e.pid or "?", cfg["state_dir"]))
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
        log.error("%s", _listen_error(cfg, e))
        app.close()
        state_lock.release()
        raise SystemExit("xend: %s" % _listen_error(cfg, e))
    _settle_heap()
    log.info("xend %s serving", VERSION)   # only now: every listener is bound
    if ready:
        ready()
    try:
        reloads = 0
        while signals.next() == signal.SIGHUP:
            reloads += 1
            servers = _reload(app, servers, reload_config, reloads)
    finally:
        log.info("stopping: closing listeners, finishing calls and tasks; guests keep running")
        sd_notify("STOPPING=1")
        servers.close()
        gate.close(cfg["shutdown_timeout"] + 5)
        app.close()
        log.info("stopped")
        state_lock.release()
        signals.close()


def _settle_heap():
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


def _reload(app, servers, reload_config, serial):
    """Apply a new configuration's reloadable keys and rebuild the listeners.

    An unreadable configuration, or a listen address that cannot be bound,
    leaves the daemon as it was. The verdict goes to the log and to
    STATE_DIR/xend.reload, where ``xend reload`` reads it."""
    try:
        new = reload_config() if reload_config else dict(app.config)
    except configmod.ConfigError as e:
        log.error("reload refused: %s", e)
        _write_reload_status(app, serial, "refused: %s" % e)
        return servers
    for key in sorted(k for k in new if k not in RELOADABLE and k != "config_file"
                      and new[k] != app.config.get(k)):
        log.warning("reload: %s changed; it takes effect at the next start", key)
    busy = _addresses_in_use(app.config, new)
    if busy:
        log.error("reload refused: %s", busy)
        _write_reload_status(app, serial, "refused: %s" % busy)
        return servers
    old = {k: app.config[k] for k in RELOADABLE if k in app.config}
    servers.close()
    app.config.update({k: new[k] for k in RELOADABLE if k in new})
    setup_logging(app.config)
    try:
        servers = Servers(listeners_from_config(app))
    except (OSError, RuntimeError, ValueError) as e:
        message = _listen_error(app.config, e)
        log.error("reload failed, back to the old listeners: %s", message)
        app.config.update(old)
        setup_logging(app.config)
        try:
            servers = Servers(listeners_from_config(app))
        except (OSError, RuntimeError, ValueError) as e2:
            # Nobody could reach the daemon any more: better stopped, and seen to.
            log.critical("cannot listen on the old addresses either, stopping: %s", e2)
            raise SystemExit("xend: %s" % _listen_error(app.config, e2))
        _write_reload_status(app, serial, "failed: %s" % message)
        return servers
    log.info("configuration reloaded from %s", new.get("config_file"))
    _write_reload_status(app, serial, "ok")
    return servers


def _addresses_in_use(old, new):
    """Why a TCP address the new configuration adds cannot be bound, or "".

    Checked before the old listeners close, so that the common failure, a port
    some other program holds, leaves the running listeners untouched."""
    for key in ("listen", "tls_listen"):
        if new[key] == old[key]:
            continue
        try:
            addr = parse_listen(new[key])
        except ValueError as e:
            return str(e)
        if addr is None:
            continue
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the listeners
            try:
                probe.bind(addr)
            except OSError as e:
                return "cannot listen on %s = %r: %s" % (key, new[key], e.strerror or e)
    return ""


def reload_status_path(cfg):
    """Where the daemon records the outcome of its last reload."""
    return os.path.join(cfg["state_dir"], "xend.reload")


def _write_reload_status(app, serial, outcome):
    path = reload_status_path(app.config)
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            f.write("%d %d %s\n" % (os.getpid(), serial, outcome))
        os.replace(tmp, path)
    except OSError as e:   # only `xend reload` misses it: the daemon goes on
        log.warning("cannot record the reload's outcome in %s: %s", path, e)


def _read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


# -- detaching --------------------------------------------------------------------

def start_detached(cfg, reload_config=None, timeout=START_TIMEOUT):
    """Start a detached daemon; return once it answers, or exit non-zero with its error.

    This process forks a child that detaches with python-daemon (pid file,
    umask 077, descriptors closed, working directory /) and serves; the child
    reports "ok" or its startup error through a pipe this process reads."""
    pid, why = find_daemon(cfg)
    if pid:
        raise SystemExit("xend: already running (pid %d, holding the %s)" % (pid, why))
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        code = 1
        try:
            os.close(r)
            code = _become_daemon(cfg, reload_config, w)
        finally:
            # Never return into the caller's code: this is a copy of the parent.
            logging.shutdown()
            os._exit(code)
    os.close(w)
    try:
        report = _await_report(r, timeout)
    finally:
        os.close(r)
        os.waitpid(child, 0)    # the child exits as python-daemon detaches
    if report is None:
        raise SystemExit("xend: the daemon did not answer within %ds; see %s"
                         % (timeout, cfg["log_file"]))
    if report != "ok":
        raise SystemExit(report or "xend: the daemon exited while starting; see %s"
                         % cfg["log_file"])
    print("xend started (pid %s), logging to %s"
          % (lock_holder(cfg["pid_file"]) or "?", cfg["log_file"]))
    return 0


def _become_daemon(cfg, reload_config, report_fd):
    """In the forked child: detach, serve, and report the start through ``report_fd``."""
    reported = False

    def report(text):
        nonlocal reported
        if not reported:
            reported = True
            os.write(report_fd, text.encode("utf-8", "replace"))
            os.close(report_fd)

    os.environ.pop("NOTIFY_SOCKET", None)   # systemd did not start this process
    try:
        with daemon.DaemonContext(umask=0o077, working_directory="/", detach_process=True,
                                  files_preserve=[report_fd],
                                  pidfile=LockFile(cfg["pid_file"], remove=True)):
            serve(cfg, reload_config, ready=lambda: report("ok"))
        return 0
    except LockBusy as e:
        report("xend: already running (pid %s, holding the pid file %s)" % (e.pid or "?", e.path))
    except SystemExit as e:   # after "ok" it was logged where it was raised
        report(str(e.code))
    except Exception as e:   # python-daemon's own errors (detach, chdir, ...), or a bug
        log.exception("the daemon failed")
        report("xend: cannot start: %s" % e)
    return 1


def _await_report(fd, timeout):
    """Everything written to ``fd`` until EOF, or None on timeout."""
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        if not select.select([fd], [], [], left)[0]:
            continue
        data = os.read(fd, 4096)
        if not data:
            return b"".join(chunks).decode("utf-8", "replace").strip()
        chunks.append(data)


# -- the commands that talk to a running daemon ------------------------------------

def stop_daemon(cfg, timeout):
    """SIGTERM the daemon and wait for it to exit; 0 also when it was not running."""
    pid, _ = find_daemon(cfg)
    if pid is None:
        print("xend is not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    if not wait_gone(cfg, timeout):
        print("xend: pid %d did not stop within %gs" % (pid, timeout), file=sys.stderr)
        return 1
    return 0


def status(cfg):
    """Print whether the daemon runs; the LSB status exit code."""
    pid, why = find_daemon(cfg)
    if pid:
        print("xend is running (pid %d, holding the %s)" % (pid, why))
        return 0
    if os.path.exists(cfg["pid_file"]):
        print("xend is not running, but its pid file %s remains" % cfg["pid_file"])
        return STATUS_DEAD_PID_FILE
    print("xend is not running")
    return STATUS_NOT_RUNNING


def reload_daemon(cfg, load, timeout=RELOAD_TIMEOUT):
    """Check the configuration, SIGHUP the daemon and wait for its verdict."""
    pid, _ = find_daemon(cfg)
    if pid is None:
        print("xend: not running", file=sys.stderr)
        return NOT_RUNNING
    try:
        load()   # the daemon would refuse a broken file: say so here, where it is read
    except configmod.ConfigError as e:
        print("xend: reload refused: %s" % e, file=sys.stderr)
        return 1
    path = reload_status_path(cfg)
    before = _read_text(path)
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = _read_text(path)
        if now != before and now.startswith("%d " % pid):
            outcome = now.split(" ", 2)[2].strip()
            if outcome == "ok":
                print("xend: configuration reloaded")
                return 0
            print("xend: reload %s" % outcome, file=sys.stderr)
            return 1
        time.sleep(0.05)
    print("xend: no answer to the reload within %gs; see the log" % timeout, file=sys.stderr)
    return 1


# -- the command line --------------------------------------------------------------

def effective_config(args, cwd, detached):
    """The configuration for ``args``: file and flags (config.load), paths made
    absolute against ``cwd``, and the detached daemon's default log file."""
    path = args.config and os.path.join(cwd, args.config)
    overrides = {k: getattr(args, k, None) for k in
                 ("state_dir", "socket", "listen", "tls_listen", "backend", "log_file",
                  "log_level", "pid_file")}
    cfg = configmod.load(path, overrides)
    for key in PATH_KEYS:
        if cfg[key] not in ("", "none"):
            cfg[key] = os.path.join(cwd, cfg[key])
    if detached and not cfg["log_file"]:
        cfg["log_file"] = os.path.join(cfg["state_dir"], "xend.log")
    if args.command in ("start", "restart", "reload"):
        # Only where the listeners are (re)built: stop and status must work even if
        # a certificate went missing under a running daemon.
        configmod.check_tls_files(cfg)
    return cfg


def main(argv=None):
    """Run the ``xend`` command; returns its exit status."""
    args = build_parser().parse_args(argv)
    cwd = os.getcwd()
    detached = args.command in ("start", "restart") and not getattr(args, "foreground", False)

    def load():
        return effective_config(args, cwd, detached)
    try:
        cfg = load()
    except configmod.ConfigError as e:
        print("xend: %s" % e, file=sys.stderr)
        return STATUS_UNKNOWN if args.command == "status" else 1
    try:
        return _run(args, cfg, load)
    except PermissionError as e:   # the state dir and pid file are root's
        print("xend: %s" % e, file=sys.stderr)
        return STATUS_UNKNOWN if args.command == "status" else 1


def _run(args, cfg, load):
    if args.command == "start":
        if not args.foreground:
            return start_detached(cfg, load)

        def ready():
            print("xend %s ready" % VERSION, file=sys.stderr, flush=True)
            sd_notify("READY=1")
        serve(cfg, load, ready)
        return 0
    if args.command == "stop":
        return stop_daemon(cfg, args.timeout)
    if args.command == "status":
        return status(cfg)
    if args.command == "restart":
        if stop_daemon(cfg, args.timeout):
            return 1
        return start_detached(cfg, load)
    return reload_daemon(cfg, load)


if __name__ == "__main__":
    sys.exit(main())
