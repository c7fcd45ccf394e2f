"""VM commands: listing, creating from a config file, the lifecycle, and settings."""

import sys

from xen.xend.api import lifecycle

from .. import config, console, provision, vnc
from ..client import Failure, XmError
from ..output import (
    MIB,
    decode,
    domain_id,
    escape_line,
    has_domain,
    print_escaped,
    print_json,
    print_pairs,
    print_table,
    printable,
    vcpu_params,
    vm_state,
)
from . import all_records, arg, command, lifecycle_help, positive

VM_ARG = arg("vm", metavar="VM", help="the VM's name, UUID or domain ID")

# How long "shutdown -w" waits for Halted after the shutdown call has returned.
SHUTDOWN_WAIT = 300

CONFIG_HELP = """\
CONFIG is an xm/xl configuration file, read as data (never executed):

  name = "vm1"                       memory = 256      # MiB
  maxmem = 512                       vcpus = 2
  kernel = "/boot/vmlinuz"           ramdisk = "/boot/initrd.img"
  root = "/dev/xvda1 ro"             extra = "console=hvc0"
  disk = ['file:/srv/vm1.img,xvda,w', 'file:/srv/cd.iso,hdc:cdrom,r']
  vif = ['mac=00:16:3e:00:00:01,bridge=xenbr0']
  on_poweroff = "destroy"            on_reboot = "restart"
  on_crash = "restart"               boot = "c"        cdrom = "/srv/cd.iso"

or a VM's to_XML output. A file: disk becomes a VDI named after the file in
the first SR (an SR of type "dir" is made if there is none); the VDI of that
name already in the SR is reused (not its snapshots or clones, whose parent it
is; two VDIs of that name without a parent are an error). The API cannot adopt
an image file, so a new VDI is an empty disk as large as the file's disk (a
tap:qcow2: image's virtual size, from its header). A vif joins the network
whose name or NIC is its bridge (made if absent; xenbr0 when none is given).
If anything fails, nothing is left behind."""


# ``xm list --state`` values: each VM's power state, and "crashed" for a guest kept
# after a crash (whose power state is Paused; it is "crashed", not "paused").
STATES = {"running": "Running", "paused": "Paused", "halted": "Halted",
          "suspended": "Suspended", "shuttingdown": "ShuttingDown", "unknown": "Unknown",
          "crashed": "crashed"}


def state_of(record):
    """The --state word of a VM record (a key of STATES)."""
    if record.get("crashed"):
        return "crashed"
    return record.get("power_state", "Unknown").lower()


def vm_row(rec):
    """The list row of one VM."""
    memory = rec.get("memory_actual", 0) if has_domain(rec) else 0
    return (rec.get("name_label", ""), domain_id(rec),
            (memory or rec.get("memory_dynamic_max", 0)) // MIB,
            rec.get("VCPUs_number", 0), vm_state(rec), "%.1f" % rec.get("VCPUs_CPU_time", 0.0))


def vm_records(client, names):
    """[(ref, decoded record)] of the named VMs in the order given, or of all VMs by name."""
    if not names:
        return all_records(client, "VM")
    refs = dict.fromkeys(client.resolve("VM", n) for n in names)
    return [(ref, decode("VM", client.call("VM.get_record", ref))) for ref in refs]


@command("list", "list VMs", "VMs", json=True, args=[
    arg("vms", metavar="VM", nargs="*", help="only these VMs (names, UUIDs or IDs)"),
    arg("-l", "--long", action="store_true", help="print every field of each VM"),
    arg("--state", type=str.lower, choices=sorted(STATES), metavar="STATE",
        help="only VMs in this state: %s" % ", ".join(sorted(STATES))),
], details="""\
Columns: Name; ID, the domain ID of each VM that exists on the hypervisor
(Running, Paused, ShuttingDown, Unknown; VM.domid), "-" for Halted and
Suspended VMs; Mem, in MiB (the current allocation, or dynamic_max when the VM
is not running); VCPUs; State, as xm shows it (r running, b blocked/idle, p
paused, s shut down or suspended, c crashed and kept, d dying/shutting down);
Time(s), the CPU seconds the VM's vCPUs used (VM.VCPUs_CPU_time). The first
row is Domain-0, the control domain: the machine the daemon runs in (dom0 on
Xen, the host itself on QEMU: its memory and CPUs), a VM of the API whose
operations are refused. --json prints the full records.""")
def list_vms(client, opts):
    records = [(ref, rec) for ref, rec in vm_records(client, opts.vms)
               if opts.state in (None, state_of(rec))]
    if opts.json:
        print_json([rec for _, rec in records])
        return
    if opts.long:
        for i, (_, rec) in enumerate(records):
            if i:
                print()
            print_pairs(list(rec.items()))
        return
    rows = [vm_row(rec) for _, rec in records]
    print_table(("Name", "ID", "Mem", "VCPUs", "State", "Time(s)"), rows, right=(1, 2, 3, 5))


CONSOLE_ARG = arg("-c", "--console", action="store_true",
                  help="attach to the VM's console once it has started (Ctrl-] detaches)")


def _provision(client, path, start):
    """Create (and with ``start``, start) the VM of config file ``path``; its ref."""
    cfg = config.load(path)
    for warning in cfg.warnings:
        print("xm: warning: %s" % escape_line(warning), file=sys.stderr)
    vm = provision.create(client, cfg, start)
    print("%s VM %s (%s)" % ("Started" if start else "Created", printable(cfg.name), vm))
    return vm


@command("create", "create a VM from a config file and start it", "VMs",
         args=[arg("config", metavar="CONFIG", help="an xm config file or a VM's to_XML"),
               CONSOLE_ARG],
         details=CONFIG_HELP)
def create(client, opts):
    vm = _provision(client, opts.config, start=True)
    if opts.console:
        console.attach(client, vm)


@command("new", "create a VM from a config file, Halted", "VMs",
         args=[arg("config", metavar="CONFIG", help="an xm config file or a VM's to_XML")],
         details=CONFIG_HELP)
def new(client, opts):
    _provision(client, opts.config, start=False)


@command("delete", "delete a Halted VM (its disks stay)", "VMs", args=[VM_ARG],
         details=lifecycle_help("delete"))
def delete(client, opts):
    client.call("VM.delete", client.resolve("VM", opts.vm))


@command("start", "start a Halted VM", "VMs", args=[
    VM_ARG, arg("-p", "--paused", action="store_true", help="leave it Paused"), CONSOLE_ARG,
], details=lifecycle_help("start", "start_paused"))
def start(client, opts):
    vm = client.resolve("VM", opts.vm)
    client.long_call("VM.start", vm, opts.paused)
    if opts.console:
        console.attach(client, vm)


@command("console", "attach the terminal to a running VM's text console", "VMs", args=[
    VM_ARG,
    arg("--read-only", action="store_true", help="watch only: nothing typed reaches the guest"),
    arg("--dump", action="store_true", help="print the console's recent output and exit"),
], details="""\
Shows the console's recent output first, then what the guest prints; what is
typed goes to the guest (the terminal is in raw mode: Ctrl-C too). Ctrl-]
detaches and leaves the guest running; the command also ends when the guest
stops. Another client attaching to type takes the console over (this one is
told). Without a terminal (a script), stdin's bytes all go to the guest and the
command runs until the guest stops. --dump prints the recent output with its
control characters escaped, as "xm log" does, and exits.""")
def console_(client, opts):
    if opts.dump and opts.read_only:
        raise XmError("--dump and --read-only cannot be used together")
    vm = client.resolve("VM", opts.vm)
    if opts.dump:
        print_escaped(console.dump(client, vm))
    else:
        console.attach(client, vm, "read" if opts.read_only else "write")


@command("pause", "pause a Running VM", "VMs", args=[VM_ARG], details=lifecycle_help("pause"))
def pause(client, opts):
    client.call("VM.pause", client.resolve("VM", opts.vm))


@command("unpause", "let a Paused VM run again", "VMs", args=[VM_ARG],
         details=lifecycle_help("unpause"))
def unpause(client, opts):
    client.call("VM.unpause", client.resolve("VM", opts.vm))


def _ask_guest(client, method, vm):
    """Start ``method`` (a clean shutdown or reboot) and return without waiting for it,
    as classic xm did without -w: the guest may take up to xend's shutdown_timeout.
    The Async call is checked as the plain one would be, so a VM in the wrong state is
    still an error here; its task finishes on the server, which collects it later."""
    client.call("Async." + method, vm)


ALL_ARG = arg("-a", "--all", action="store_true",
              help="every VM resident on the host (Running, Paused, ...), one after another")


def _each_vm(client, opts, act):
    """``act(vm)`` on the VM named, or with -a on each resident VM in turn: a VM that
    fails is reported on a line of its own and the others go on; the exit status."""
    if opts.all == bool(opts.vm):
        raise XmError("give either a VM or -a")
    if not opts.all:
        act(client.resolve("VM", opts.vm))
        return 0
    failed = 0
    for ref, rec in all_records(client, "VM"):
        if not has_domain(rec) or rec.get("is_a_template") or lifecycle.is_control_domain(rec):
            continue        # -a: the guests, not the machine xm's daemon runs in
        name = rec.get("name_label", "") or ref
        client.remember(ref, name)    # errors name the VM as the user knows it
        try:
            act(ref)
        except Failure as f:
            failed += 1
            print("Error: %s: %s" % (printable(name), client.explain(f)), file=sys.stderr)
    return 1 if failed else 0


def _shutdown(client, vm, wait):
    if wait:
        client.long_call("VM.clean_shutdown", vm)
        client.wait_for_power_state(vm, "Halted", SHUTDOWN_WAIT)
    else:
        _ask_guest(client, "VM.clean_shutdown", vm)


def _reboot(client, vm, wait):
    if wait:
        client.long_call("VM.clean_reboot", vm)
    else:
        _ask_guest(client, "VM.clean_reboot", vm)


@command("shutdown", "ask a VM's guest (or every guest) to shut down or reboot", "VMs", args=[
    arg("vm", metavar="VM", nargs="?", help="the VM's name or UUID"), ALL_ARG,
    arg("-w", "--wait", action="store_true",
        help="wait until the VM is Halted (with -R: has rebooted)"),
    arg("-H", "--halt", action="store_true", help="shut down (the default)"),
    arg("-R", "--reboot", action="store_true", help="reboot instead, as \"xm reboot\""),
], details="""Returns at once unless -w is given. With -a, each VM that fails is reported on
a line of its own ("Error: NAME: why"), the others are still asked, and the
exit status is 1 if any failed.

""" + lifecycle_help("clean_shutdown", "clean_reboot"))
def shutdown(client, opts):
    if opts.halt and opts.reboot:
        raise XmError("-H and -R cannot be used together")
    act = _reboot if opts.reboot else _shutdown
    return _each_vm(client, opts, lambda vm: act(client, vm, opts.wait))


@command("reboot", "ask a VM's guest (or every guest) to reboot", "VMs", args=[
    arg("vm", metavar="VM", nargs="?", help="the VM's name or UUID"), ALL_ARG,
    arg("-w", "--wait", action="store_true",
        help="wait until the VM has rebooted (is Running again)"),
], details="Returns at once unless -w is given; -a as for \"xm shutdown\".\n\n"
   + lifecycle_help("clean_reboot"))
def reboot(client, opts):
    return _each_vm(client, opts, lambda vm: _reboot(client, vm, opts.wait))


@command("destroy", "stop a VM at once, without asking its guest", "VMs", args=[VM_ARG],
         details=lifecycle_help("hard_shutdown"))
def destroy(client, opts):
    client.call("VM.hard_shutdown", client.resolve("VM", opts.vm))


@command("suspend", "save a VM's state to disk and stop it", "VMs", args=[VM_ARG],
         details=lifecycle_help("suspend"))
def suspend(client, opts):
    client.long_call("VM.suspend", client.resolve("VM", opts.vm), False)


@command("resume", "bring a Suspended VM back", "VMs", args=[
    VM_ARG, arg("-p", "--paused", action="store_true", help="leave it Paused"),
], details=lifecycle_help("resume", "resume_paused"))
def resume(client, opts):
    client.long_call("VM.resume", client.resolve("VM", opts.vm), opts.paused)


@command("migrate", "move a running VM live to another host of the pool", "VMs", args=[
    VM_ARG, arg("host", metavar="HOST", help="the host's name, UUID or address"),
    arg("-l", "--live", action="store_true",
        help="accepted for classic xm: a migration here is always live"),
], details=lifecycle_help("migrate"))
def migrate(client, opts):
    """VM.pool_migrate to the host named HOST, else to the one with HOST as address."""
    vm = client.resolve("VM", opts.vm)
    try:
        host = client.resolve("host", opts.host)
    except XmError:
        host = next((ref for ref, rec in client.call("host.get_all_records").items()
                     if rec.get("address") == opts.host), None)
        if host is None:
            raise
    client.long_call("VM.pool_migrate", vm, host, {"live": "true"})


# The logs "xm log" shows, in this order (GET /vm-log's kinds).
LOG_KINDS = ("qemu", "console", "daemon")


@command("log", "show a VM's logs: QEMU's, its console's, the daemon's lines", "VMs", args=[
    VM_ARG,
    arg("--kind", choices=LOG_KINDS, help="only this log (default: all three, each headed)"),
    arg("--bytes", type=positive, metavar="N",
        help="the last N bytes of each log (default 65536, at most 1048576)"),
], details="""\
qemu: the hypervisor process's output; console: the guest's serial console (the
log and the one before it); daemon: the lines of xend's log that name the VM
(its starts and stops among them; root only). Control characters are shown
escaped. A log that cannot be read is reported after the others are shown.""")
def log(client, opts):
    vm = client.resolve("VM", opts.vm)
    query = {"bytes": opts.bytes} if opts.bytes else {}
    refused = None
    for kind in (opts.kind,) if opts.kind else LOG_KINDS:
        if not opts.kind:
            print("==> %s <==" % kind)
        try:
            text = client.get("/vm-log", ref=vm, kind=kind, **query)
        except Failure as f:
            refused = refused or f
            continue
        print_escaped(text)
    if refused is not None:
        raise refused


@command("vncviewer", "show a running VM's display in a VNC viewer", "VMs", args=[
    VM_ARG,
    arg("--vncviewer-autopass", action="store_true",
        help="accepted for classic xm's scripts: the display needs no VNC password"),
], details="""\
Listens on a free port of 127.0.0.1 and carries each connection to it through
xend to the VM's display (xend has checked the session, so there is no VNC
password); only the user running xm may connect. Runs the first VNC viewer
installed (vncviewer, xtightvncviewer, xvnc4viewer, gvncviewer) against it and
ends with the viewer; with none installed, prints the address (127.0.0.1:PORT)
and keeps forwarding until Ctrl-C.""")
def vncviewer(client, opts):
    vnc.show(client, client.resolve("VM", opts.vm))


@command("clone", "copy a Halted VM (its disks are snapshotted)", "VMs", args=[
    VM_ARG, arg("name", metavar="NEWNAME", help="the copy's name"),
], details=lifecycle_help("clone") + "\n\nPrints the new VM's UUID.")
def clone(client, opts):
    vm = client.resolve("VM", opts.vm)
    provision.ensure_name_free(client, opts.name)
    print(client.long_call("VM.clone", vm, opts.name))


@command("rename", "give a VM a new name", "VMs", args=[
    VM_ARG, arg("name", metavar="NEWNAME", help="the new name"),
])
def rename(client, opts):
    vm = client.resolve("VM", opts.vm)
    provision.ensure_name_free(client, opts.name)
    client.call("VM.set_name_label", vm, opts.name)


@command("mem-set", "set a VM's memory target", "VMs", args=[
    VM_ARG, arg("mib", metavar="MiB", type=positive, help="the new target, in MiB"),
], details="""\
Sets memory/dynamic_max, and lowers memory/dynamic_min to it when it is above.
The target must stay between memory/static_min and memory/static_max.""")
def mem_set(client, opts):
    vm = client.resolve("VM", opts.vm)
    target = opts.mib * MIB
    if int(client.call("VM.get_memory_dynamic_min", vm)) > target:
        client.call("VM.set_memory_dynamic_min", vm, target)
    client.call("VM.set_memory_dynamic_max", vm, target)


@command("vcpu-list", "list the virtual CPUs of VMs", "VMs", json=True, args=[
    arg("vms", metavar="VM", nargs="*", help="only these VMs (names or UUIDs)"),
], details="""\
One line per vCPU of each VM on the hypervisor: its number, its state (r
running, b blocked/idle, p paused), its current utilisation and the host CPUs
it may run on (vcpu-pin).""")
def vcpu_list(client, opts):
    records = vm_records(client, opts.vms)
    rows = []
    for ref, rec in records:
        pins = vcpu_params(rec.get("VCPUs_params", ""))
        for vcpu, use in sorted(rec.get("VCPUs_utilisation", {}).items(),
                                key=lambda item: int(item[0])):
            state = {"Paused": "-p-"}.get(rec.get("power_state"),
                                          "r--" if use > 0 else "-b-")
            rows.append({"name": rec.get("name_label", ""), "uuid": ref, "id": domain_id(rec),
                         "vcpu": int(vcpu), "state": state, "utilisation": use,
                         "affinity": pins.get("cpumap%s" % vcpu, "all")})
    if opts.json:
        print_json(rows)
        return
    print_table(("Name", "ID", "VCPU", "State", "Util(%)", "Affinity"),
                [(r["name"], r["id"], r["vcpu"], r["state"], "%.1f" % (100 * r["utilisation"]),
                  r["affinity"]) for r in rows], right=(1, 2, 4))
