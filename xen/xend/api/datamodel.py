"""The Xen Management API, draft 0.2, as data: the one source of truth.

Every class, field, enum, bound pair, extra message and error code of the spec
is declared here once. The dispatch table, type checks, getters and setters,
constructors, records, the DTD, to_XML and the API reference are all derived
from these declarations; nothing about a class is written anywhere else.

Reading guide:
  * ``Field(name, type, qual, desc)``: ``name`` as the spec prints it
    (``name/label``); its wire name replaces "/" by "_" (``name_label``).
  * ``RO_RUN`` fields are computed by the daemon, ``RO_INS`` are given at
    creation and never change, ``RW`` can be set at any time.
  * ``required=True`` marks a constructor field the client must supply; the
    others default to ``default`` (or the type's empty value).
  * What the daemon does with a field follows from its flags: ``lookup``
    (a get_by_<wire> RPC over a store index), ``indexed`` (the index only),
    ``host_path`` (a host file the guest is given, checked on every write),
    ``on_set`` (setting it does more than store it: the class handler's
    ``set_<wire>`` does the set). A class's ``stored`` says whether its
    objects survive a restart.
  * ``Message``: an extra RPC with its parameters, result, and, for VM
    operations, the lifecycle operation that decides which power states allow it.
  * Beyond the draft (marked ``extension=True``): fields and messages the
    later Xen-API made standard and that real clients use. The draft's own
    declarations are never changed by them.
"""

import dataclasses
from typing import Optional

from .types import Bool, DateTime, Enum, Float, Int, Map, Ref, Set, String, Struct

API_VERSION = "0.2"

RO_RUN = "RO_run"
RO_INS = "RO_ins"
RW = "RW"

# --------------------------------------------------------------------------
# Enumerations (§2.3.3), values spelled exactly as the spec.

vm_power_state = Enum("vm_power_state", [
    ("Halted", "Halted"),
    ("Paused", "Paused"),
    ("Running", "Running"),
    ("Suspended", "Suspended"),
    ("ShuttingDown", "Shutting Down"),
    ("Unknown", "Some other unknown state"),
])

on_normal_exit = Enum("on_normal_exit", [
    ("destroy", "destroy the VM state"),
    ("restart", "restart the VM"),
])

on_crash_behaviour = Enum("on_crash_behaviour", [
    ("destroy", "destroy the VM state"),
    ("coredump_and_destroy", "record a coredump and then destroy the VM state"),
    ("restart", "restart the VM"),
    ("coredump_and_restart", "record a coredump and then restart the VM"),
    ("preserve", "leave the crashed VM as-is"),
    ("rename_restart", "rename the crashed VM and start a new copy"),
])

bios_boot_option = Enum("bios_boot_option", [
    ("floppy", "boot from emulated floppy"),
    ("HD", "boot from emulated HD"),
    ("CDROM", "boot from emulated CDROM"),
])

boot_type = Enum("boot_type", [
    ("bios", "boot an HVM guest using an emulated BIOS"),
    ("grub", "boot from inside the machine using grub"),
    ("kernel_external", "boot from an external kernel"),
    ("kernel_internal", "boot from a kernel inside the guest filesystem"),
])

cpu_feature = Enum("cpu_feature", [
    ("FPU", "Onboard FPU"),
    ("VME", "Virtual Mode Extensions"),
    ("DE", "Debugging Extensions"),
    ("PSE", "Page Size Extensions"),
    ("TSC", "Time Stamp Counter"),
    ("MSR", "Model-Specific Registers, RDMSR, WRMSR"),
    ("PAE", "Physical Address Extensions"),
    ("MCE", "Machine Check Architecture"),
    ("CX8", "CMPXCHG8 instruction"),
    ("APIC", "Onboard APIC"),
    ("SEP", "SYSENTER/SYSEXIT"),
    ("MTRR", "Memory Type Range Registers"),
    ("PGE", "Page Global Enable"),
    ("MCA", "Machine Check Architecture"),
    ("CMOV", "CMOV instruction (FCMOVCC and FCOMI too if FPU present)"),
    ("PAT", "Page Attribute Table"),
    ("PSE36", "36-bit PSEs"),
    ("PN", "Processor serial number"),
    ("CLFLSH", "Supports the CLFLUSH instruction"),
    ("DTES", "Debug Trace Store"),
    ("ACPI", "ACPI via MSR"),
    ("MMX", "Multimedia Extensions"),
    ("FXSR", "FXSAVE and FXRSTOR instructions (fast save and restore)"),
    ("XMM", "Streaming SIMD Extensions"),
    ("XMM2", "Streaming SIMD Extensions-2"),
    ("SELFSNOOP", "CPU self snoop"),
    ("HT", "Hyper-Threading"),
    ("ACC", "Automatic clock control"),
    ("IA64", "IA-64 processor"),
    ("SYSCALL", "SYSCALL/SYSRET"),
    ("MP", "MP Capable."),
    ("NX", "Execute Disable"),
    ("MMXEXT", "AMD MMX extensions"),
    ("LM", "Long Mode (x86-64)"),
    ("3DNOWEXT", "AMD 3DNow! extensions"),
    ("3DNOW", "3DNow!"),
    ("RECOVERY", "CPU in recovery mode"),
    ("LONGRUN", "Longrun power control"),
    ("LRTI", "LongRun table interface"),
    ("CXMMX", "Cyrix MMX extensions"),
    ("K6_MTRR", "AMD K6 nonstandard MTRRs"),
    ("CYRIX_ARR", "Cyrix ARRs (= MTRRs)"),
    ("CENTAUR_MCR", "Centaur MCRs (= MTRRs)"),
    ("K8", "Opteron, Athlon64"),
    ("K7", "Athlon"),
    ("P3", "P3"),
    ("P4", "P4"),
    ("CONSTANT_TSC", "TSC ticks at a constant rate"),
    ("FXSAVE_LEAK", "FXSAVE leaks FOP/FIP/FOP"),
    ("XMM3", "Streaming SIMD Extensions-3"),
    ("MWAIT", "Monitor/Mwait support"),
    ("DSCPL", "CPL Qualified Debug Store"),
    ("EST", "Enhanced SpeedStep"),
    ("TM2", "Thermal Monitor 2"),
    ("CID", "Context ID"),
    ("CX16", "CMPXCHG16B"),
    ("XTPR", "Send Task Priority Messages"),
    ("XSTORE", "on-CPU RNG present (xstore insn)"),
    ("XSTORE_EN", "on-CPU RNG enabled"),
    ("XCRYPT", "on-CPU crypto (xcrypt insn)"),
    ("XCRYPT_EN", "on-CPU crypto enabled"),
    ("LAHF_LM", "LAHF/SAHF in long mode"),
    ("CMP_LEGACY", "If yes HyperThreading not valid"),
])

vdi_type = Enum("vdi_type", [
    ("system", "a disk that may be replaced on upgrade"),
    ("user", "a disk that is always preserved on upgrade"),
    ("ephemeral", "a disk that may be reformatted on upgrade"),
])

vbd_mode = Enum("vbd_mode", [
    ("RO", "disk is mounted read-only"),
    ("RW", "disk is mounted read-write"),
])

driver_type = Enum("driver_type", [
    ("ioemu", "use hardware emulation"),
    ("paravirtualised", "use paravirtualised driver"),
])

# Beyond the draft: the task states clients of the later Xen-API rely on.
task_status_type = Enum("task_status_type", [
    ("pending", "the task is running or waiting to run"),
    ("success", "the task finished and its result is available"),
    ("failure", "the task finished with an error, see error_info"),
    ("cancelling", "cancellation was asked for and is in progress"),
    ("cancelled", "the task was cancelled"),
])

# Beyond the draft: a guest's graphical console. "auto", the default (an enum's first
# value), follows the boot: vnc for a bios boot, none for a kernel of its own, as xm's
# HVM and PV guests had.
display_type = Enum("display_type", [
    ("auto", "vnc for a bios boot, none otherwise"),
    ("vnc", "an emulated display, reached as an rfb console through the daemon"),
    ("none", "no display: the serial console only"),
])

# Beyond the draft (Xen-API 1.0): how a client speaks to a console.
console_protocol = Enum("console_protocol", [
    ("vt100", "a text terminal: the guest's first serial port"),
    ("rfb", "the Remote FrameBuffer protocol of VNC: the guest's display"),
    ("rdp", "Microsoft's Remote Desktop Protocol"),
])

ENUMS = {e.name: e for e in (
    vm_power_state, on_normal_exit, on_crash_behaviour, bios_boot_option, boot_type,
    cpu_feature, vdi_type, vbd_mode, driver_type, task_status_type, display_type,
    console_protocol)}


# --------------------------------------------------------------------------
# Declarations.

_NO_DEFAULT = object()

# The key, in a stored record and never on the wire (no wire name starts with "_"),
# of the host_path fields whose value root named: those are opened as they are; a
# path another user named is opened only under that user's roots. It travels with
# the record (a copy keeps it) and a write by another user takes the field out.
ROOT_NAMED = "_root_named"


@dataclasses.dataclass
class Field:
    name: str                       # as printed in the spec, e.g. "name/label"
    type: object
    qual: str                       # RO_RUN | RO_INS | RW
    desc: str
    required: bool = False          # must be given to the constructor
    default: object = _NO_DEFAULT   # constructor default; the type's empty value if unset
    extension: bool = False         # beyond the 0.2 draft
    indexed: bool = False           # the store keeps a value -> refs index of it
    lookup: bool = False            # <class>.get_by_<wire> finds objects by it (so indexed)
    # Names a file on the host that the hypervisor opens for the guest: checked whenever
    # it is written, under the roots of users other than root (ROOT_NAMED).
    host_path: bool = False
    # What setting it does beyond storing the value, in words (for the reference); the
    # class handler's set_<wire>(call, wire, ref, value) does the whole set.
    on_set: str = ""
    # The field's name in RPC names and records: "name/label" -> "name_label".
    wire: str = dataclasses.field(init=False)

    def __post_init__(self):
        self.wire = self.name.replace("/", "_")
        self.indexed = self.indexed or self.lookup

    def default_value(self):
        if self.default is _NO_DEFAULT:
            return self.type.default()
        return self.default() if callable(self.default) else self.default


@dataclasses.dataclass
class Param:
    name: str
    type: object
    desc: str = ""
    nullable: bool = False            # a Ref parameter that may be the null ref
    optional: bool = False            # may be left out; only trailing parameters are


@dataclasses.dataclass
class Message:
    """An RPC beyond the field accessors and class RPCs of §1.1-§1.2."""
    name: str
    params: list                      # [Param], without the session
    result: Optional[object]          # a type, or None for void
    desc: str
    session: bool = True              # needs a session (only login does not)
    lifecycle: Optional[str] = None   # VM lifecycle operation checked before the call
    root_only: bool = False
    extension: bool = False


@dataclasses.dataclass
class Class:
    name: str
    desc: str
    fields: list
    messages: list = dataclasses.field(default_factory=list)
    creatable: bool = True            # has a constructor usable by clients
    deletable: bool = True
    list_rpc: bool = False            # has the spec's "list" RPC (§2.6.2, §2.7.2, ...)
    lifecycle: bool = False           # its delete is the lifecycle table's "delete" operation
    objects: bool = True              # has objects, so gets the generic RPCs of §1.1-§1.2
    asynchronous: bool = True         # its RPCs have Async. forms (§1.4.3: not session, task)
    # Its objects are the host's own (the machine, its bridges, its storage): only root
    # creates, changes or deletes them; every user reads them.
    root_writes: bool = False
    # Its objects survive a restart in the persistent store; False for the daemon's own
    # runtime objects (sessions, tasks), which live in memory only.
    stored: bool = True
    extension: bool = False

    def field(self, wire):
        return self._fields_by_wire.get(wire)

    def __post_init__(self):
        self._fields_by_wire = {f.wire: f for f in self.fields}


def uuid_field():
    return Field("uuid", String, RO_RUN, "unique identifier/object reference")


def name_fields():
    return [Field("name/label", String, RW, "a human-readable name", lookup=True),
            Field("name/description", String, RW,
                  "a notes field containing human-readable description")]


def _vm_op(name, params, desc, result=None, lifecycle=None, **flags):
    return Message(name, [Param("vm", Ref("VM"), "the VM")] + params, result, desc,
                   lifecycle=lifecycle or name, **flags)


# --------------------------------------------------------------------------
# Classes (§2.1, §2.4-§2.14).

SESSION = Class("session", "a session", [
    uuid_field(),
    Field("this_user", String, RO_RUN, "short name of the user who logged in", extension=True),
    Field("originator", String, RO_RUN, "the client's name given at login", extension=True),
    Field("last_active", DateTime, RO_RUN, "time of the session's last call", extension=True),
], messages=[
    Message("login_with_password",
            [Param("uname", String, "Username for login."),
             Param("pwd", String, "Password for login."),
             Param("version", String, "API version the client speaks", optional=True),
             Param("originator", String, "the client's name", optional=True)],
            Ref("session"),
            "Attempt to authenticate the user, returning a session_id if successful",
            session=False),
    Message("logout", [], None, "Log out of a session"),
], creatable=False, deletable=False, asynchronous=False, stored=False)

TASK = Class("task", "a longrunning asynchronous task", [
    uuid_field(),
    Field("name/label", String, RO_RUN, "the method the task runs", extension=True,
          lookup=True),
    Field("name/description", String, RO_RUN, "a description of the task", extension=True),
    Field("status", task_status_type, RO_RUN, "current status", extension=True),
    Field("progress", Float, RO_RUN, "fraction complete, 0.0 to 1.0", extension=True),
    Field("ETA", DateTime, RO_RUN, "estimated time of completion", extension=True),
    Field("created", DateTime, RO_RUN, "time the task was created", extension=True),
    Field("finished", DateTime, RO_RUN, "time the task finished", extension=True),
    Field("result", String, RO_RUN, "the result, XML-RPC encoded, once finished", extension=True),
    Field("error_info", Set(String), RO_RUN, "the error code and parameters on failure",
          extension=True),
    Field("user", String, RO_RUN, "short name of the user who owns the task", extension=True),
], messages=[
    Message("get_status", [Param("task", Ref("task"), "The ID of the RPC call to poll")], String,
            "Poll a running asynchronous RPC invocation and query its status (an XML string)"),
    Message("get_all_tasks", [], Set(Ref("task")),
            "List all asynchronous RPC calls currently executing"),
    Message("cancel", [Param("task", Ref("task"))], None, "Ask a running task to stop",
            extension=True),
    Message("get_status_struct", [Param("task", Ref("task"), "The ID of the RPC call to poll")],
            Struct("task_status"),
            "The task_status struct of §1.4.3: {Progress: 0-100, ETA, Result} where Result is "
            "the finished call's complete Status struct once Progress is 100 "
            "(Async.Task.GetStatus)", extension=True),
    # Disk image transfer
    Message("create", [Param("label", String, "the task's name/label"),
                       Param("description", String, "the task's name/description")],
            Ref("task"),
            "A pending task of the caller's, for an operation the caller starts on its own "
            "(PUT /import_raw_vdi or GET /export_raw_vdi with task_id=): that operation "
            "reports its progress and outcome on it", extension=True),
], creatable=False, asynchronous=False, stored=False)

VM = Class("VM", "a virtual machine (or 'guest')", [
    uuid_field(),
    Field("power_state", vm_power_state, RO_RUN, "Current power state of the machine",
          default="Halted"),
    *name_fields(),
    Field("user_version", Int, RW, "a user version number for this machine", default=1),
    Field("is_a_template", Bool, RW,
          "true if this is a template. Template VMs can never be started, they are used only "
          "for cloning other VMs",
          on_set="to true is held like a lifecycle operation, so no start overtakes it"),
    Field("resident_on", Ref("host"), RO_RUN, "the host the VM is currently resident on"),
    Field("memory/static_max", Int, RO_INS, "Statically-set (i.e. absolute) maximum",
          default=256 * 2 ** 20),
    Field("memory/dynamic_max", Int, RW, "Dynamic maximum", default=256 * 2 ** 20,
          on_set="moves a resident guest's balloon target to the new value"),
    Field("memory/actual", Int, RO_RUN, "Guest's actual usage"),
    Field("memory/dynamic_min", Int, RW, "Dynamic minimum", default=256 * 2 ** 20,
          on_set="sets a resident guest's balloon target to memory/dynamic_max again"),
    Field("memory/static_min", Int, RO_INS, "Statically-set (i.e. absolute) minimum",
          default=16 * 2 ** 20),
    Field("VCPUs/policy", String, RW, "the name of the VCPU scheduling policy to be applied"),
    Field("VCPUs/params", String, RW, "string-encoded parameters passed to selected VCPU policy",
          on_set="applies the credit scheduler's weight, cap and vCPU affinity to a resident "
          "guest (docs/api.md: Live changes)"),
    Field("VCPUs/max", Int, RW, "number of VCPUs the VM is started with", default=1,
          extension=True),
    Field("VCPUs/number", Int, RO_RUN, "Current number of VCPUs"),
    Field("VCPUs/utilisation", Map(Int, Float), RO_RUN,
          "Utilisation for all of guest's current VCPUs"),
    Field("VCPUs/features/required", Set(cpu_feature), RO_INS,
          "CPU features the guest demands the host supports"),
    Field("VCPUs/features/can_use", Set(cpu_feature), RO_INS,
          "CPU features the guest can use if available"),
    Field("VCPUs/features/force_on", Set(cpu_feature), RW,
          "CPU features to expose to the guest above the bare minimum"),
    Field("VCPUs/features/force_off", Set(cpu_feature), RW, "CPU features to hide to the guest"),
    Field("actions/after_shutdown", on_normal_exit, RW,
          "action to take after the guest has shutdown itself", default="destroy"),
    Field("actions/after_reboot", on_normal_exit, RW,
          "action to take after the guest has rebooted itself", default="restart"),
    Field("actions/after_suspend", on_normal_exit, RW,
          "action to take after the guest has suspended itself", default="destroy"),
    Field("actions/after_crash", on_crash_behaviour, RW, "action to take if the guest crashes",
          default="destroy"),
    Field("VIFs", Set(Ref("VIF")), RW, "virtual network interfaces"),
    Field("VBDs", Set(Ref("VBD")), RW, "virtual block devices"),
    Field("consoles", Set(Ref("console")), RO_RUN, "the consoles of the running guest",
          extension=True),
    Field("TPM/instance", Int, RO_INS, "included for TPM support"),
    Field("TPM/backend", Int, RO_INS, "included for TPM support"),
    Field("bios/cdrom", String, RW, "path for emulated CDROM e.g. /dev/cdrom or /foo.iso",
          host_path=True),
    Field("bios/boot", bios_boot_option, RW, "default device to boot the guest from",
          default="HD"),
    Field("platform/std_VGA", Bool, RW, "emulate standard VGA instead of cirrus logic"),
    Field("platform/serial", String, RW, "redirect serial port to pty"),
    Field("platform/localtime", Bool, RW, "set RTC to local time"),
    Field("platform/clock_offset", Bool, RW, "timeshift applied to guest's clock"),
    Field("platform/enable_audio", Bool, RW, "emulate audio"),
    Field("platform/display", display_type, RW, "the guest's graphical console",
          extension=True),
    Field("builder", String, RW, "domain builder to use"),
    Field("boot_method", boot_type, RW, "select how this machine should boot",
          default="bios"),
    Field("kernel/kernel", String, RW, "path to kernel e.g. /boot/vmlinuz", host_path=True),
    Field("kernel/initrd", String, RW, "path to the initrd e.g. /boot/initrd.img",
          host_path=True),
    Field("kernel/args", String, RW, "extra kernel command-line arguments"),
    Field("grub/cmdline", String, RW, "grub command-line"),
    Field("PCI_bus", String, RO_INS, "PCI bus path for pass-through devices"),
    Field("tools_version", Map(String, String), RO_RUN,
          "versions of installed paravirtualised drivers"),
    # xm list
    Field("domid", Int, RO_RUN,
          "the guest's domain ID while it is resident, -1 otherwise: the hypervisor's own "
          "(Xen), else a number the daemon gives each new guest (a start, resume or "
          "reboot), never given twice while the daemon's state lives",
          default=-1, extension=True),
    Field("start_time", DateTime, RO_RUN,
          "when the guest was last started, resumed or rebooted (the later API's "
          "VM_metrics.start_time)", extension=True),
    Field("VCPUs/CPU_time", Float, RO_RUN,
          "seconds of CPU time the guest's vCPUs have used together (0 when it is not "
          "resident)", extension=True),
    Field("crashed", Bool, RO_RUN,
          "true while the guest is kept as it was after a crash (actions/after_crash "
          "preserve or rename_restart): xm shows it as c", extension=True),
    # Autostart
    Field("other_config", Map(String, String), RW,
          "additional configuration; auto_poweron = \"true\" starts the VM when the "
          "daemon starts after a host boot", extension=True),
    Field("order", Int, RW, "the VM's place in the autostart sequence: lower first, ties "
          "by name", extension=True),
    Field("start_delay", Int, RW, "seconds the autostart sequence waits after starting "
          "this VM before the next (0 or more)", extension=True),
    # Live changes
    Field("VCPUs/at_startup", Int, RW,
          "number of VCPUs the VM starts (and resumes) with, at most VCPUs/max; 0: VCPUs/max. "
          "VM.set_VCPUs_number_live sets it too, so the guest boots as it was left",
          extension=True),
], messages=[
    _vm_op("clone", [Param("new_name", String, "The name of the cloned VM")],
           "Clones the specified VM, making a new VM (Halted only).", result=Ref("VM")),
    _vm_op("start", [Param("start_paused", Bool,
                           "Instantiate VM in paused state if set to true.")],
           "Start the specified VM (Halted only)."),
    _vm_op("pause", [], "Pause the specified VM (Running only)."),
    _vm_op("unpause", [], "Resume the specified VM (Paused only)."),
    _vm_op("clean_shutdown", [], "Attempt to cleanly shutdown the specified VM."),
    _vm_op("clean_reboot", [], "Attempt to cleanly reboot the specified VM."),
    _vm_op("hard_shutdown", [], "Stop the VM without attempting a clean shutdown."),
    _vm_op("hard_reboot", [], "Reset the VM without attempting a clean shutdown."),
    _vm_op("suspend", [Param("live", Bool, "If set to true, perform a live hibernate; "
                             "otherwise suspend the VM before commencing hibernate")],
           "Suspend the specified VM to disk."),
    _vm_op("resume", [Param("start_paused", Bool,
                            "Unhibernate VM in paused state if set to true.")],
           "Awaken the specified VM and resume it."),
    # Debugging a guest
    _vm_op("dump_core", [Param("filename", String,
                               "the host file to write (absolute); \"\" for a new file "
                               "under the daemon's dump directory")],
           "Write the guest's memory to an ELF core file (0600); the guest keeps running. "
           "Returns the file's path.", result=String, root_only=True, extension=True),
    _vm_op("send_sysrq", [Param("key", String, "one magic SysRq key: 0-9 or a-z")],
           "Send the magic SysRq key to the guest's kernel (alt+sysrq+key).",
           extension=True),
    _vm_op("send_trigger", [Param("trigger", String, "nmi, reset, power or init"),
                            Param("vcpu", Int, "the vCPU it is sent to (default 0)",
                                  optional=True)],
           "Send a hardware trigger to the guest: an NMI, a reset (a hard reboot), the "
           "ACPI power button, or an INIT.", extension=True),
    # Save and restore to a named file
    Message("save", [Param("vm", Ref("VM"), "the VM"),
                     Param("filename", String, "the absolute path of the new file")], None,
            "Save the guest's memory and the VM's record into a new file (0600; never an "
            "existing one) and leave the VM Halted (Running or Paused only).",
            lifecycle="save", root_only=True, extension=True),
    Message("restore", [Param("filename", String, "the absolute path of a VM.save file"),
                        Param("start_paused", Bool, "leave the VM Paused if true")], Ref("VM"),
            "Run the VM saved in the file: the VM of its UUID if there is one (Halted), "
            "else one made from the file's record, its disks found by VDI UUID or image "
            "path; returns the VM.", root_only=True, extension=True),
    # Live changes
    _vm_op("set_VCPUs_number_live", [Param("nvcpu", Int, "The number of VCPUs, 1..VCPUs/max")],
           "Hot-plug or unplug vCPUs of the running VM until it has nvcpu (Running only); "
           "VCPUs/at_startup becomes nvcpu.", extension=True),
    _vm_op("set_memory_static_max", [Param("value", Int, "The new static maximum, in bytes")],
           "Set memory/static_max, the most memory the VM boots with, for its next start "
           "(Halted only); static_min <= dynamic_min <= dynamic_max <= static_max holds.",
           extension=True),
    _vm_op("add_to_VCPUs_params_live", [Param("key", String, "weight, cap or cpumapN"),
                                        Param("value", String, "its value")],
           "Set one key of VCPUs/params and apply it to the resident guest at once "
           "(Running or Paused).", extension=True),
], list_rpc=True, lifecycle=True)

HOST = Class("host", "a physical host", [
    uuid_field(),
    *name_fields(),
    Field("software_version", Map(String, String), RO_RUN, "version strings"),
    Field("resident_VMs", Set(Ref("VM")), RO_RUN, "list of VMs currently resident on host"),
    Field("host_CPUs", Set(Ref("host_cpu")), RO_RUN, "The physical CPUs on this host"),
    Field("enabled", Bool, RO_RUN, "false while the host refuses new VM starts",
          default=True, extension=True),
    # xm list
    Field("memory/total", Int, RO_RUN, "bytes of memory of the hypervisor (the later "
          "API's host_metrics.memory_total)", extension=True),
    Field("memory/free", Int, RO_RUN, "bytes of that memory no guest or the control "
          "domain holds (host_metrics.memory_free)", extension=True),
    Field("control_domain/memory", Int, RO_RUN, "bytes of memory of the machine the "
          "daemon runs in: dom0 on Xen, the host itself on QEMU", extension=True),
    Field("control_domain/VCPUs", Int, RO_RUN, "CPUs of the machine the daemon runs in: "
          "dom0's vCPUs on Xen, the host's CPUs on QEMU", extension=True),
], messages=[
    Message("disable", [Param("host", Ref("host"), "The Host to disable")], None,
            "Puts the host into a state in which no new VMs can be started.", root_only=True),
    Message("enable", [Param("host", Ref("host"), "The Host to enable")], None,
            "Puts the host into a state in which new VMs can be started.", root_only=True),
    Message("shutdown", [Param("host", Ref("host"), "The Host to shutdown")], None,
            "Shutdown the host (only when disabled and no VM runs).", root_only=True),
    Message("reboot", [Param("host", Ref("host"), "The Host to reboot")], None,
            "Reboot the host (only when disabled and no VM runs).", root_only=True),
    # Debugging a guest
    Message("dmesg", [Param("host", Ref("host"), "the host")], String,
            "The hypervisor's log on the host, newest last, at most 64 KiB.",
            root_only=True, extension=True),
    Message("dmesg_clear", [Param("host", Ref("host"), "the host")], String,
            "The hypervisor's log on the host as host.dmesg, and clear it: what it returns "
            "is not returned again.", root_only=True, extension=True),
], creatable=False, deletable=False, list_rpc=True, root_writes=True)

HOST_CPU = Class("host_cpu", "a physical CPU", [
    uuid_field(),
    Field("host", Ref("host"), RO_INS, "the host the CPU is in", required=True),
    Field("number", Int, RO_INS, "the number of the physical CPU within the host",
          required=True),
    Field("features", Set(cpu_feature), RO_INS, "the features supported by the CPU"),
    Field("utilisation", Float, RO_RUN, "the current CPU utilisation"),
], creatable=False, deletable=False)

_REBRIDGE = ("removes the daemon's own bridge of the network, made again the new way when "
             "a VIF next needs it")

NETWORK = Class("network", "a virtual network", [
    uuid_field(),
    *name_fields(),
    Field("VIFs", Set(Ref("VIF")), RW, "list of connected vifs"),
    Field("NIC", String, RW, "ethernet device to use to access this network",
          on_set=_REBRIDGE),
    Field("VLAN", String, RW, "VLAN tag to use to access this network", on_set=_REBRIDGE),
    Field("default_gateway", String, RW, "default gateway IP address"),
    Field("default_netmask", String, RW, "default netmask"),
    # The other commands people type
    Field("bridge", String, RO_RUN, "the host bridge this network's VIFs are ports of "
          "(the NIC's, or the daemon's own)", extension=True),
], list_rpc=True, root_writes=True)

VIF = Class("VIF", "a virtual network interface", [
    uuid_field(),
    Field("name", String, RW, "human-readable name of the interface"),
    Field("type", driver_type, RW, "interface type", default="paravirtualised"),
    Field("device", String, RW, "name of network device as exposed to guest e.g. eth0"),
    Field("network", Ref("network"), RW, "virtual network to which this vif is connected",
          required=True),
    Field("VM", Ref("VM"), RW, "virtual machine to which this vif is connected", required=True),
    Field("MAC", String, RW, "ethernet MAC address of virtual interface, as exposed to guest",
          indexed=True),
    Field("MTU", Int, RW, "MTU in octets", default=1500),
    Field("network_read_kbs", Float, RO_RUN, "Incoming network bandwidth"),
    Field("network_write_kbs", Float, RO_RUN, "Outgoing network bandwidth"),
    Field("IO_bandwidth/incoming_kbs", Float, RO_RUN, "Read bandwidth (Kb/s)"),
    Field("IO_bandwidth/outgoing_kbs", Float, RO_RUN, "Write bandwidth (Kb/s)"),
    # Classic network syntax
    Field("model", String, RW, "the NIC model the guest sees (e1000, rtl8139, ...), one "
          "the backend can give; empty: the backend's default for the VIF's type. A model "
          "sets the type: ioemu, or paravirtualised for a virtio one", extension=True),
])

SR = Class("SR", "a storage repository", [
    uuid_field(),
    *name_fields(),
    Field("VDIs", Set(Ref("VDI")), RW, "managed virtual disks"),
    Field("virtual_allocation", Int, RO_RUN,
          "sum of virtual_sizes of all VDIs in this storage repository (in bytes)"),
    Field("physical_utilisation", Int, RO_RUN,
          "physical space currently utilised on this storage repository (in bytes)"),
    Field("physical_size", Int, RO_INS, "total physical size of the repository (in bytes)"),
    Field("type", String, RO_INS, "type of the storage repository", default="dir"),
    Field("location", String, RO_INS,
          "a string that uniquely determines the location of the storage repository"),
], messages=[
    Message("clone", [Param("sr", Ref("SR"), "The Storage Repository to clone"),
                      Param("loc", String, "where the new storage repository will be located"),
                      Param("name", String, "The name of the new storage repository")],
            Ref("SR"), "Take an exact copy of the Storage Repository"),
    # Existing images
    Message("introduce", [Param("type", String, "image (raw and qcow2 images), iso (a "
                                "read-only ISO library) or block (block devices; root only)"),
                          Param("location", String, "the existing directory that holds them"),
                          Param("name_label", String, "the new SR's name")],
            Ref("SR"), "Adopt an existing directory as an SR; its files stay the "
            "administrator's (users other than root: only under the path roots)",
            extension=True),
    Message("scan", [Param("sr", Ref("SR"), "the SR to scan")], None,
            "Make VDIs for the SR's images that have none, and forget the VDIs whose file "
            "is gone (never one a VM has attached)", extension=True),
    Message("forget", [Param("sr", Ref("SR"), "the SR to forget")], None,
            "Drop the records of the SR and its VDIs, leaving every file in place "
            "(refused while a VBD refers to one of its VDIs)", root_only=True, extension=True),
], list_rpc=True, root_writes=True)

VDI = Class("VDI", "a virtual disk image", [
    uuid_field(),
    *name_fields(),
    Field("SR", Ref("SR"), RW, "storage repository in which the VDI resides", required=True),
    Field("VBDs", Set(Ref("VBD")), RW, "list of vbds that refer to this disk"),
    Field("virtual_size", Int, RW,
          "size of disk as presented to the guest (in multiples of sector_size field)",
          required=True,
          on_set="grows the disk image (never shrinks it; not while a resident VM uses it)"),
    Field("physical_utilisation", Int, RO_RUN,
          "amount of physical space that the disk image is currently taking up on the storage "
          "repository (in bytes)"),
    Field("sector_size", Int, RO_INS, "sector size of VDI (in bytes)", default=512),
    Field("type", vdi_type, RO_INS, "type of the VDI", default="user"),
    Field("parent", Ref("VDI"), RO_INS, "parent disk (e.g. in the case of copy on write)"),
    Field("children", Set(Ref("VDI")), RO_INS,
          "child disks (e.g. in the case of copy on write)"),
    Field("sharable", Bool, RW, "true if this disk may be shared"),
    Field("read_only", Bool, RW, "true if this disk may ONLY be mounted read-only"),
    # Existing images
    Field("location", String, RO_RUN, "the image file or block device the VDI is",
          extension=True),
    Field("managed", Bool, RO_RUN, "true if the daemon made the image (VDI.delete removes "
          "it); false for an adopted one, whose file is the administrator's", extension=True),
], messages=[
    Message("snapshot", [Param("vdi", Ref("VDI"), "The VDI to snapshot")], Ref("VDI"),
            "Take an exact copy of the VDI; the snapshot lives in the same SR as its parent"),
    # Existing images
    Message("introduce", [Param("sr", Ref("SR"), "an SR made by SR.introduce"),
                          Param("location", String, "an existing image file or block device "
                                "directly in the SR's directory")],
            Ref("VDI"), "Adopt an existing image as a VDI that is that file (no copy)",
            extension=True),
    Message("forget", [Param("vdi", Ref("VDI"), "the VDI to forget")], None,
            "Drop the VDI's record, leaving its file in place (refused while a VBD refers "
            "to it)", extension=True),
])

VBD = Class("VBD", "a virtual block device", [
    uuid_field(),
    Field("VM", Ref("VM"), RW, "the virtual machine", required=True),
    Field("VDI", Ref("VDI"), RW, "the virtual disk", required=True),
    Field("device", String, RW, "device seen by the guest e.g. hda1"),
    Field("mode", vbd_mode, RW, "the mode the disk should be mounted with", default="RW"),
    Field("driver", driver_type, RW, "the style of driver", default="paravirtualised"),
    Field("IO_bandwidth/incoming_kbs", Float, RO_RUN, "Read bandwidth (Kb/s)"),
    Field("IO_bandwidth/outgoing_kbs", Float, RO_RUN, "Write bandwidth (Kb/s)"),
])

USER = Class("user", "a user of the system", [
    uuid_field(),
    Field("short_name", String, RO_INS, "short name (e.g. userid)", required=True, lookup=True),
    Field("fullname", String, RW, "full name"),
], messages=[
    Message("set_password", [Param("user", Ref("user"), "the user"),
                             Param("password", String, "the new password")], None,
            "Set the user's password (root only; stored as a scrypt hash, never readable)",
            root_only=True, extension=True),
])

# Beyond the draft (Xen-API 1.0): made by the daemon while the VM's guest exists
# (state/domains.py), one per protocol the backend offers; never by clients.
CONSOLE = Class("console", "a console of a running guest, reached through the daemon", [
    uuid_field(),
    Field("protocol", console_protocol, RO_RUN, "the protocol the console speaks"),
    Field("location", String, RO_RUN,
          "the URL a client connects to, on one of the daemon's own listeners"),
    Field("VM", Ref("VM"), RO_RUN, "the VM whose console this is"),
    Field("other_config", Map(String, String), RW, "additional configuration"),
], creatable=False, deletable=False, extension=True)

EVENT = Class("event", "changes to objects, as in the later Xen-API", [], messages=[
    Message("register", [Param("classes", Set(String), "class names, \"*\", or class/ref")],
            None, "Subscribe this session to events of the given classes (for event.next)"),
    Message("unregister", [Param("classes", Set(String))], None,
            "Remove subscriptions made with register"),
    Message("next", [], Set(Struct("event record")),
            "Block until events arrive for the registered classes; returns them"),
    Message("from", [Param("classes", Set(String), "class names, \"*\", or class/ref"),
                     Param("token", String, "\"\" for from the start, else a returned token"),
                     Param("timeout", Float, "seconds to wait for an event")],
            Struct("event batch"),
            "Events since token: {events, valid_ref_counts, token}"),
], creatable=False, deletable=False, objects=False, asynchronous=False, stored=False,
   extension=True)

CLASSES = {c.name: c for c in (SESSION, TASK, VM, HOST, HOST_CPU, NETWORK, VIF, SR, VDI, VBD,
                               USER, CONSOLE, EVENT)}

# The spec's own spellings of two task calls (§1.4.3), and the methods that answer them.
ALIASES = {
    "Async.Task.GetStatus": "task.get_status_struct",
    "Async.Task.GetAllTasks": "task.get_all_tasks",
}


# --------------------------------------------------------------------------
# Bound fields (§2.2). Each pair is (one side: a Ref field, many side: a Set
# field). Only the Ref side is stored; the Set side is the store's reverse
# index of it, so the two can never disagree.
#
# on_delete says what deleting the *target* of the Ref does to the objects
# pointing at it:
#   "refuse"  - the delete fails with OPERATION_NOT_ALLOWED naming the holders
#   "cascade" - the holders are deleted in the same transaction
#   "clear"   - the holders' Ref becomes null

@dataclasses.dataclass(frozen=True)
class Binding:
    ref_class: str       # class holding the Ref field
    ref_field: str       # its wire name
    set_class: str       # class holding the Set field
    set_field: str       # its wire name
    on_delete: str       # what deleting the Set side's object does (see above)
    relationship: str    # as printed in §2.2


BINDINGS = [
    Binding("VBD", "VDI", "VDI", "VBDs", "refuse", "many-to-one"),
    Binding("VDI", "parent", "VDI", "children", "refuse", "one-to-many"),
    Binding("VBD", "VM", "VM", "VBDs", "cascade", "one-to-many"),
    Binding("VIF", "VM", "VM", "VIFs", "cascade", "one-to-many"),
    Binding("VIF", "network", "network", "VIFs", "refuse", "one-to-many"),
    Binding("VDI", "SR", "SR", "VDIs", "refuse", "many-to-one"),
    Binding("VM", "resident_on", "host", "resident_VMs", "refuse", "many-to-one"),
    Binding("host_cpu", "host", "host", "host_CPUs", "cascade", "many-to-one"),
    Binding("console", "VM", "VM", "consoles", "cascade", "one-to-many"),
]


def binding_of_set(cls, wire):
    """The Binding whose Set side is cls.wire, or None."""
    return _BY_SET.get((cls, wire))


def binding_of_ref(cls, wire):
    """The Binding whose Ref side is cls.wire, or None."""
    return _BY_REF.get((cls, wire))


_BY_SET = {(b.set_class, b.set_field): b for b in BINDINGS}
_BY_REF = {(b.ref_class, b.ref_field): b for b in BINDINGS}


# --------------------------------------------------------------------------
# Error codes. Every Failure the server sends is one of these; an entry declares
# the code, its parameters in wire order, what it means (the API reference) and
# the one line xm prints for it (a str.format of the parameter names). errors.py
# checks the parameter count of every ApiError against it.

@dataclasses.dataclass(frozen=True)
class Error:
    code: str
    params: tuple        # the parameters' names, in the order they travel
    doc: str             # what it means and what its parameters hold
    sentence: str        # xm's one-line explanation, e.g. "{vm} is {actual}; ..."


ERRORS = {e.code: e for e in (
    Error("SESSION_AUTHENTICATION_FAILED", ("user", "msg"),
          "login_with_password refused the user name `user`; `msg` says why (the same "
          "\"Authentication failure\" for an unknown user and a wrong password, or a "
          "lockout after too many failures, or too many logins at once)",
          "cannot log in as {user}: {msg}"),
    Error("SESSION_INVALID", ("handle",),
          "the session ref `handle` names no live session: never issued, logged out, "
          "expired, or revoked with its user; empty when the call gave no session",
          "the session is no longer valid (expired or logged out)"),
    Error("SESSION_NOT_REGISTERED", ("handle",),
          "event.next was called by the session `handle`, which has no event.register "
          "subscription",
          "the session has not registered for events (event.register)"),
    Error("HANDLE_INVALID", ("class", "handle"),
          "`handle` is not a ref of an object of class `class`: no such object (or one "
          "the caller may not see), an object of another class, or a null ref where one "
          "is required",
          "there is no {class} {handle}"),
    Error("UUID_INVALID", ("class", "uuid"),
          "get_by_uuid found no object of class `class` with UUID `uuid`",
          "there is no {class} with UUID {uuid}"),
    Error("MESSAGE_METHOD_UNKNOWN", ("method",),
          "the server has no method `method` (nor an Async form of it, where the class "
          "has none)",
          "this server has no method {method}"),
    Error("MESSAGE_PARAMETER_COUNT_MISMATCH", ("method", "expected", "received"),
          "`method` was called with `received` parameters (the session included in "
          "neither count) where it takes `expected`; for a method with optional trailing "
          "parameters `expected` is the bound that was missed",
          "{method} takes {expected} parameters, not {received}"),
    Error("FIELD_TYPE_ERROR", ("field",),
          "the value given for the parameter or field `field` has the wrong type (a "
          "string for a bool, a constructor record that is not a struct, ...)",
          "{field} has the wrong type"),
    Error("FIELD_MISSING", ("field",),
          "a constructor record lacks the required field `field`",
          "{field} is required"),
    Error("FIELD_UNKNOWN", ("field",),
          "a constructor record names a field `field` the class does not have",
          "there is no field {field}"),
    Error("FIELD_READ_ONLY", ("field",),
          "a write (set/add_to/remove_from/constructor) names the read-only field `field`",
          "{field} is read-only"),
    Error("INVALID_VALUE", ("field", "value"),
          "`value` has the right type for `field` but is not one it may hold (out of "
          "range, not an enum member, a malformed address or path, a name in use); "
          "`value` may end with the reason in parentheses",
          "{field} cannot be {value}"),
    Error("VALUE_NOT_SUPPORTED", ("field", "value", "reason"),
          "`field` = `value` is valid in the API but this host or backend cannot do it; "
          "`reason` says why",
          "{field} = {value} is not supported: {reason}"),
    Error("VM_BAD_POWER_STATE", ("vm", "expected", "actual"),
          "the VM `vm` is `actual`, and the operation needs one of the power states "
          "`expected` (comma-separated)",
          "{vm} is {actual}; this needs {expected}"),
    Error("VM_IS_TEMPLATE", ("vm",),
          "the VM `vm` is a template, which is never started: only clone and delete "
          "apply to it",
          "{vm} is a template; templates can only be cloned or deleted"),
    Error("OPERATION_NOT_ALLOWED", ("reason",),
          "the call is refused in the objects' present state; `reason` says why",
          "{reason}"),
    Error("OTHER_OPERATION_IN_PROGRESS", ("class", "object"),
          "another lifecycle operation holds the `class` `object` (a VM) and this one "
          "cannot wait for it or overtake it",
          "another operation is in progress on {class} {object}"),
    Error("OBJECT_IN_USE", ("class", "object", "holder_class", "holders"),
          "deleting the `class` `object` would leave the `holder_class` objects "
          "`holders` (comma-separated) pointing at a missing one",
          "{class} {object} is in use by {holder_class} {holders}"),
    Error("PERMISSION_DENIED", ("msg",),
          "the session's user may not make this call (root-only methods, the host's "
          "own objects, users); `msg` says which rule applies",
          "permission denied: {msg}"),
    Error("HOST_DISABLED", ("host",),
          "the host is disabled and refuses new starts and resumes",
          "host {host} is disabled and starts no VMs"),
    Error("HOST_NOT_DISABLED", ("host",),
          "host shutdown/reboot asked for while the host is enabled",
          "host {host} must be disabled first (host-disable)"),
    Error("HOST_HAS_RESIDENT_VMS", ("host", "vms"),
          "host shutdown/reboot asked for while VMs are resident on it; `vms` lists them "
          "(comma-separated)",
          "host {host} still runs VMs: {vms}"),
    Error("HOST_POWER_COMMAND_UNSET", ("host", "operation"),
          "host shutdown/reboot asked for but no power command is configured; "
          "`operation` is \"shutdown\" or \"reboot\"",
          "host {host} has no {operation} command configured"),
    Error("TASK_CANCELLED", ("task",),
          "the asynchronous call of task `task` was cancelled (task.cancel) before it "
          "finished; this is the task's error_info",
          "the operation was cancelled (task {task})"),
    Error("TOO_MANY_PENDING_TASKS", (),
          "an Async call was refused because the configured number of pending tasks "
          "(max_pending_tasks) is reached",
          "the server is busy: too many operations are pending"),
    Error("TOO_MANY_PENDING_TASKS_OF_USER", ("user", "limit"),
          "an Async call was refused because `user` already has `limit` tasks pending "
          "(max_pending_tasks_per_user): one user cannot fill the task queue for all",
          "{user} has {limit} operations pending already"),
    Error("EVENTS_LOST", (),
          "the events the caller asked for are gone: its token or cursor is older than "
          "the event log's oldest event, or from an earlier run of the daemon; re-read "
          "the objects and start again from \"\"",
          "events were lost; read the objects again and start over"),
    Error("EVENT_SUBSCRIPTION_PARSE_FAILURE", ("subscription",),
          "an event.register/unregister/from class `subscription` is not \"*\", a class "
          "name or class/ref",
          "{subscription} is not an event subscription (a class, class/ref or *)"),
    Error("EVENT_FROM_TOKEN_PARSE_FAILURE", ("token",),
          "the event.from `token` is not \"\" nor a token event.from returned",
          "{token} is not an event token"),
    Error("VDI_IN_USE", ("vdi", "operation"),
          "`operation` (attach, resize, set_read_only, set_sharable) is refused because "
          "VMs hold the VDI `vdi` in a way it contradicts: attached read-write elsewhere, "
          "running with it, or sharing a disk that would stop being sharable",
          "VDI {vdi} is in use; {operation} is refused"),
    Error("VM_STATE_FILE_MISSING", ("path",),
          "resume found no saved state at `path`; the VM stays Suspended",
          "the saved state {path} is missing; the VM stays Suspended"),
    Error("VM_STATE_FILE_CORRUPT", ("path",),
          "resume could not read the saved state at `path`; the VM stays Suspended",
          "the saved state {path} cannot be read; the VM stays Suspended"),
    Error("VM_SHUTDOWN_TIMEOUT", ("vm", "timeout"),
          "the guest `vm` did not shut down or reboot within `timeout` seconds; it keeps "
          "running",
          "{vm} did not shut down within {timeout} seconds; it keeps running"),
    Error("DEVICE_DETACH_TIMEOUT", ("class", "ref", "timeout"),
          "the guest did not release the `class` (VBD or VIF; or vCPU, `ref` then being "
          "the VM and the vCPU's number, VM/N) `ref` within `timeout` seconds; it keeps "
          "the device, and the record stays",
          "the guest did not release {class} {ref} within {timeout} seconds; it keeps it"),
    Error("SR_FULL", ("requested", "maximum"),
          "the call needs `requested` bytes more than the SR has, and `maximum` are "
          "left: a VDI.create, resize, snapshot or copy would take the bytes the SR's "
          "VDIs promise (virtual_allocation) beyond its physical_size times "
          "sr_overcommit_ratio, or a copy of written image data (a snapshot on a file "
          "SR, SR.clone) needs more than its file system has free",
          "the SR is full: {requested} bytes asked for, {maximum} available"),
    Error("HOST_STATE_FULL", (),
          "the file system of the daemon's state directory had no room to record the "
          "change; nothing was changed (images a call made are removed again)",
          "the daemon's state directory is full; nothing was changed"),
    # Save and restore to a named file
    Error("VM_SAVE_FILE_INVALID", ("path", "reason"),
          "VM.restore cannot use the file `path`: missing, not written by VM.save, "
          "truncated, of another format version or backend, or a guest state the backend "
          "cannot load; `reason` says which. Nothing was changed",
          "{path} cannot be restored: {reason}; nothing was changed"),
    Error("VDI_MISSING", ("vdi", "path"),
          "VM.restore made no VM: the saved VM's disk, the VDI `vdi` with the image "
          "`path`, is not on this host (no VDI of that UUID, nor one of that image)",
          "the saved VM's disk {vdi} ({path}) is not on this host; nothing was changed"),
    # A suspend the guest does not answer
    Error("VM_FAILED_SUSPEND_ACK", ("vm",),
          "the guest `vm` did not answer the hypervisor's suspend request (a kernel still "
          "booting, a paused guest, one that cannot suspend): nothing was saved and it "
          "stays as it was",
          "{vm} did not answer the suspend request; it stays as it was"),
    Error("INTERNAL_ERROR", ("message",),
          "a fault of the daemon or of a tool it runs (qemu-img, xl, ...), never the "
          "caller's; `message` names it, without a traceback (that goes to the log)",
          "internal error in xend: {message}"),
    # Disk image transfer
    Error("VDI_TOO_SMALL", ("vdi", "minimum_size"),
          "an image sent to PUT /import_raw_vdi holds `minimum_size` bytes (its virtual "
          "size, or a raw body's length), more than the VDI `vdi` holds; grow the VDI "
          "(VDI.set_virtual_size) to at least that first",
          "VDI {vdi} is too small: the image holds {minimum_size} bytes"),
)}


def all_fields():
    """Yield (Class, Field) for every field of every class."""
    for c in CLASSES.values():
        for f in c.fields:
            yield c, f
