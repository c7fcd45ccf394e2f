"""``xend start`` without --foreground: fork, detach with python-daemon, report back."""

import logging
import os
import select
import time

import daemon

from .locks import LockBusy, LockFile, find_daemon, lock_holder
from .serve import serve

log = logging.getLogger("xend")

START_TIMEOUT = 60.0      # seconds `xend start` waits for the daemon to answer


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
