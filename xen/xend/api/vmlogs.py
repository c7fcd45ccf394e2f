"""A VM's logs for its users: what GET /vm-log answers (and so ``xm log``).

Three kinds, each the last bytes of what the host keeps for the VM:

* ``qemu``: the hypervisor process's own output, ``qemu.log`` in the VM's directory;
* ``console``: the guest's serial console, ``console.log.1`` then ``console.log`` there
  (the capped log and the generation before it);
* ``daemon``: the lines of the daemon's log file that name the VM's uuid (its starts and
  stops among them), found in the file's last ``DAEMON_TAIL`` bytes only, so that a
  request's work is bounded whatever the log's size.

Who may read them: the session's user, for a VM they may see; the daemon's lines only
root, as the daemon's log is root's file and its lines may name other users and host
paths. Everything wrong is an ApiError (the transport makes an HTTP status of it).
"""

import os

from ..util.files import open_own
from .dispatch import Call
from .errors import ApiError

KINDS = {"qemu": ("qemu.log",), "console": ("console.log.1", "console.log")}
DAEMON = "daemon"

DEFAULT_BYTES = 64 * 1024        # what a request without ``bytes`` gets at most
MAX_BYTES = 1024 * 1024          # the most a request may ask for
DAEMON_TAIL = 8 * MAX_BYTES      # the bytes of the daemon's log searched for a VM's lines


def vm_log(app, session_ref, vm_ref, kind, nbytes=None):
    """The last ``nbytes`` (DEFAULT_BYTES if None; a decimal string or int, 1 to
    MAX_BYTES) of ``vm_ref``'s log of ``kind`` (KINDS or DAEMON), as bytes; b"" where
    the VM has none yet. SESSION_INVALID, HANDLE_INVALID [VM, ref], INVALID_VALUE
    [kind|bytes, value], PERMISSION_DENIED (daemon lines, for a user other than root)."""
    call = Call(app, "VM.log", session=app.sessions.check(session_ref))
    if app.store.class_of(vm_ref) != "VM":
        raise ApiError("HANDLE_INVALID", "VM", vm_ref)
    app.handlers["VM"].require_visible(call, vm_ref)
    if kind not in KINDS and kind != DAEMON:
        raise ApiError("INVALID_VALUE", "kind", kind)
    limit = _byte_count(nbytes)
    if kind != DAEMON:
        directory = app.domains.vm_dir(vm_ref)
        return _tail(b"".join(_tail_of(os.path.join(directory, name), limit)[0]
                              for name in KINDS[kind]), limit)
    if not call.is_root:
        raise ApiError("PERMISSION_DENIED", "only root may read the daemon's log")
    log_file = app.config.get("log_file")
    if not log_file:          # the daemon logs to stderr: it has no file to read back
        return b""
    needle = vm_ref.encode("utf-8")
    text, cut = _tail_of(log_file, DAEMON_TAIL)
    # The first line of a cut tail may be a fragment: only whole lines are shown.
    lines = text.splitlines(keepends=True)[1 if cut else 0:]
    return _tail(b"".join(line for line in lines if needle in line), limit)


def daemon_log(app, limit=DEFAULT_BYTES):
    """The last ``limit`` bytes of the daemon's log file, whole lines only, for root's
    host.get_log; b"" where the daemon logs to stderr."""
    log_file = app.config.get("log_file")
    if not log_file:
        return b""
    text, cut = _tail_of(log_file, limit)
    return text.split(b"\n", 1)[1] if cut and b"\n" in text else text


def _byte_count(nbytes):
    """``nbytes`` as an int from 1 to MAX_BYTES; INVALID_VALUE [bytes, value] if not."""
    if nbytes is None:
        return DEFAULT_BYTES
    try:
        n = int(nbytes)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_BYTES:
        raise ApiError("INVALID_VALUE", "bytes", str(nbytes))
    return n


def _tail(data, limit):
    return data[-limit:] if len(data) > limit else data


def _tail_of(path, limit):
    """(the last ``limit`` bytes of the file ``path``, whether its start was cut off);
    never through a symlink; (b"", False) if it is not there."""
    try:
        fd = open_own(path, os.O_RDONLY)
    except FileNotFoundError:
        return b"", False
    with open(fd, "rb") as f:
        start = max(0, os.fstat(fd).st_size - limit)
        f.seek(start)
        return f.read(limit), start > 0
