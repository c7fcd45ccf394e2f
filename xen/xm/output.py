"""How xm shows things: aligned tables, "key : value" records, JSON, sizes and states.

Records arrive in wire form (64-bit Ints as decimal strings, dateTimes as
xmlrpc objects); ``decode`` turns them into plain values using the
datamodel's field types, so that JSON output has real numbers.
"""

import json
import re

from xen.xend.api import datamodel, lifecycle
from xen.xend.api.types import Map, Set, TypeMismatch

MIB = 1024 * 1024

# VM power state -> xm's six state flags (r)unning (b)locked (p)aused (s)hutdown
# (c)rashed (d)ying. A Running VM shows "r" only while its vCPUs are busy, as in
# xm, where an idle guest is "blocked" (see vm_state). A Suspended VM has shut down to disk.
# ShuttingDown is on its way out. Unknown has no xm letter.
_STATE_FLAGS = {
    "Halted": "------",
    "Paused": "--p---",
    "Suspended": "---s--",
    "ShuttingDown": "-----d",
    "Unknown": "?-----",
}


def _decode_value(t, value):
    """``value`` read as its datamodel type reads it from the wire (types.py); a value
    that does not fit (a newer server's) is kept as it came. Map keys stay strings."""
    if isinstance(t, Set) and isinstance(value, list):
        return [_decode_value(t.item, v) for v in value]
    if isinstance(t, Map) and isinstance(value, dict):
        return {k: _decode_value(t.value, v) for k, v in value.items()}
    if t is None:     # a field this xm does not know
        return value
    try:
        return t.from_wire(value)
    except TypeMismatch:
        return value


def decode(cls, record):
    """A wire record of class ``cls`` with its values as plain Python values."""
    fields = datamodel.CLASSES[cls]
    out = {}
    for key, value in record.items():
        field = fields.field(key)
        out[key] = _decode_value(field.type if field else None, value)
    return out


def printable(text):
    """``text`` as it may appear in a line of xm's output: a server string with a control
    character (a name with a newline, an escape sequence) is quoted with its control
    characters escaped, 'eve\\nroot', so it can neither split a line or a table row nor
    drive the terminal; anything else is unchanged."""
    text = str(text)
    return text if text.isprintable() else repr(text)


def escape_line(text):
    """A whole message made safe to print as one line: its control characters escaped
    in place (no quotes added, as it is not one value)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def print_escaped(data):
    """Bytes of a log or console as lines of text, control characters escaped."""
    for line in data.decode("utf-8", "replace").splitlines():
        print(escape_line(line.rstrip("\r")))


def print_json(value, one_line=False):
    """Machine-readable output: one JSON document (on one line for streams of them)."""
    # default=str: a dateTime inside a value decode() does not know still prints.
    print(json.dumps(value, indent=None if one_line else 2, sort_keys=True, default=str),
          flush=one_line)


def print_table(headers, rows, right=()):
    """Rows under headers, columns padded to their widest cell; columns whose
    index is in ``right`` are right-aligned (numbers)."""
    cells = [list(map(str, headers))] + [[printable(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for row in cells:
        line = [c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths))]
        print("  ".join(line).rstrip())


def format_value(value):
    """One value on one line: Sets joined by commas, Maps as k=v pairs, strings with
    control characters escaped (see printable)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, dict):
        return ", ".join("%s=%s" % (printable(k), format_value(v))
                         for k, v in sorted(value.items()))
    return printable(value)


def print_pairs(pairs):
    """(key, value) pairs as xm prints records: "key   : value"."""
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        print(("%s : %s" % (key.ljust(width), format_value(value))).rstrip())


def human_size(nbytes):
    """Bytes as a short size with a binary unit: 512M, 1.5G."""
    size = float(nbytes)
    for unit in ("B", "K", "M", "G", "T"):
        if size < 1024 or unit == "T":
            break
        size /= 1024
    text = ("%.1f" % size).rstrip("0").rstrip(".")
    return text + unit


# xm's "r" says a vCPU is on a physical CPU at this instant. From the share of the
# last sample period a vCPU spent on a CPU, "r" is the likelier answer only past one
# half; an idle guest's timer ticks (a percent or two) leave it blocked.
RUNNING_SHARE = 0.5


def vm_state(record):
    """A VM's state in xm's six-flag style: a Running VM is "r" while one of its vCPUs
    was on a CPU for most of the last sample period, else blocked ("b"); a guest kept
    after a crash is "c" (its power state is Paused). The control domain is "r", as
    xm has always shown it: xm itself is on one of its CPUs as it asks."""
    if lifecycle.is_control_domain(record):
        return "r-----"
    if record.get("crashed"):
        return "----c-"
    power = record.get("power_state", "Unknown")
    if power == "Running":
        busy = any(float(u) >= RUNNING_SHARE
                   for u in record.get("VCPUs_utilisation", {}).values())
        return "r-----" if busy else "-b----"
    return _STATE_FLAGS.get(power, _STATE_FLAGS["Unknown"])


def has_domain(record):
    """True while a VM exists on the hypervisor (it gets an ID in listings)."""
    return record.get("power_state") in ("Running", "Paused", "ShuttingDown", "Unknown")


def domain_id(record):
    """A VM's domain ID (VM.domid) while it exists on the hypervisor, else "-"."""
    domid = record.get("domid", -1)
    return domid if has_domain(record) and domid >= 0 else "-"


def duration(seconds):
    """Seconds as xm uptime shows them: "3:02:07", "1 day, 3:02:07", "2 days, 0:00:05"."""
    days, rest = divmod(int(seconds), 86400)
    clock = "%d:%02d:%02d" % (rest // 3600, rest // 60 % 60, rest % 60)
    return "%d day%s, %s" % (days, "" if days == 1 else "s", clock) if days else clock


def vcpu_params(text):
    """A VCPUs/params string as {key: value}, in order (the daemon checked it)."""
    return dict(pair.partition("=")[::2] for pair in re.split(r"[\s;]+", text.strip()) if pair)
