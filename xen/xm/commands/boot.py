"""Host boot and saved guests: autostart, and save and restore to a named file."""

import argparse

from . import arg, command

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
