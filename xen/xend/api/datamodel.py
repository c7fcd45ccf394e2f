"""The Xen Management API, draft 0.2, as data: the one source of truth.

Every class, field, enum, bound pair, extra message and error code of the spec
is declared here once (the enums in enums.py and the error codes in
errortable.py, for length; this module re-exports them). The dispatch table,
type checks, getters and setters, constructors, records, the DTD, to_XML and
the API reference are all derived from these declarations; nothing about a
class is written anywhere else.

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
  * Two revisions: the draft 0.2 and Xen-API 1.0 (Xen 3.1). ``since="1.0"``
    marks the names 1.0 added. Where the revisions disagree about one name
    (its type, arity or meaning), it is declared once per revision with
    ``rev``, and a session sees its own revision's (REVISIONS; docs/api.md
    lists every disagreement). A name 1.0 gave to a value the draft already
    had is declared ``same_as`` that value (``Renamed``): one stored value
    with two names. A class with an ``owner`` has one object per object of
    that class, never stored: a view of the owner's record (VM_metrics).
"""

import dataclasses
from typing import Optional

from . import renames
from .enums import (  # noqa: F401  (the datamodel's enumerations, re-exported)
    ENUMS,
    bios_boot_option,
    boot_type,
    console_protocol,
    cpu_feature,
    display_type,
    driver_type,
    on_crash_behaviour,
    on_normal_exit,
    task_allowed_operations,
    task_status_type,
    vbd_mode,
    vbd_type,
    vdi_type,
    vm_power_state,
)
from .errortable import ERRORS, Error  # noqa: F401  (the error codes, re-exported)
from .types import Bool, DateTime, Float, Int, Map, Ref, Set, String, Struct

API_VERSION = "0.2"

# The revisions a session can speak; login's version picks one (revision_of).
REVISIONS = ("0.2", "1.0")


def revision_of(version, default="0.2"):
    """The revision a session speaks, from login's ``version`` argument: "" is
    ``default`` (config api_version_default), "0.2" and earlier the draft, "1.0" and any
    later version 1.0. None for a version that is not dotted numbers."""
    if version == "":
        return default
    try:
        numbers = tuple(int(x) for x in version.split("."))
    except ValueError:
        return None
    return "1.0" if numbers >= (1,) else "0.2"

RO_RUN = "RO_run"
RO_INS = "RO_ins"
RW = "RW"

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
    extension: bool = False         # in neither revision (the later Xen-API's, or the project's)
    since: str = "0.2"              # the revision that first declares it: "0.2" or "1.0"
    rev: Optional[str] = None       # only sessions of this revision see it (a disagreement)
    same_as: Optional["Renamed"] = None   # another name of stored values (never stored)
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
    since: str = "0.2"
    rev: Optional[str] = None         # only sessions of this revision see it (a disagreement)


@dataclasses.dataclass(frozen=True)
class Renamed:
    """How a field is another name of stored values: ``sources`` (wire names of the
    class's fields, or of the owner's for a class with an owner) give the value through
    ``read(*values)`` and take a written one through ``write(value, record) -> {source:
    value}``; both default to the identity of a single source. The conversions live in
    renames.py."""
    sources: tuple
    read: Optional[object] = None
    write: Optional[object] = None


def seen_in(item, rev):
    """Whether a Field or Message is part of revision ``rev``."""
    return item.rev is None or item.rev == rev


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
    since: str = "0.2"
    # The class whose every object has exactly one of this class, a view of its record
    # (handlers/derived.py): never stored, never made or deleted by clients.
    owner: Optional[str] = None

    def field(self, wire, rev="0.2"):
        """The field ``wire`` as revision ``rev`` declares it, or None."""
        return self._fields_by_wire[rev].get(wire)

    def fields_for(self, rev):
        """The fields a session of revision ``rev`` sees, in declaration order."""
        return self._fields[rev]

    def messages_for(self, rev):
        return [m for m in self.messages if seen_in(m, rev)]

    def __post_init__(self):
        if self.since != "0.2":     # every field of a class 1.0 added is 1.0's
            for f in self.fields:
                f.since = self.since
        self._fields = {r: [f for f in self.fields if seen_in(f, r)] for r in REVISIONS}
        self._fields_by_wire = {r: {f.wire: f for f in fs} for r, fs in self._fields.items()}


def uuid_field():
    return Field("uuid", String, RO_RUN, "unique identifier/object reference")


def name_fields():
    return [Field("name/label", String, RW, "a human-readable name", lookup=True),
            Field("name/description", String, RW,
                  "a notes field containing human-readable description")]


def _vm_op(name, params, desc, result=None, lifecycle=None, **flags):
    return Message(name, [Param("vm", Ref("VM"), "the VM")] + params, result, desc,
                   lifecycle=lifecycle or name, **flags)


def _device_fields(cls):
    """The fields Xen-API 1.0 gives both kinds of VM device (VBD, VIF): whether and how
    the device is attached to the resident guest, and its QoS settings."""
    return [
        Field("currently_attached", Bool, RO_RUN,
              "true while the device is attached to the VM's resident guest (a VM.start "
              "attaches every device; %s.unplug detaches one)" % cls, since="1.0"),
        Field("status_code", Int, RO_RUN, "error/success code of the last attach-operation "
              "(0: success)", since="1.0"),
        Field("status_detail", String, RO_RUN, "what went wrong in the last "
              "attach-operation (\"\" after a success)", since="1.0"),
        Field("runtime_properties", Map(String, String), RO_RUN,
              "the backend's live facts of the attached device (docs/vm-mapping.md); "
              "empty while it is not attached", since="1.0"),
        Field("qos/algorithm_type", String, RW, "QoS algorithm to use: \"\" (none) or one "
              "of qos/supported_algorithms", since="1.0"),
        Field("qos/algorithm_params", Map(String, String), RW,
              "parameters for the chosen QoS algorithm", since="1.0"),
        Field("qos/supported_algorithms", Set(String), RO_RUN,
              "the QoS algorithms the backend can apply to this %s" % cls, since="1.0"),
    ]


def _device_messages(cls):
    """VBD.plug/unplug and VIF.plug/unplug (Xen-API 1.0)."""
    this = Param("self", Ref(cls), "the %s" % cls)
    return [
        Message("plug", [this], None, "Hot-plug the %s into its VM's resident guest (Running "
                "or Paused), where it is not attached (currently_attached false)" % cls,
                since="1.0"),
        Message("unplug", [this], None, "Hot-unplug the %s from its VM's running guest, "
                "keeping the record: the guest is without it until %s.plug or the VM's "
                "next start" % (cls, cls), since="1.0"),
    ]


# --------------------------------------------------------------------------
# Classes (§2.1, §2.4-§2.14).

SESSION = Class("session", "a session", [
    uuid_field(),
    # 1.0's document declares this_user a user ref and last_active an Int; its clients
    # (libxen, xm) and xend 3.1 used the name and a dateTime, as here.
    Field("this_user", String, RO_RUN, "short name of the user who logged in", extension=True),
    Field("originator", String, RO_RUN, "the client's name given at login", extension=True),
    Field("last_active", DateTime, RO_RUN, "time of the session's last call", extension=True),
    # 1.0: events, session, host facts
    Field("this_host", Ref("host"), RO_RUN, "the host the session is connected to",
          since="1.0"),
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
    Field("progress", Float, RO_RUN, "fraction complete, 0.0 to 1.0", extension=True,
          rev="0.2"),
    Field("ETA", DateTime, RO_RUN, "estimated time of completion", extension=True),
    Field("created", DateTime, RO_RUN, "time the task was created", extension=True),
    Field("finished", DateTime, RO_RUN, "time the task finished", extension=True),
    Field("result", String, RO_RUN, "the result, XML-RPC encoded, once finished", extension=True),
    Field("error_info", Set(String), RO_RUN, "the error code and parameters on failure",
          extension=True),
    Field("user", String, RO_RUN, "short name of the user who owns the task", extension=True),
    # 1.0
    Field("progress", Int, RO_RUN, "percentage complete, 0 to 100", since="1.0", rev="1.0",
          same_as=Renamed(("progress",), read=renames.fraction_to_percent)),
    # 1.0: task's own fields
    Field("type", String, RO_RUN, "the type of the result once the task has succeeded "
          "(\"VM ref\", ...); \"\" for a call with no result, and while the task is "
          "pending or if it failed", since="1.0"),
    Field("session", Ref("session"), RO_RUN, "the session that made the task; null once "
          "that session has ended", since="1.0"),
    Field("allowed_operations", Set(task_allowed_operations), RO_RUN,
          "[Cancel] while the task may be cancelled (queued, or in a stage that stops when "
          "asked); [] otherwise", since="1.0"),
], messages=[
    # In 1.0 sessions task.get_status is the status field's getter.
    Message("get_status", [Param("task", Ref("task"), "The ID of the RPC call to poll")], String,
            "Poll a running asynchronous RPC invocation and query its status (an XML string)",
            rev="0.2"),
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
          "guest (docs/api.md: Live changes)", rev="0.2"),
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
    # In the draft's records too (draft clients of this daemon read it there), though
    # 1.0 is the revision that declares it.
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
    # 1.0: the core
    Field("VCPUs/params", Map(String, String), RW,
          "configuration parameters for the selected VCPU policy: weight, cap, cpumapN "
          "(docs/api.md: Live changes)", since="1.0", rev="1.0",
          same_as=Renamed(("VCPUs_params",), read=renames.pairs_to_map,
                          write=renames.map_to_pairs)),
    Field("metrics", Ref("VM_metrics"), RO_RUN, "metrics associated with this VM",
          since="1.0"),
    # 1.0: control domain
    Field("is_control_domain", Bool, RO_RUN,
          "true for the control domain, the machine the daemon runs in (Domain-0), whose "
          "record the daemon keeps; false for every other VM", since="1.0"),
    # 1.0: metrics
    Field("guest_metrics", Ref("VM_guest_metrics"), RO_RUN,
          "metrics associated with the running guest", since="1.0"),
    # 1.0: the VM's renamed fields (HVM/boot_policy before PV/bootloader: in a create
    # giving both, a boot loader named wins over the "" policy)
    Field("HVM/boot_policy", String, RW, "\"BIOS order\" for a VM that boots from its BIOS "
          "(boot_method bios), \"\" otherwise; writing \"\" moves a bios VM to "
          "kernel_external", since="1.0",
          same_as=Renamed(("boot_method",), read=renames.method_to_policy,
                          write=renames.policy_to_method)),
    Field("HVM/boot_params", Map(String, String), RW, "{\"order\": LETTER}: the device the "
          "BIOS boots (bios/boot): a floppy, c hard disk, d CD-ROM; of a longer order the "
          "first", since="1.0",
          same_as=Renamed(("bios_boot",), read=renames.device_to_params,
                          write=renames.params_to_device)),
    Field("PV/bootloader", String, RW, "\"pygrub\" for a VM that boots with its own boot "
          "loader (boot_method grub), \"\" otherwise; writing \"\" moves a grub VM to "
          "kernel_external", since="1.0",
          same_as=Renamed(("boot_method",), read=renames.method_to_bootloader,
                          write=renames.bootloader_to_method)),
    Field("PV/kernel", String, RW, "path to the kernel (kernel/kernel)", since="1.0",
          same_as=Renamed(("kernel_kernel",))),
    Field("PV/ramdisk", String, RW, "path to the initrd (kernel/initrd)", since="1.0",
          same_as=Renamed(("kernel_initrd",))),
    Field("PV/args", String, RW, "kernel command-line arguments (kernel/args)", since="1.0",
          same_as=Renamed(("kernel_args",))),
    Field("PV/bootloader_args", String, RW, "arguments for the boot loader (grub/cmdline)",
          since="1.0", same_as=Renamed(("grub_cmdline",))),
    Field("platform", Map(String, String), RW, "the platform/* fields keyed as xend 3.1 "
          "keyed them (docs/api.md, Two revisions): stdvga, serial, localtime, "
          "rtc_timeoffset, soundhw, vnc, sdl, acpi, apic, pae; a key left out is its "
          "default", since="1.0",
          same_as=Renamed(renames.PLATFORM_SOURCES, read=renames.fields_to_platform,
                          write=renames.platform_to_fields)),
    Field("auto_power_on", Bool, RW, "true if the VM starts when the daemon starts after a "
          "host boot (other_config:auto_poweron)", since="1.0",
          same_as=Renamed(("other_config",), read=renames.config_to_autostart,
                          write=renames.autostart_to_config)),
    # 1.0: host's interfaces, storage and objects
    Field("crash_dumps", Set(Ref("crashdump")), RO_RUN, "crash dumps associated with "
          "this VM", since="1.0"),
    Field("VTPMs", Set(Ref("VTPM")), RO_RUN, "virtual TPMs (none: the host has no TPM "
          "backend)", since="1.0"),
    Field("suspend_VDI", Ref("VDI"), RO_RUN, "the VDI a suspend image is stored on: "
          "always null, as the daemon keeps suspend images as files of its own (the VM's "
          "directory)", since="1.0"),
], messages=[
    _vm_op("clone", [Param("new_name", String, "The name of the cloned VM")],
           "Clones the specified VM, making a new VM (Halted only).", result=Ref("VM")),
    _vm_op("start", [Param("start_paused", Bool,
                           "Instantiate VM in paused state if set to true.")],
           "Start the specified VM (Halted only).", rev="0.2"),
    _vm_op("pause", [], "Pause the specified VM (Running only)."),
    _vm_op("unpause", [], "Resume the specified VM (Paused only)."),
    _vm_op("clean_shutdown", [], "Attempt to cleanly shutdown the specified VM."),
    _vm_op("clean_reboot", [], "Attempt to cleanly reboot the specified VM."),
    _vm_op("hard_shutdown", [], "Stop the VM without attempting a clean shutdown."),
    _vm_op("hard_reboot", [], "Reset the VM without attempting a clean shutdown."),
    _vm_op("suspend", [Param("live", Bool, "If set to true, perform a live hibernate; "
                             "otherwise suspend the VM before commencing hibernate")],
           "Suspend the specified VM to disk.", rev="0.2"),
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
    # 1.0: where it disagrees with the draft
    _vm_op("suspend", [], "Suspend the specified VM to disk (Running only).", since="1.0",
           rev="1.0"),
    _vm_op("start", [Param("start_paused", Bool,
                           "Instantiate VM in paused state if set to true."),
                     Param("force", Bool, "the later revisions' flag to skip pre-boot "
                           "checks: accepted; this daemon has no check it would skip",
                           optional=True)],
           "Start the specified VM (Halted only).", since="1.0", rev="1.0"),
    # 1.0: live memory
    _vm_op("set_memory_dynamic_max_live", [Param("max", Int, "the new memory/dynamic_max, "
                                                 "in bytes")],
           "Set memory/dynamic_max and move the resident guest's balloon target to it at "
           "once (Running or Paused); a memory/dynamic_min above it comes down with it.",
           since="1.0"),
    _vm_op("set_memory_dynamic_min_live", [Param("min", Int, "the new memory/dynamic_min, "
                                                 "in bytes")],
           "Set memory/dynamic_min (a memory/dynamic_max below it goes up with it) and move "
           "the resident guest's balloon target to memory/dynamic_max at once (Running or "
           "Paused).", since="1.0"),
    _vm_op("migrate", [Param("dest", String, "the destination host"),
                       Param("live", Bool, "migrate without stopping the guest"),
                       Param("options", Map(String, String), "other parameters")],
           "Move the VM to another host: refused (OPERATION_NOT_ALLOWED), as this host is "
           "in no pool of hosts.", since="1.0"),
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
    # 1.0: events, session, host facts
    Field("API_version/major", Int, RO_RUN, "major version number of the API: 1",
          since="1.0"),
    Field("API_version/minor", Int, RO_RUN, "minor version number of the API: 0, whichever "
          "revision the session speaks", since="1.0"),
    Field("API_version/vendor", String, RO_RUN, "identification of vendor: xend",
          since="1.0"),
    Field("API_version/vendor_implementation", Map(String, String), RO_RUN,
          "details of vendor implementation: the daemon's version and backend", since="1.0"),
    Field("capabilities", Set(String), RO_RUN, "the guest types the hypervisor runs, in "
          "Xen's spelling (hvm-3.0-x86_64, xen-3.0-x86_64, ...)", since="1.0"),
    Field("cpu_configuration", Map(String, String), RO_RUN, "the CPU configuration of the "
          "host: nr_cpus, nr_nodes, sockets_per_node, cores_per_socket, threads_per_core",
          since="1.0"),
    Field("sched_policy", String, RO_RUN, "the scheduler policy in force on the host",
          since="1.0"),
    Field("supported_bootloaders", Set(String), RO_RUN, "the bootloaders installed on the "
          "host", since="1.0"),
    Field("logging", Map(String, String), RW, "logging configuration", since="1.0"),
    Field("other_config", Map(String, String), RW, "additional configuration", since="1.0"),
    Field("suspend_image_sr", Ref("SR"), RW, "the SR in which VDIs for suspend images are "
          "created; null once that SR is deleted", since="1.0"),
    Field("crash_dump_sr", Ref("SR"), RW, "the SR in which VDIs for crash dumps are "
          "created; null once that SR is deleted", since="1.0"),
    # 1.0: metrics
    Field("metrics", Ref("host_metrics"), RO_RUN, "metrics associated with this host",
          since="1.0"),
    # 1.0: host's interfaces, storage and objects
    Field("PIFs", Set(Ref("PIF")), RO_RUN, "physical network interfaces", since="1.0"),
    Field("PBDs", Set(Ref("PBD")), RO_RUN, "physical blockdevices", since="1.0"),
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
    # 1.0: events, session, host facts
    Message("list_methods", [], Set(String),
            "Every method name the session may call, sorted", since="1.0"),
    Message("get_log", [Param("host", Ref("host"), "the host")], String,
            "The daemon's own log, newest last, at most 64 KiB (whole lines); empty where "
            "the daemon logs to stderr", root_only=True, extension=True),
    Message("send_debug_keys", [Param("host", Ref("host"), "the host"),
                                Param("keys", String, "the debug keys, e.g. \"q\"")],
            None, "Inject the given string as debugging keys into Xen (xl debug-keys)",
            root_only=True, since="1.0"),
], creatable=False, deletable=False, list_rpc=True, root_writes=True)

HOST_CPU = Class("host_cpu", "a physical CPU", [
    uuid_field(),
    Field("host", Ref("host"), RO_INS, "the host the CPU is in", required=True),
    Field("number", Int, RO_INS, "the number of the physical CPU within the host",
          required=True),
    Field("features", Set(cpu_feature), RO_INS, "the features supported by the CPU",
          rev="0.2"),
    Field("utilisation", Float, RO_RUN, "the current CPU utilisation"),
    # 1.0
    Field("features", String, RO_RUN, "the CPU's features as a bitmap: 32-bit words in "
          "hexadecimal joined by \":\", bit N set for the cpu_feature enumeration's N-th "
          "value", since="1.0", rev="1.0",
          same_as=Renamed(("features",), read=renames.features_to_bitmap)),
    # 1.0: events, session, host facts
    Field("vendor", String, RO_RUN, "the vendor of the physical CPU (cpuinfo's vendor_id)",
          since="1.0"),
    Field("speed", Int, RO_RUN, "the speed of the physical CPU, in MHz", since="1.0"),
    Field("modelname", String, RO_RUN, "the model name of the physical CPU", since="1.0"),
    Field("stepping", String, RO_RUN, "the stepping of the physical CPU", since="1.0"),
    Field("flags", String, RO_RUN, "the flags of the physical CPU, as cpuinfo prints them "
          "(a decoded version of the features field)", since="1.0"),
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
    # 1.0: storage and network records
    Field("other_config", Map(String, String), RW, "additional configuration", since="1.0"),
    # 1.0: host's interfaces, storage and objects
    Field("PIFs", Set(Ref("PIF")), RO_RUN, "the host interface the network is connected "
          "through (none for a private network)", since="1.0"),
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
    # 1.0: devices
    *_device_fields("VIF"),
    # Xen 3.x's xm network-attach
    Field("other_config", Map(String, String), RW, "additional configuration (the later "
          "API's; xm of Xen 3.1 sends it)", extension=True),
    # 1.0: metrics
    Field("metrics", Ref("VIF_metrics"), RO_RUN, "metrics associated with this VIF",
          since="1.0"),
    Field("io/read_kbs", Float, RO_RUN, "xend 3.1's name of VIF_metrics.io_read_kbs: "
          "KiB/s the host read from the interface, what the guest sent",
          extension=True, same_as=Renamed(("IO_bandwidth_outgoing_kbs",))),
    Field("io/write_kbs", Float, RO_RUN, "xend 3.1's name of VIF_metrics.io_write_kbs: "
          "KiB/s the host wrote to the interface, what the guest received",
          extension=True, same_as=Renamed(("IO_bandwidth_incoming_kbs",))),
], messages=[
    # 1.0: devices
    *_device_messages("VIF"),
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
    Field("type", String, RO_INS, "type of the storage repository", default="dir",
          rev="0.2"),
    Field("location", String, RO_INS,
          "a string that uniquely determines the location of the storage repository"),
    # 1.0: storage and network records
    Field("content_type", String, RO_INS, "the type of the SR's content: \"iso\" for an SR "
          "of CD-ROM images (type iso), \"\" otherwise", since="1.0"),
    # 1.0: the SR type
    Field("type", String, RO_INS, "type of the storage repository: \"local\" for a dir SR "
          "(xend 3.1's local file SR, where 1.0 clients look for their default SR)",
          since="1.0", rev="1.0",
          same_as=Renamed(("type",), read=renames.dir_to_local, write=renames.local_to_dir)),
    # 1.0: host's interfaces, storage and objects
    Field("PBDs", Set(Ref("PBD")), RO_RUN, "the PBD through which this host reaches the "
          "SR", since="1.0"),
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
    # 1.0: storage and network records
    Message("get_supported_types", [], Set(String),
            "The SR types this host can make (SR.create's, and SR.introduce's)", since="1.0"),
], list_rpc=True, root_writes=True)

VDI = Class("VDI", "a virtual disk image", [
    uuid_field(),
    *name_fields(),
    Field("SR", Ref("SR"), RW, "storage repository in which the VDI resides", required=True),
    Field("VBDs", Set(Ref("VBD")), RW, "list of vbds that refer to this disk"),
    Field("virtual_size", Int, RW,
          "size of disk as presented to the guest (in multiples of sector_size field)",
          required=True,
          on_set="grows the disk image (never shrinks it; not while a resident VM uses it)",
          rev="0.2"),
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
    # 1.0
    Field("virtual_size", Int, RW,
          "size of disk as presented to the guest (in bytes; a whole number of sectors: "
          "a size between two is rounded up)", required=True, since="1.0", rev="1.0",
          same_as=Renamed(("virtual_size", "sector_size"), read=renames.sectors_to_bytes,
                          write=renames.bytes_to_sectors)),
    # 1.0: storage and network records
    Field("other_config", Map(String, String), RW, "additional configuration", since="1.0"),
    # 1.0: host's interfaces, storage and objects
    Field("crash_dumps", Set(Ref("crashdump")), RO_RUN, "list of crash dumps that refer "
          "to this disk", since="1.0"),
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
    # 1.0: devices
    Field("bootable", Bool, RW, "true if the guest boots from this VBD: it comes first in "
          "the boot order", since="1.0"),
    Field("type", vbd_type, RW, "how the VBD appears to the guest: a disk, or a CD-ROM "
          "drive (a VDI of an iso SR is always in one)", default="Disk", since="1.0"),
    *_device_fields("VBD"),
    # 1.0: metrics
    Field("metrics", Ref("VBD_metrics"), RO_RUN, "metrics associated with this VBD",
          since="1.0"),
    Field("io/read_kbs", Float, RO_RUN, "xend 3.1's name of VBD_metrics.io_read_kbs: "
          "KiB/s the guest read", extension=True,
          same_as=Renamed(("IO_bandwidth_incoming_kbs",))),
    Field("io/write_kbs", Float, RO_RUN, "xend 3.1's name of VBD_metrics.io_write_kbs: "
          "KiB/s the guest wrote", extension=True,
          same_as=Renamed(("IO_bandwidth_outgoing_kbs",))),
], messages=[
    # 1.0: devices
    *_device_messages("VBD"),
    Message("media_change", [Param("vbd", Ref("VBD"), "the CD VBD"),
                             Param("vdi", Ref("VDI"), "the new medium")], None,
            "Put another medium (VDI) in a CD VBD's drive; live in a resident guest. A "
            "disk is changed by deleting its VBD and making another", since="1.0"),
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

# Xen-API 1.0 (every field as 1.0 declares it; the draft had no consoles): made by the
# daemon while the VM's guest exists (state/domains.py), one per protocol the backend
# offers; never by clients (1.0's console.create and destroy are not served).
CONSOLE = Class("console", "a console of a running guest, reached through the daemon", [
    uuid_field(),
    Field("protocol", console_protocol, RO_RUN, "the protocol the console speaks"),
    Field("location", String, RO_RUN,
          "the URL a client connects to, on one of the daemon's own listeners"),
    Field("VM", Ref("VM"), RO_RUN, "the VM whose console this is"),
    Field("other_config", Map(String, String), RW, "additional configuration"),
], creatable=False, deletable=False, since="1.0")

# 1.0: a VM's figures, seen through its own object (handlers/derived.py).
VM_METRICS = Class("VM_metrics", "the metrics associated with a VM", [
    uuid_field(),
    Field("memory/actual", Int, RO_RUN, "Guest's actual memory (bytes)",
          same_as=Renamed(("memory_actual",))),
    Field("VCPUs/number", Int, RO_RUN, "Current number of VCPUs",
          same_as=Renamed(("VCPUs_number",))),
    Field("VCPUs/utilisation", Map(Int, Float), RO_RUN,
          "Utilisation for all of guest's current VCPUs",
          same_as=Renamed(("VCPUs_utilisation",))),
    Field("VCPUs/params", Map(String, String), RO_RUN, "The live equivalent to "
          "VM.VCPUs_params: the weight and cap that apply (256 and 0 where unset) and, for "
          "every vCPU N, cpumapN: the host CPUs it may run on, listed (all where unpinned)"),
    Field("start_time", DateTime, RO_RUN, "Time at which this VM was last booted",
          same_as=Renamed(("start_time",))),
    Field("last_updated", DateTime, RO_RUN, "Time at which this information was last "
          "updated: the daemon's last sample"),
    # 1.0: metrics
    Field("VCPUs/CPU", Map(Int, Int), RO_RUN, "VCPU to PCPU map: each vCPU (0 to "
          "VCPUs/max - 1) and the host CPU it runs or last ran on, -1 for a vCPU that is "
          "not online, as last sampled; empty while the VM is not resident"),
    Field("VCPUs/flags", Map(Int, Set(String)), RO_RUN, "CPU flags (blocked,online,"
          "running): each vCPU's, as last sampled (docs/api.md); empty while the VM is "
          "not resident"),
    Field("state", Set(String), RO_RUN, "The state of the guest, as xm list shows it: "
          "running or blocked (a Running VM: whether a vCPU was running), paused, crashed "
          "(kept after a crash), dying (shutting down); empty while the VM is not "
          "resident"),
], creatable=False, deletable=False, stored=False, owner="VM", since="1.0")

# 1.0: metrics. What a guest agent reports, a host's memory and a device's I/O rates,
# each seen through an object of its own (handlers/metrics.py).
_GUEST_DATA = "what the guest agent reports (docs/api.md); empty without one"


def _last_updated():
    return Field("last_updated", DateTime, RO_RUN, "Time at which this information was "
                 "last updated: the daemon's last sample")


def _io_fields(read, write):
    """A device's io/read_kbs and io/write_kbs, the owner's fields ``read`` and ``write``."""
    return [Field("io/read_kbs", Float, RO_RUN, "Read bandwidth (KiB/s)",
                  same_as=Renamed((read,))),
            Field("io/write_kbs", Float, RO_RUN, "Write bandwidth (KiB/s)",
                  same_as=Renamed((write,)))]


VM_GUEST_METRICS = Class("VM_guest_metrics", "the metrics reported by the guest (as "
                         "opposed to inferred from outside)", [
    uuid_field(),
    Field("os_version", Map(String, String), RO_RUN, "version of the OS: " + _GUEST_DATA),
    Field("PV_drivers_version", Map(String, String), RO_RUN, "version of the PV drivers "
          "(VM.tools_version)", same_as=Renamed(("tools_version",))),
    Field("memory", Map(String, String), RO_RUN, "free/used/total memory: " + _GUEST_DATA),
    Field("disks", Map(String, String), RO_RUN, "disk configuration/free space: "
          + _GUEST_DATA),
    Field("networks", Map(String, String), RO_RUN, "network configuration: " + _GUEST_DATA),
    Field("other", Map(String, String), RO_RUN, "anything else: " + _GUEST_DATA),
    _last_updated(),
], creatable=False, deletable=False, stored=False, owner="VM", since="1.0")

HOST_METRICS = Class("host_metrics", "the metrics associated with a host", [
    uuid_field(),
    Field("memory/total", Int, RO_RUN, "Host's total memory (bytes)",
          same_as=Renamed(("memory_total",))),
    Field("memory/free", Int, RO_RUN, "Host's free memory (bytes)",
          same_as=Renamed(("memory_free",))),
    _last_updated(),
], creatable=False, deletable=False, stored=False, owner="host", since="1.0")

# A VIF's "read" is xend 3.1's: what the host reads from the guest's interface (dom0's
# vif receives), so what the guest sent; "write" what the guest received.
VIF_METRICS = Class("VIF_metrics", "the metrics associated with a virtual network device", [
    uuid_field(),
    *_io_fields("IO_bandwidth_outgoing_kbs", "IO_bandwidth_incoming_kbs"),
    _last_updated(),
], creatable=False, deletable=False, stored=False, owner="VIF", since="1.0")

VBD_METRICS = Class("VBD_metrics", "the metrics associated with a virtual block device", [
    uuid_field(),
    *_io_fields("IO_bandwidth_incoming_kbs", "IO_bandwidth_outgoing_kbs"),
    _last_updated(),
], creatable=False, deletable=False, stored=False, owner="VBD", since="1.0")

# 1.0: PIF, the host interface a network with a NIC is connected through (one per such
# network: a view of its record, handlers/pif.py), and its figures.
PIF = Class("PIF", "a physical network interface of the host: the network's NIC (a VLAN "
            "on it is a PIF of its own network)", [
    uuid_field(),
    Field("device", String, RW, "machine-readable name of the interface (e.g. eth0): the "
          "network's NIC", same_as=Renamed(("NIC",))),
    Field("network", Ref("network"), RO_INS, "virtual network to which this pif is "
          "connected"),
    Field("host", Ref("host"), RO_INS, "physical machine to which this pif is connected"),
    Field("MAC", String, RW, "ethernet MAC address of physical interface, as the host's "
          "kernel reports it (\"\" while the host has no such interface)",
          on_set="refused (VALUE_NOT_SUPPORTED): a physical interface's address is the "
          "host's, not the toolstack's"),
    Field("MTU", Int, RW, "MTU in octets, as the host's kernel reports it (0 while the "
          "host has no such interface)", on_set="sets the interface's MTU on the host "
          "(ip link), 68-65536"),
    Field("VLAN", Int, RW, "VLAN tag for all traffic passing through this interface: the "
          "network's VLAN, -1 for none", same_as=Renamed(
              ("VLAN",), read=renames.vlan_to_tag, write=renames.tag_to_vlan)),
    Field("metrics", Ref("PIF_metrics"), RO_RUN, "metrics associated with this PIF"),
], messages=[
    Message("create_VLAN", [Param("device", String, "the host interface the VLAN is on "
                                  "(e.g. eth0)"),
                            Param("network", Ref("network"), "the network to connect: one "
                                  "without a NIC"),
                            Param("host", Ref("host"), "the host (this one)"),
                            Param("VLAN", Int, "the VLAN tag, 0 to 4094")],
            Ref("PIF"), "Connect the network through VLAN VLAN on device: sets the "
            "network's NIC and VLAN; returns the network's new PIF", root_only=True),
    Message("destroy", [Param("self", Ref("PIF"), "the PIF to destroy")], None,
            "Disconnect a VLAN PIF's network (its NIC and VLAN cleared); a PIF without a "
            "VLAN is the host's own interface (PIF_IS_PHYSICAL)", root_only=True),
], creatable=False, deletable=False, stored=False, owner="network", root_writes=True,
   since="1.0")

PIF_METRICS = Class("PIF_metrics", "the metrics associated with a PIF", [
    uuid_field(),
    Field("io/read_kbs", Float, RO_RUN, "Read bandwidth (KiB/s): what the host receives on "
          "the interface, as the sampler last saw it"),
    Field("io/write_kbs", Float, RO_RUN, "Write bandwidth (KiB/s): what the host sends "
          "through it"),
    _last_updated(),
], creatable=False, deletable=False, stored=False, owner="PIF", since="1.0")

# 1.0: PBD, how this host reaches an SR (one per SR on this single host: a view of the
# SR's record, handlers/pbd.py).
PBD = Class("PBD", "the physical block device through which a host reaches an SR", [
    uuid_field(),
    Field("host", Ref("host"), RO_INS, "physical machine on which the pbd is available: "
          "this host"),
    Field("SR", Ref("SR"), RO_INS, "the storage repository that the pbd realises"),
    Field("device_config", Map(String, String), RO_INS, "what the host's SR driver is "
          "given: location (the SR's), and the SR type's own keys (format: the image "
          "format; adopted, read_only: \"true\" where so)"),
    Field("currently_attached", Bool, RO_RUN, "is the SR currently attached on this host? "
          "(always: the daemon attaches every SR it has)"),
], creatable=False, deletable=False, stored=False, owner="SR", since="1.0")

# 1.0: crashdump, a crashed guest's memory kept in a VDI (handlers/crashdump.py).
CRASHDUMP = Class("crashdump", "a VM's memory at a crash, kept in a VDI of type crashdump "
                  "(made by the daemon when actions/after_crash says coredump_and_*)", [
    uuid_field(),
    Field("VM", Ref("VM"), RO_INS, "the virtual machine", required=True),
    Field("VDI", Ref("VDI"), RO_INS, "the virtual disk", required=True),
], root_writes=True, since="1.0")

# 1.0: VTPM, a VM's virtual TPM: declared, and refused (handlers/vtpm.py): this daemon
# has no TPM backend.
VTPM = Class("VTPM", "a virtual TPM device", [
    uuid_field(),
    Field("VM", Ref("VM"), RO_INS, "the virtual machine", required=True),
    Field("backend", Ref("VM"), RO_INS, "the domain where the backend is located"),
], since="1.0")

# Beyond 1.0 (the later Xen-API's pool): this one host as a pool of one, a view of the
# host's record (handlers/pool.py).
POOL = Class("pool", "a pool of hosts: this host alone, its master", [
    uuid_field(),
    Field("name_label", String, RW, "a name for the pool"),
    Field("name_description", String, RW, "a description of the pool"),
    Field("master", Ref("host"), RO_RUN, "the host that is the pool's master: this one"),
    Field("default_SR", Ref("SR"), RW, "the SR the daemon puts its own VDIs in where none "
          "is named (crash dumps without a crash_dump_SR); null: the SR it made at first "
          "start"),
    Field("suspend_image_SR", Ref("SR"), RW, "the SR in which VDIs for suspend images are "
          "created: the host's suspend_image_sr",
          same_as=Renamed(("suspend_image_sr",))),
    Field("crash_dump_SR", Ref("SR"), RW, "the SR in which VDIs for crash dumps are "
          "created: the host's crash_dump_sr", same_as=Renamed(("crash_dump_sr",))),
    Field("other_config", Map(String, String), RW, "additional configuration"),
], creatable=False, deletable=False, stored=False, owner="host", root_writes=True,
   extension=True)

EVENT = Class("event", "changes to objects, as in the later Xen-API", [], messages=[
    Message("register", [Param("classes", Set(String), "class names, \"*\", or class/ref; "
                               "none: every class")],
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
                               USER, CONSOLE, EVENT,
                               VM_METRICS,
                               # 1.0: metrics
                               VM_GUEST_METRICS, HOST_METRICS, VIF_METRICS, VBD_METRICS,
                               # 1.0: host's interfaces, storage and objects
                               PIF, PIF_METRICS, PBD, CRASHDUMP, VTPM, POOL)}

# Other spellings of methods, and the methods that answer them: the spec's own of two task
# calls (§1.4.3), and the SDK's of event.from.
ALIASES = {
    "Async.Task.GetStatus": "task.get_status_struct",
    "Async.Task.GetAllTasks": "task.get_all_tasks",
    # 1.0: events. The SDK's spelling of event.from, which Python cannot write as
    # x.event.from ("from" is a keyword).
    "event_from": "event.from",
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
    # 1.0: host's interfaces, storage and objects
    Binding("crashdump", "VM", "VM", "crash_dumps", "cascade", "one-to-many"),
    Binding("crashdump", "VDI", "VDI", "crash_dumps", "refuse", "one-to-many"),
    Binding("VTPM", "VM", "VM", "VTPMs", "cascade", "one-to-many"),
]


def binding_of_set(cls, wire):
    """The Binding whose Set side is cls.wire, or None."""
    return _BY_SET.get((cls, wire))


def binding_of_ref(cls, wire):
    """The Binding whose Ref side is cls.wire, or None."""
    return _BY_REF.get((cls, wire))


_BY_SET = {(b.set_class, b.set_field): b for b in BINDINGS}
_BY_REF = {(b.ref_class, b.ref_field): b for b in BINDINGS}


def in_record(cls, f, rev):
    """Whether field ``f`` of ``cls`` is in the records of sessions of revision ``rev``: a
    draft session's records hold the draft's names (and extensions), not those 1.0 added
    to a draft class; a 1.0 session's hold every name it can read."""
    return rev != "0.2" or f.since == "0.2" or cls.since != "0.2"


def draft_fields(cls):
    """The fields of ``cls`` the draft's to_XML and DTD hold: a draft session's record."""
    return [f for f in cls.fields_for("0.2") if in_record(cls, f, "0.2")]


def all_fields():
    """Yield (Class, Field) for every field of every class."""
    for c in CLASSES.values():
        for f in c.fields:
            yield c, f
