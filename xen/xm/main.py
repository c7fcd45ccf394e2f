"""xm: the classic Xen command line, as a client of the Xen Management API only.

    xm [--socket PATH | --uri URL [--cacert FILE | --fingerprint SHA256]] [--user NAME]
       COMMAND [ARGS...]

The command line is read in two steps: first the connection options and the
command's name, then the command's own arguments with a parser built from its
registration (connection options may also follow the command). Exit status:
0 success; 1 the operation failed (an API error, a bad argument or config
file, an unknown name); 2 xend could not be reached or does not speak the API;
130 interrupted.
"""

import argparse
import os
import sys

from . import commands
from .client import DEFAULT_SOCKET, Client, ConnectError, Failure, XmError
from .output import escape_line

EXIT_FAILED, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 1, 2, 130


class UsageError(Exception):
    """A command line argparse cannot read; carries the parser for its usage line."""

    def __init__(self, parser, message):
        super().__init__(message)
        self.parser = parser


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line raises UsageError: argparse's own exit
    status 2 means "xend is unreachable" for xm."""

    def error(self, message):
        raise UsageError(self, message)


def _connection_options(parser, default):
    group = parser.add_argument_group("connection options")
    group.add_argument("--socket", metavar="PATH", default=default,
                       help="xend's Unix socket (default: $XEND_SOCKET or %s)" % DEFAULT_SOCKET)
    group.add_argument("--uri", metavar="URL", default=default,
                       help="xend over HTTP(S), http://HOST:PORT/; the password comes from "
                            "$XEND_PASSWORD or is asked for")
    group.add_argument("--user", metavar="NAME", default=default,
                       help="the user to log in as (default root)")
    group.add_argument("--cacert", metavar="FILE", default=default,
                       help="with an https:// URL, trust the certificate(s) in FILE, such as "
                            "xend's self-signed xend-cert.pem")
    group.add_argument("--fingerprint", metavar="SHA256", default=default,
                       help="with an https:// URL, trust exactly the certificate with this "
                            "SHA-256 fingerprint (xend logs it when it makes one)")


def _main_parser():
    parser = Parser(prog="xm", add_help=False)
    _connection_options(parser, None)
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("command", nargs="?")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def command_parser(cmd):
    """The argument parser of one command, with its help text."""
    parser = Parser(prog="xm " + cmd.name, description=cmd.summary[0].upper() + cmd.summary[1:]
                    + ".", epilog=cmd.details or None,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    for names, kwargs in cmd.args:
        parser.add_argument(*names, **kwargs)
    if cmd.json:
        parser.add_argument("--json", action="store_true", help="print JSON")
    # SUPPRESS: given here, they override the ones before the command; absent, they don't.
    _connection_options(parser, argparse.SUPPRESS)
    return parser


def overview():
    """The text of "xm help": every command by group, and the connection options."""
    lines = ["usage: xm [--socket PATH | --uri URL [--cacert FILE | --fingerprint SHA256]]",
             "          [--user NAME] COMMAND [ARGS...]", "",
             "The classic Xen command line, talking to xend through the Xen Management API."]
    width = max(len(name) for name in commands.COMMANDS) + 2
    for group in commands.GROUPS:
        lines += ["", group + ":"]
        lines += ["  %s%s" % (c.name.ljust(width), c.summary)
                  for c in commands.COMMANDS.values() if c.group == group]
    lines += ["", "  %shelp on xm or on one command" % "help [COMMAND]".ljust(width), "",
              "Connection (before or after the command):",
              "  --socket PATH   xend's Unix socket (default: $XEND_SOCKET or %s);"
              % DEFAULT_SOCKET,
              "                  root on the socket needs no password",
              "  --uri URL       xend over HTTP(S), e.g. http://host:4464/; the password",
              "                  comes from $XEND_PASSWORD or is asked for",
              "  --user NAME     the user to log in as (default root)",
              "  --cacert FILE   trust the certificate in FILE for https:// (such as",
              "                  xend's self-signed STATE_DIR/xend-cert.pem)",
              "  --fingerprint SHA256",
              "                  trust exactly the certificate with this SHA-256 fingerprint",
              "",
              'Run "xm help COMMAND" for a command\'s arguments. Listings take --json.',
              "Exit status: 0 done, 1 the operation failed, 2 xend cannot be reached."]
    return "\n".join(lines)


def _password(uri, user):
    """Root on the Unix socket is trusted by its uid; over TCP everyone needs a password.
    It is never a command-line argument, which other users of the host could read."""
    password = os.environ.get("XEND_PASSWORD")
    if password is not None or not uri:
        return password or ""
    return commands.ask_password("Password for %s at %s: " % (user, uri))


def _command(name):
    cmd = commands.COMMANDS.get(name)
    if cmd is None:
        raise XmError("there is no command '%s'; run \"xm help\"" % name)
    return cmd


def run(argv):
    """Parse ``argv`` and run the command; returns the exit status or raises."""
    first = _main_parser().parse_args(argv)
    if first.command == "help" and first.args:
        command_parser(_command(first.args[0])).print_help()
        return 0
    if first.help or first.command in (None, "help"):
        print(overview())
        return EXIT_FAILED if first.command is None and not first.help else 0
    cmd = _command(first.command)
    opts = command_parser(cmd).parse_args(first.args)
    for name in ("socket", "uri", "user", "cacert", "fingerprint"):
        if not hasattr(opts, name):
            setattr(opts, name, getattr(first, name))
    if opts.socket and opts.uri:
        raise UsageError(command_parser(cmd), "--socket and --uri cannot be used together")
    user = opts.user or "root"
    client = Client(socket_path=opts.socket or os.environ.get("XEND_SOCKET"), uri=opts.uri,
                    cacert=opts.cacert, fingerprint=opts.fingerprint)
    try:
        client.login(user, _password(opts.uri, user))
        # A command that reports its own failures (one line per VM of "shutdown -a")
        # returns the exit status.
        status = cmd.func(client, opts)
    except Failure as f:
        print("Error: %s" % client.explain(f), file=sys.stderr)
        return EXIT_FAILED
    finally:
        client.logout()
    return status or 0


def main(argv=None):
    """The xm console script: never a traceback, always an exit status."""
    try:
        return run(sys.argv[1:] if argv is None else argv)
    # Messages may quote what the user typed or the server said: one line each, always.
    except UsageError as e:
        e.parser.print_usage(sys.stderr)
        print("%s: error: %s" % (e.parser.prog, escape_line(e)), file=sys.stderr)
    except XmError as e:
        print("Error: %s" % escape_line(e), file=sys.stderr)
    except ConnectError as e:
        print("xm: %s" % escape_line(e), file=sys.stderr)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (xm list | head): stop quietly, and keep Python
        # from complaining again while it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_FAILED
