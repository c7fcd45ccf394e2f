"""Turning wire values into checked Python values, with the API's errors.

Used by dispatch for call parameters and by the constructor for record
fields, so a value is judged the same way wherever it arrives.
"""

import os
import stat

from .errors import ApiError
from .types import NULL_REF, Ref, Set, TypeMismatch

MAX_STRING = 1 << 20   # longest string accepted in any value, in characters
MAX_PATH = 4096        # longest file path accepted (Linux's PATH_MAX)


def check_value(t, value, name, objects, allow_null=True):
    """Convert ``value`` to type ``t``; raise the API error naming ``name`` if it does not fit.

    Refs must name an existing object of the right class (HANDLE_INVALID
    [class, ref]; ``objects``: objects.Objects); a null ref is refused unless
    ``allow_null``.
    """
    try:
        out = t.from_wire(value)
    except TypeMismatch as e:
        if e.bad_value:
            raise ApiError("INVALID_VALUE", name, _show(value)) from None
        raise ApiError("FIELD_TYPE_ERROR", name) from None
    _check_strings(out, name)
    if isinstance(t, Ref):
        _check_ref(t, out, objects, allow_null)
    elif isinstance(t, Set) and isinstance(t.item, Ref):
        for r in out:
            _check_ref(t.item, r, objects, allow_null=False)
    return out


def _check_ref(t, ref, objects, allow_null):
    if ref == NULL_REF:
        if not allow_null:
            raise ApiError("HANDLE_INVALID", t.cls, ref)
        return
    if not objects.is_a(ref, t.cls):
        raise ApiError("HANDLE_INVALID", t.cls, ref)


def _check_strings(v, name):
    """Refuse strings no field may hold: over-long ones and ones with NUL."""
    items = v.items() if isinstance(v, dict) else v if isinstance(v, list) else [v]
    for x in items:
        for s in (x if isinstance(x, tuple) else (x,)):
            if isinstance(s, str) and (len(s) > MAX_STRING or "\x00" in s):
                raise ApiError("INVALID_VALUE", name, _show(s))


def _show(value):
    """A value as an error parameter: a string, cut short."""
    s = str(value)
    return s if len(s) <= 80 else s[:77] + "..."


def check_path(value, field, roots=(), guest_file=False):
    """A file path that QEMU or the daemon will open, checked; returns it normalised.

    ``""`` means "no file" and is returned as it is. Any other value must be a
    string of at most MAX_PATH characters that is absolute (QEMU runs in the VM's
    own directory, where a relative path would mean something else), printable
    (no NUL, newline or other control or separator character that could split or
    disguise it in an argv, a log line or a QMP command) and without "." or ".."
    components (a checked path says where it leads). With ``roots`` (config
    ``path_roots``), it must lie under one of them both as written and with the
    symbolic links that exist now resolved, so that a link inside a root cannot
    lead out of it. Anything else is INVALID_VALUE [field, value], the value ending
    with the reason in parentheses ("(must be absolute)"); FIELD_TYPE_ERROR [field]
    for a non-string.

    With ``guest_file`` (a file a user other than root points a guest at), the path
    must also be what util.guestfiles opens under ``roots``: reached from its root
    through no symbolic link, and, if it is there now, a regular file (no block
    device, FIFO or directory). Such a refusal reads the same whatever the path
    leads to, and whether it is there at all, so it tells a user nothing about the
    host's files.

    Files may be created after the check; the check is only as good as the
    roots are closed: make them directories only root can write to.
    """
    if not isinstance(value, str):
        raise ApiError("FIELD_TYPE_ERROR", field)
    if value == "":
        return value
    reason = ("longer than %d characters" % MAX_PATH if len(value) > MAX_PATH else
              "must be printable" if not value.isprintable() else
              "must be absolute" if not value.startswith("/") else
              "must not have . or .. components"
              if any(part in (".", "..") for part in value.split("/")) else None)
    if reason:
        # Shown escaped when unprintable (the value goes into a log line too), and cut
        # before the reason so that the reason is always seen.
        shown = _show(value if value.isprintable() else ascii(value))
        raise ApiError("INVALID_VALUE", field, "%s (%s)" % (shown, reason))
    path = "/" + os.path.normpath(value).lstrip("/")   # POSIX keeps a leading "//"
    if roots and not any(_under(path, os.path.normpath(r)) and
                         _under(os.path.realpath(path), os.path.realpath(r)) and
                         (not guest_file or _plain_file(path, os.path.normpath(r)))
                         for r in roots):
        raise ApiError("INVALID_VALUE", field, _show("%s (%s %s)" % (
            value, "not a regular file under" if guest_file else "not under",
            ", ".join(roots))))
    return path


def _plain_file(path, root):
    """Whether ``path``, under ``root``, is reached from it through no symbolic link
    and is a regular file or not there (yet)."""
    real_root = os.path.realpath(root)
    if os.path.realpath(path) != os.path.join(real_root, os.path.relpath(path, root)):
        return False
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return True     # the file may come later; it is checked again when opened
    except OSError:
        return False


def _under(path, root):
    """True if ``path`` is ``root`` or inside it (both normalised)."""
    return path == root or path.startswith(root.rstrip("/") + "/")
