"""A guest's console at xm's terminal, through the daemon's console proxy.

``find`` picks a running VM's console of one protocol from its console records;
``attach`` connects to the vt100 one (``CONNECT /console``) and copies bytes both
ways until Ctrl-] detaches (the guest keeps running) or the stream ends (the guest
stopped). At a terminal, the terminal is put in raw mode, so every key (Ctrl-C
included) goes to the guest, and its modes are restored on every way out: a
detach, the guest's end, an error, SIGTERM or SIGHUP.
"""

import contextlib
import os
import select
import signal
import ssl
import sys
import termios
import tty

from .client import ConnectError, XmError

DETACH = b"\x1d"        # Ctrl-], as in classic xm and xl
CHUNK = 65536
WHAT = {"vt100": "text console", "rfb": "display"}    # each protocol's console, in messages


def find(client, vm, protocol):
    """The ref of running VM ``vm``'s console of ``protocol``; XmError if it has none."""
    for ref in client.call("VM.get_consoles", vm):
        if client.call("console.get_protocol", ref) == protocol:
            return ref
    state = client.call("VM.get_power_state", vm)
    if state not in ("Running", "Paused"):
        raise XmError("%s is not running (it is %s)" % (client.label(vm), state))
    raise XmError("%s has no %s" % (client.label(vm), WHAT[protocol]))


@contextlib.contextmanager
def _raw_terminal(fd):
    """The terminal on ``fd`` in raw mode for the block, its modes restored after;
    SIGTERM and SIGHUP end the block too (as an exit with 128 + the signal's number)
    so that they restore the modes as well."""
    saved = termios.tcgetattr(fd)

    def leave(signum, frame):
        raise SystemExit(128 + signum)
    handlers = {sig: signal.signal(sig, leave) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def attach(client, vm, mode="write"):
    """Copy VM ``vm``'s vt100 console to stdout, and with ``mode`` "write" stdin to it,
    until the user detaches or the guest stops; "read" only watches. At a terminal,
    raw mode and Ctrl-] to detach; without one, stdin's bytes all go to the guest
    and the command runs until the guest stops."""
    ref = find(client, vm, "vt100")
    sock, first = client.connect_stream("/console", ref=ref, mode=mode)
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    at_terminal = os.isatty(stdin)
    sys.stdout.flush()
    try:
        with sock, (_raw_terminal(stdin) if at_terminal else contextlib.nullcontext()):
            ended = _copy(sock, first, stdin if at_terminal or mode == "write" else None,
                          stdout, mode == "write", at_terminal)
    except (ConnectionError, TimeoutError, ssl.SSLError) as e:
        raise ConnectError("the console stream from %s broke: %s" % (client.where, e))
    if at_terminal:
        print()           # what follows starts a line of its own
    if ended:
        print("xm: the console of %s has closed: its guest stopped" % client.label(vm),
              file=sys.stderr)


def _copy(sock, first, stdin, stdout, typing, at_terminal):
    """Pump bytes until Ctrl-] (at a terminal) or the stream's end; True if the
    stream ended. ``stdin`` None: nothing is read from it; ``typing`` False: what is
    read is dropped (read-only, where only Ctrl-] counts)."""
    os.write(stdout, first)
    sources = [sock] if stdin is None else [sock, stdin]
    while True:
        # A TLS socket may hold decrypted bytes select() cannot see.
        ready = [sock] if getattr(sock, "pending", lambda: 0)() else \
            select.select(sources, [], [])[0]
        if sock in ready:
            data = sock.recv(CHUNK)
            if not data:
                return True
            os.write(stdout, data)
        if stdin in ready:
            keys = os.read(stdin, CHUNK)
            if not keys:                  # stdin's end: keep watching the guest
                sources = [sock]
                continue
            if at_terminal and DETACH in keys:
                keys = keys[:keys.index(DETACH)]
                if typing and keys:
                    sock.sendall(keys)
                return False
            if typing:
                sock.sendall(keys)


def dump(client, vm):
    """VM ``vm``'s vt100 console's recent history, as bytes (its stream up to EOF)."""
    ref = find(client, vm, "vt100")
    sock, data = client.connect_stream("/console", ref=ref, mode="dump")
    with sock:
        while True:
            chunk = sock.recv(CHUNK)
            if not chunk:
                return data
            data += chunk
