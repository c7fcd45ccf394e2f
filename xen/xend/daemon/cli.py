"""The ``xend`` command: start (foreground or detached), stop, status, restart, reload.

The daemon's process layer is this package: ``cli`` (this module) parses the command
line and picks the action; ``config`` reads the configuration; ``app`` builds what the
daemon owns; ``serve`` runs it in this process, ``detach`` in the background, ``reload``
applies SIGHUP; ``control`` talks to a running daemon; ``locks`` finds one; ``logs``
writes the log.
"""

import argparse
import os
import sys
import textwrap

from . import config as configmod
from .app import VERSION
from .control import STATUS_UNKNOWN, reload_daemon, status, stop_daemon
from .detach import start_detached
from .serve import sd_notify, serve

COMMANDS = ("start", "stop", "status", "restart", "reload")
# Keys naming files: made absolute, because a detached daemon works in "/".
PATH_KEYS = ("state_dir", "socket", "pid_file", "log_file", "tls_cert", "tls_key",
             "database_password_file")


def build_parser():
    """The argument parser of the ``xend`` command. Its help ends in the synopsis of
    every command, made from the parsers themselves, so that ``xend --help`` shows
    every flag and backend and never drifts from what is parsed."""
    common = _common_options()
    p = argparse.ArgumentParser(prog="xend", description="The Xen Management API daemon.",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version="xend " + VERSION)
    sub = p.add_subparsers(dest="command", required=True)
    helps = {"start": "start the daemon (detached unless --foreground)",
             "stop": "stop the daemon gracefully; guests keep running",
             "status": "tell whether the daemon runs (exit 0 running, 3 not running, "
                       "1 dead with its pid file left, 4 cannot tell)",
             "restart": "stop the daemon if it runs, then start it detached",
             "reload": "re-read the configuration and rebuild the listeners"}
    synopsis = []
    for name in COMMANDS:
        own = argparse.ArgumentParser(prog="xend " + name, add_help=False)
        if name == "start":
            own.add_argument("--foreground", "-f", action="store_true",
                             help="stay in the foreground (for systemd and terminals)")
        if name in ("stop", "restart"):
            own.add_argument("--timeout", type=float, default=90.0, metavar="SECONDS",
                             help="seconds to wait for the daemon to exit (default 90)")
        sub.add_parser(name, parents=[own, common], help=helps[name],
                       description=helps[name])
        synopsis.append(_usage(own) + " [OPTIONS]")
    synopsis.append("xend --version")
    p.epilog = "synopsis:\n%s\n\nOPTIONS, which every command takes:\n%s" % (
        "\n".join("  " + line for line in synopsis),
        textwrap.fill(_usage(common).removeprefix(common.prog + " "), 78,
                      initial_indent="  ", subsequent_indent="  "))
    return p


def _common_options():
    """A parser of the options every command takes (a parent of each command's)."""
    c = argparse.ArgumentParser(prog="OPTIONS", add_help=False)
    c.add_argument("--config", metavar="FILE", help="configuration file (default %s)"
                   % configmod.DEFAULT_CONFIG_FILE)
    c.add_argument("--state-dir", dest="state_dir", metavar="DIR", help="state directory")
    c.add_argument("--socket", metavar="PATH", help="Unix socket path ('none' turns it off)")
    c.add_argument("--listen", metavar="ADDR:PORT", help="TCP ADDR:PORT ('none' turns it off)")
    c.add_argument("--tls-listen", dest="tls_listen", metavar="ADDR:PORT",
                   help="HTTPS ADDR:PORT ('none', the default, turns it off)")
    c.add_argument("--backend", choices=configmod.BACKENDS, help="hypervisor backend")
    c.add_argument("--log-file", dest="log_file", metavar="FILE",
                   help="log file (default: stderr in the foreground, "
                        "STATE_DIR/xend.log when detached)")
    c.add_argument("--log-level", dest="log_level", choices=configmod.LOG_LEVELS)
    c.add_argument("--pid-file", dest="pid_file", metavar="FILE",
                   help="pid file of a detached daemon")
    return c


def _usage(parser):
    """``parser``'s usage line, on one line, without "usage:"."""
    return " ".join(parser.format_usage().split()[1:])


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
        where = " at %s" % e.filename if e.filename else ""
        print("xend: cannot reach xend%s: permission denied (run as root)" % where,
              file=sys.stderr)
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
