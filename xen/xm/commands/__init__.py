"""The xm commands. Each is a function ``f(client, opts)`` registered with
``@command``, which also declares its arguments and help; main.py builds the
command line and ``xm help`` from this registry alone.
"""

import argparse
import dataclasses
import getpass
import warnings

from xen.xend.api import lifecycle

from ..client import XmError
from ..output import decode

GROUPS = ("VMs", "Devices", "Networks and storage", "Host, users and events")


@dataclasses.dataclass
class Command:
    """One registered command: what main.py needs to parse, run and describe it."""
    name: str
    func: object
    summary: str          # one line, for "xm help"
    group: str            # one of GROUPS
    args: tuple           # argparse add_argument calls: ((names...), {kwargs})
    details: str          # more help, shown by "xm COMMAND --help"
    json: bool            # takes --json


COMMANDS = {}


def arg(*names, **kwargs):
    """One argument of a command, as argparse's add_argument takes it."""
    return names, kwargs


def command(name, summary, group, args=(), details="", json=False):
    """Register the decorated function as the xm command ``name``."""
    assert group in GROUPS, group

    def register(func):
        COMMANDS[name] = Command(name, func, summary, group, tuple(args), details, json)
        return func
    return register


def lifecycle_help(*ops):
    """The lifecycle table's rows for ``ops``, as help text for the commands that run them."""
    rows = [line for line in lifecycle.describe() if line.split()[1] in ops]
    return "Allowed in these power states (xend's lifecycle table):\n  " + "\n  ".join(rows)


def positive(text):
    """argparse type: a whole number above zero."""
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError("%r is not a positive whole number" % text)
    return int(text)


def all_records(client, cls):
    """[(ref, decoded record)] of every ``cls`` object, sorted by name; the control
    domain's VM (Domain-0) first, as xm has always listed it."""
    records = client.call(cls + ".get_all_records")
    out = [(ref, decode(cls, rec)) for ref, rec in records.items()]
    return sorted(out, key=lambda item: (not lifecycle.is_control_domain(item[1]),
                                         item[1].get("name_label", ""), item[0]))


def ask_password(prompt):
    """Read a password from the terminal without echo (from stdin when there is none)."""
    try:
        # Without a terminal getpass reads stdin and says so in one line of its
        # own; its Python warning on top of that would only add a file name.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", getpass.GetPassWarning)
            return getpass.getpass(prompt)
    except EOFError:
        raise XmError("no password was given")


# Importing the modules registers their commands, in the order "xm help" lists them
# within each group: a VM's lifecycle first, then what changes or inspects it.
from . import vm, vmlive, debug, monitor, boot  # noqa: E402,F401,I001
from . import devices, resources, transfer, host, shell  # noqa: E402,F401,I001
