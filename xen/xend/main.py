"""The ``xend`` command: start (foreground or detached), stop, status, restart, reload."""

import argparse
import fcntl
import logging
import os
import signal
import sys
import threading
import time

from . import config as configmod
from .app import VERSION, Xend
from .server import Servers, listeners_from_config

log = logging.getLogger("xend")


def build_parser():
    p = argparse.ArgumentParser(prog="xend", description="The Xen Management API daemon.")
    p.add_argument("--version", action="version", version="xend " + VERSION)
    sub = p.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start the daemon")
    start.add_argument("--foreground", "-f", action="store_true",
                       help="stay in the foreground (for systemd and terminals)")
    for name in ("stop", "status", "restart", "reload"):
        sub.add_parser(name, help="%s the daemon" % name)
    for s in [start] + [sub.choices[n] for n in ("stop", "status", "restart", "reload")]:
        s.add_argument("--config", help="configuration file (default %s)"
                       % configmod.DEFAULT_CONFIG_FILE)
        s.add_argument("--state-dir", dest="state_dir", help="state directory")
        s.add_argument("--socket", help="Unix socket path ('none' turns it off)")
        s.add_argument("--listen", help="TCP ADDR:PORT ('none' turns it off)")
        s.add_argument("--tls-listen", dest="tls_listen",
                       help="HTTPS ADDR:PORT ('none', the default, turns it off)")
        s.add_argument("--backend", choices=["auto", "qemu", "sim"], help="hypervisor backend")
        s.add_argument("--log-file", dest="log_file", help="log file (default stderr)")
        s.add_argument("--log-level", dest="log_level",
                       choices=["debug", "info", "warning", "error"])
        s.add_argument("--pid-file", dest="pid_file", help="pid file of a detached daemon")
    return p


def setup_logging(cfg):
    handler = (logging.FileHandler(cfg["log_file"]) if cfg["log_file"]
               else logging.StreamHandler(sys.stderr))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(cfg["log_level"].upper())


def lock_state_dir(state_dir):
    """Hold an exclusive lock on the state dir for the daemon's life; exit if taken."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(state_dir, "xend.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit("xend: another daemon is running on %s" % state_dir)
    return fd


def serve(cfg, reload_config=None):
    """Run the daemon in this process until SIGTERM or SIGINT; SIGHUP re-reads the
    configuration through ``reload_config()`` and rebuilds the listeners, keeping
    guests, sessions and tasks."""
    os.umask(0o077)   # every file the daemon makes is root's alone
    setup_logging(cfg)
    lock = lock_state_dir(cfg["state_dir"])
    app = Xend(cfg)
    try:
        servers = Servers(listeners_from_config(app))
    except (OSError, RuntimeError, ValueError) as e:
        app.close()
        raise SystemExit("xend: %s" % e)
    stop, hup = threading.Event(), threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: (hup.set(), stop.set()))
    print("xend %s ready" % VERSION, file=sys.stderr, flush=True)
    while True:
        stop.wait()
        if not hup.is_set():
            break
        stop.clear()
        hup.clear()
        servers = _reload(app, servers, reload_config)
    log.info("stopping: closing listeners; guests keep running")
    servers.close()
    app.close()
    os.close(lock)


def _reload(app, servers, reload_config):
    """Re-read the configuration and rebuild the listeners; keep the old ones on error."""
    try:
        new_cfg = reload_config() if reload_config else app.config
    except configmod.ConfigError as e:
        log.error("reload refused: %s", e)
        return servers
    servers.close()
    app.config.update({k: v for k, v in new_cfg.items() if k != "state_dir"})
    setup_logging(app.config)
    try:
        servers = Servers(listeners_from_config(app))
    except (OSError, RuntimeError, ValueError) as e:
        log.error("reload could not rebuild listeners: %s", e)
        raise SystemExit("xend: %s" % e)
    log.info("configuration reloaded")
    return servers


def read_pid(cfg):
    try:
        with open(cfg["pid_file"]) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None


def start_detached(cfg, reload_config=None):
    """Detach with python-daemon (pid file, umask 077, closed descriptors), then serve."""
    import daemon
    import daemon.pidfile
    if read_pid(cfg):
        raise SystemExit("xend: already running (pid %d)" % read_pid(cfg))
    os.makedirs(os.path.dirname(cfg["pid_file"]) or ".", mode=0o700, exist_ok=True)
    if not cfg["log_file"]:
        cfg["log_file"] = os.path.join(cfg["state_dir"], "xend.log")
    os.makedirs(cfg["state_dir"], mode=0o700, exist_ok=True)
    with daemon.DaemonContext(umask=0o077, working_directory="/",
                              pidfile=daemon.pidfile.TimeoutPIDLockFile(cfg["pid_file"], 5)):
        serve(cfg, reload_config)


def stop_daemon(cfg, timeout=30.0):
    pid = read_pid(cfg)
    if pid is None:
        print("xend: not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return 0
        time.sleep(0.1)
    print("xend: pid %d did not stop within %ds" % (pid, timeout), file=sys.stderr)
    return 1


def main(argv=None):
    args = build_parser().parse_args(argv)
    overrides = {k: getattr(args, k, None) for k in
                 ("state_dir", "socket", "listen", "tls_listen", "backend", "log_file",
                  "log_level", "pid_file")}

    def load():
        return configmod.load(args.config, overrides)
    try:
        cfg = load()
    except configmod.ConfigError as e:
        raise SystemExit("xend: %s" % e)
    if args.command == "start":
        if args.foreground:
            serve(cfg, load)
        else:
            start_detached(cfg, load)
        return 0
    if args.command == "stop":
        return stop_daemon(cfg)
    if args.command == "status":
        pid = read_pid(cfg)
        print("xend is running (pid %d)" % pid if pid else "xend is not running")
        return 0 if pid else 3
    if args.command == "restart":
        stop_daemon(cfg)
        start_detached(cfg, load)
        return 0
    if args.command == "reload":
        pid = read_pid(cfg)
        if pid is None:
            print("xend: not running", file=sys.stderr)
            return 1
        os.kill(pid, signal.SIGHUP)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
