"""``xm shell``: many commands over one connection and one login, typed at a prompt
or read from stdin, as classic xm's shell was. Each line is split as the shell
would split it (quotes, backslashes, ``#`` comments) and run like a command line of
its own; an error is printed and the shell goes on."""

import shlex
import sys

from ..client import Failure, XmError
from . import COMMANDS, command

PROMPT = "xm> "
LEAVE = ("quit", "exit")


@command("shell", "run xm commands typed one per line, over one connection",
                  "Host, users and events", details="""\
Reads commands (without the leading "xm") from the terminal at an "xm> " prompt, or
from stdin without one, until "quit", "exit" or end of input. Connection options
are those given to "xm shell" itself. Exit status: 1 if any command failed.""")
def shell(client, opts):
    """Read and run command lines until the input ends; raise XmError if any failed."""
    from ..main import UsageError, command_parser  # main imports this registry
    interactive = sys.stdin.isatty()
    if interactive:
        import readline  # noqa: F401  (line editing and history for input())
    failed = 0
    while True:
        try:
            line = input(PROMPT if interactive else "")
        except EOFError:
            break
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:
            print("Error: %s" % e, file=sys.stderr)
            failed += 1
            continue
        if not words:
            continue
        if words[0] in LEAVE:
            break
        try:
            cmd = COMMANDS.get(words[0])
            if cmd is None or cmd.func is shell:
                raise XmError("there is no command '%s' in the shell" % words[0])
            args = command_parser(cmd).parse_args(words[1:])
            cmd.func(client, args)
        except SystemExit:          # --help printed its text
            pass
        except UsageError as e:
            print("xm %s: error: %s" % (words[0], e), file=sys.stderr)
            failed += 1
        except Failure as f:
            print("Error: %s" % client.explain(f), file=sys.stderr)
            failed += 1
        except XmError as e:
            print("Error: %s" % e, file=sys.stderr)
            failed += 1
    if interactive:
        print()
    if failed:
        raise XmError("%d command%s failed" % (failed, "" if failed == 1 else "s"))
