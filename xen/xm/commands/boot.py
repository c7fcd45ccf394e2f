"""Host boot and saved guests: autostart, and save and restore to a named file."""

import argparse

from . import arg, command, lifecycle_help

VM_ARG = arg("vm", metavar="VM", help="the VM's name or UUID")


def _whole(text):
    """argparse type: a whole number, zero or more."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError("%r is not a whole number" % text)
    return int(text)


@command("autostart", "show or set whether a VM starts when the host boots", "VMs", args=[
    VM_ARG,
    arg("setting", metavar="on|off", nargs="?", choices=("on", "off"),
        help="turn autostart on or off (left out: show the settings)"),
    arg("--order", type=int, metavar="N", help="the VM's place in the sequence: lower first"),
    arg("--delay", type=_whole, metavar="S",
        help="seconds to wait after starting this VM before the next"),
], details="""\
When xend starts after a host boot (not after a restart of xend alone), it
starts the VMs with autostart on, one at a time: lower --order first, VMs of
the same order by name, waiting --delay seconds after each. Sets
other_config:auto_poweron, order and start_delay; prints the three settings
when neither on|off nor an option is given.""")
def autostart(client, opts):
    vm = client.resolve("VM", opts.vm)
    if opts.setting == "on":
        client.call("VM.add_to_other_config", vm, "auto_poweron", "true")
    elif opts.setting == "off":
        client.call("VM.remove_from_other_config", vm, "auto_poweron")
    if opts.order is not None:
        client.call("VM.set_order", vm, str(opts.order))
    if opts.delay is not None:
        client.call("VM.set_start_delay", vm, str(opts.delay))
    if opts.setting is None and opts.order is None and opts.delay is None:
        on = client.call("VM.get_other_config", vm).get("auto_poweron") == "true"
        print("autostart %s, order %s, delay %ss" % (
            "on" if on else "off", client.call("VM.get_order", vm),
            client.call("VM.get_start_delay", vm)))


@command("save", "save a running VM's memory to a file and halt it", "VMs", args=[
    VM_ARG, arg("file", metavar="FILE", help="the new file, an absolute path on xend's host"),
], details=lifecycle_help("save") + """

Root only. The file (0600) holds the guest's memory and the VM's record and
devices; an existing file is never overwritten. "xm restore FILE" runs it
again, here or on another xend of this host with the same backend.""")
def save(client, opts):
    client.long_call("VM.save", client.resolve("VM", opts.vm), opts.file)


@command("restore", "run a VM again from a file \"xm save\" wrote", "VMs", args=[
    arg("file", metavar="FILE", help="the file, an absolute path on xend's host"),
    arg("-p", "--paused", action="store_true", help="leave it Paused"),
], details=lifecycle_help("restore", "restore_paused") + """

Root only. The VM of the file's UUID if xend has it (Halted), else a VM made
from the file's record: its disks must be on this host (the same VDI, a VDI of
the same image file, or a file in the directory of an SR made with
"xm sr-introduce", which is adopted). Prints the VM's UUID.""")
def restore(client, opts):
    print(client.long_call("VM.restore", opts.file, opts.paused))
