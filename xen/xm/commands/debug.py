"""Debugging a host and its guests: the hypervisor's log, core dumps, SysRq keys and
triggers."""

from ..output import print_escaped
from . import arg, command, lifecycle_help
from .vm import VM_ARG


@command("dmesg", "show the hypervisor's log on the host (root only)",
         "Host, users and events", args=[
             arg("-c", "--clear", action="store_true",
                 help="clear the log once shown: the next dmesg starts after it"),
         ], details="""\
Xen: Xen's console ring (xl dmesg). QEMU: the host kernel's lines about KVM,
then each running guest's QEMU log, headed by its VM and process (a clear
moves xend's mark past them: the kernel's and QEMU's logs stay). The newest
64 KiB; control characters are shown escaped.""")
def dmesg(client, opts):
    host = client.call("host.get_all")[0]
    method = "host.dmesg_clear" if opts.clear else "host.dmesg"
    print_escaped(client.call(method, host).encode())


@command("dump-core", "write a VM's memory to a core file (root only)", "VMs", args=[
    VM_ARG,
    arg("file", metavar="FILE", nargs="?", default="",
        help="the file to write, absolute (default: a new TIME-NAME.core in xend's "
             "dump directory, STATE_DIR/dump)"),
    arg("-L", "--live", action="store_true",
        help="accepted for classic xm: the dump is always live (the default)"),
    arg("-C", "--crash", action="store_true", help="destroy the VM after the dump"),
], details="""\
The guest keeps running: its vCPUs stop only while its memory is written (an
ELF core file, 0600, as large as the guest's memory). With -C the VM is
destroyed after the dump, as classic xm's crash dump. Prints the file's path.

""" + lifecycle_help("dump_core"))
def dump_core(client, opts):
    vm = client.resolve("VM", opts.vm)
    print(client.long_call("VM.dump_core", vm, opts.file))
    if opts.crash:
        client.call("VM.hard_shutdown", vm)


@command("sysrq", "send a magic SysRq key to a VM's kernel", "VMs", args=[
    VM_ARG, arg("key", metavar="KEY", help="the key: 0-9 (log level) or a letter, e.g. h"),
], details="""\
The guest's kernel acts on it as on alt+sysrq+KEY at its keyboard (QEMU) or
through xenstore (Xen): "h" prints the keys' help on its console, "s" syncs,
"b" reboots at once, "c" crashes it (as a test of actions/after_crash).

""" + lifecycle_help("send_sysrq"))
def sysrq(client, opts):
    client.call("VM.send_sysrq", client.resolve("VM", opts.vm), opts.key)


@command("trigger", "send a VM an NMI, a reset, the power button or an INIT", "VMs", args=[
    VM_ARG, arg("trigger", metavar="TRIGGER", help="nmi, reset, power or init"),
    arg("vcpu", metavar="VCPU", type=int, nargs="?", default=0,
        help="the vCPU it goes to (default 0)"),
], details="""\
reset resets the machine at once (a hard reboot: the VM stays Running); power
presses the ACPI power button, which a guest may heed by shutting down (the
VM's actions_after_shutdown follow); nmi sends a non-maskable interrupt (QEMU
sends it to every vCPU); init is Xen's only.

""" + lifecycle_help("send_trigger"))
def trigger(client, opts):
    client.call("VM.send_trigger", client.resolve("VM", opts.vm), opts.trigger, opts.vcpu)
