"""The host, users, tasks and events."""

import os
import re
import sys

from xen.xend.api import datamodel

from ..client import Failure, XmError
from ..output import MIB, decode, format_value, print_json, print_pairs, print_table
from . import all_records, arg, ask_password, command, positive

GROUP = "Host, users and events"

# Event class names are lower case on the wire; records are decoded by the real name.
_CLASS_NAMES = {name.lower(): name for name in datamodel.CLASSES}


def xen_version_pairs(version):
    """Xen's version ("4.17.3-pre") as classic xm info's xen_major, xen_minor and
    xen_extra lines; none for a host without Xen."""
    match = re.match(r"(\d+)\.(\d+)(.*)", version or "")
    if not match:
        return []
    return list(zip(("xen_major", "xen_minor", "xen_extra"), match.groups()))


@command("info", "show the host: its name, memory, software versions and CPUs", GROUP,
         json=True, details="""\
total_memory and free_memory are the hypervisor's, in MiB (Xen's on a Xen host,
the machine's on QEMU); xen_major, xen_minor and xen_extra name Xen's version
on a Xen host, software_version/qemu the QEMU guests run on.""")
def info(client, opts):
    cpus = sorted((rec for _, rec in all_records(client, "host_cpu")),
                  key=lambda rec: rec.get("number", 0))
    hosts = [{"host": rec, "cpus": [c for c in cpus if c.get("host") == ref]}
             for ref, rec in all_records(client, "host")]
    if opts.json:
        print_json(hosts)
        return
    for i, entry in enumerate(hosts):
        host, cpus = entry["host"], entry["cpus"]
        if i:
            print()
        pairs = [("host", host.get("name_label", "")), ("uuid", host.get("uuid", "")),
                 ("enabled", host.get("enabled", True)),
                 # The guests: not the control domain, which every host has one of.
                 ("resident_vms", max(len(set(host.get("resident_VMs", []))) - 1, 0)),
                 ("nr_cpus", len(cpus)),
                 ("total_memory", host.get("memory_total", 0) // MIB),
                 ("free_memory", host.get("memory_free", 0) // MIB),
                 *xen_version_pairs(host.get("software_version", {}).get("xen")),
                 ("cpu_utilisation", ["%.1f%%" % (100 * c.get("utilisation", 0.0))
                                      for c in cpus])]
        if cpus:
            pairs.append(("cpu_features", cpus[0].get("features", [])))
        pairs += [("software_version/" + key, value)
                  for key, value in sorted(host.get("software_version", {}).items())]
        print_pairs(pairs)


@command("user-add", "create a user who may log in over TCP", GROUP, args=[
    arg("name", metavar="NAME", help="the user's short name (login name)"),
    arg("--fullname", default="", help="the user's full name"),
], details="Prints the new user's UUID. Set a password with \"xm passwd NAME\".")
def user_add(client, opts):
    print(client.call("user.create", {"short_name": opts.name, "fullname": opts.fullname}))


@command("user-list", "list the users who may log in", GROUP, json=True)
def user_list(client, opts):
    users = sorted(all_records(client, "user"), key=lambda item: item[1].get("short_name", ""))
    if opts.json:
        print_json([rec for _, rec in users])
        return
    print_table(("Name", "UUID", "Full name"),
                [(rec.get("short_name", ""), ref, rec.get("fullname", ""))
                 for ref, rec in users])


@command("passwd", "set a user's password", GROUP, args=[
    arg("user", metavar="USER", help="the user's short name or UUID"),
], details="""\
Asks for the new password twice, or takes it from the environment variable
XEND_NEW_PASSWORD (passwords are never command-line arguments, which other
users of the host can see).""")
def passwd(client, opts):
    user = client.resolve("user", opts.user)
    password = os.environ.get("XEND_NEW_PASSWORD")
    if password is None:
        password = ask_password("New password for %s: " % opts.user)
        if ask_password("Retype the new password: ") != password:
            raise XmError("the passwords do not match; the password is unchanged")
    client.call("user.set_password", user, password)


@command("task-list", "list asynchronous operations (tasks)", GROUP, json=True, details="""\
Lists the tasks this user may see (root sees all), running and recently
finished, oldest first.""")
def task_list(client, opts):
    tasks = sorted(all_records(client, "task"), key=lambda item: item[1].get("created", ""))
    if opts.json:
        print_json([rec for _, rec in tasks])
        return
    print_table(("UUID", "Operation", "Status", "Progress", "Created", "User"),
                [(ref, rec.get("name_label", ""), rec.get("status", ""),
                  "%d%%" % round(100 * rec.get("progress", 0.0)), rec.get("created", ""),
                  rec.get("user", "")) for ref, rec in tasks], right=(3,))


@command("event-monitor", "print changes to objects as they happen", GROUP, json=True, args=[
    arg("classes", metavar="CLASS", nargs="*",
        help="only these classes (vm, vdi, task, ...); all by default"),
    arg("-n", "--count", type=positive, metavar="N", help="stop after N events"),
], details="""\
One line per event: time, class, operation (add, mod, del), UUID and name.
With --json, one JSON object per line. Runs until interrupted (Ctrl-C) or
until --count events have been printed. Needs a server with event.register
and event.next.""")
def event_monitor(client, opts):
    try:
        client.call("event.register", opts.classes or ["*"])
    except Failure as f:
        if f.code == "MESSAGE_METHOD_UNKNOWN":
            raise XmError("event-monitor is not supported by this server "
                          "(it has no event.register)")
        raise
    printed = 0
    while opts.count is None or printed < opts.count:
        try:
            events = client.call("event.next")
        except Failure as f:
            if f.code != "EVENTS_LOST":
                raise
            print("xm: warning: events were lost; continuing from now", file=sys.stderr)
            continue
        for event in events[:None if opts.count is None else opts.count - printed]:
            _print_event(event, opts.json)
            printed += 1


def _print_event(event, as_json):
    cls = _CLASS_NAMES.get(str(event.get("class", "")).lower())
    snapshot = event.get("snapshot")
    if cls and isinstance(snapshot, dict):
        event = dict(event, snapshot=decode(cls, snapshot))
    if as_json:
        print_json(event, one_line=True)
        return
    snapshot = event.get("snapshot") or {}
    name = snapshot.get("name_label") or snapshot.get("short_name") or ""
    line = "%s %-9s %-4s %s %s" % tuple(format_value(v) for v in (
        event.get("timestamp", ""), event.get("class", ""), event.get("operation", ""),
        event.get("ref", ""), name))
    print(line.rstrip(), flush=True)
