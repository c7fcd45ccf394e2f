"""The commands that talk to a running daemon: stop, status, reload."""

import os
import signal
import sys
import time

from xen.xend.util.files import read_text

from . import config as configmod
from .locks import find_daemon, wait_gone
from .reload import reload_status_path

# LSB exit codes: status says 3 when the daemon is not running, 1 when it died and
# left its pid file, 4 when it cannot tell; other actions say 7 when it is not running.
STATUS_DEAD_PID_FILE, STATUS_NOT_RUNNING, STATUS_UNKNOWN = 1, 3, 4


NOT_RUNNING = 7

RELOAD_TIMEOUT = 30.0     # seconds `xend reload` waits for the daemon's verdict


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
        new = load()   # the daemon would refuse a broken file: say so here, where it is read
    except configmod.ConfigError as e:
        print("xend: reload refused: %s" % e, file=sys.stderr)
        return 1
    path = reload_status_path(cfg)
    before = read_text(path)
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = read_text(path)
        if now != before and now.startswith("%d " % pid):
            outcome = now.split(" ", 2)[2].strip()
            if outcome == "ok":
                print("xend: %s" % configmod.reloaded(new))
                return 0
            print("xend: reload %s" % outcome, file=sys.stderr)
            return 1
        time.sleep(0.05)
    print("xend: no answer to the reload within %gs; see the log" % timeout, file=sys.stderr)
    return 1
