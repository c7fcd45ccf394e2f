"""The VM and what belongs to a VM: its metrics, consoles, crash dumps and TPMs."""

from .. import renames
from ..enums import (
    bios_boot_option,
    boot_type,
    console_protocol,
    cpu_feature,
    display_type,
    on_crash_behaviour,
    on_normal_exit,
    vm_power_state,
)
from ..types import Bool, DateTime, Float, Int, Map, Ref, Set, String
from .schema import (
    RO_INS,
    RO_RUN,
    RW,
    Class,
    Field,
    Message,
    Param,
    Renamed,
    last_updated_field,
    name_fields,
    uuid_field,
)


def _vm_op(name, params, desc, result=None, lifecycle=None, **flags):
    return Message(name, [Param("vm", Ref("VM"), "the VM")] + params, result, desc,
                   lifecycle=lifecycle or name, **flags)


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
    Field("ha_restart_priority", String, RW, "what a surviving member of the pool does "
          "when the VM's host dies: \"restart\" starts it (before the \"best-effort\" "
          "ones, each in order), \"\" leaves it Halted (the later API's)", extension=True),
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
           "(Halted, Running or Paused: a resident guest keeps the memory it started "
           "with); static_min <= dynamic_min <= dynamic_max <= static_max holds.",
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
    _vm_op("start_on", [Param("host", Ref("host"), "the host to start it on"),
                        Param("start_paused", Bool,
                              "Instantiate VM in paused state if set to true."),
                        Param("force", Bool, "the later revisions' flag to skip pre-boot "
                              "checks: accepted; this daemon has no check it would skip")],
           "Start the specified VM (Halted only) on the given host of the pool, which must "
           "be live, enabled, reach the SRs of its disks and have the memory "
           "(docs/pool.md, \"Placement\").", lifecycle="start", extension=True),
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
           "Move the resident VM to the host of the pool that `dest` names (its "
           "name_label, uuid or address) as VM.pool_migrate does, live whatever `live` "
           "says; refused (OPERATION_NOT_ALLOWED) on a host in no pool.", since="1.0"),
    _vm_op("pool_migrate", [Param("host", Ref("host"), "the host of the pool to move to"),
                            Param("options", Map(String, String),
                                  "live: \"true\" (the default); storage: \"shared\" "
                                  "(the default: the target opens the same images) or "
                                  "\"copy\" (disks on this host's local SRs are copied "
                                  "into new VDIs on the target, the old ones destroyed); "
                                  "sr: the SR the copies are made in (default: the "
                                  "target's default SR); bandwidth: the most MiB/s the "
                                  "guest's memory is sent at (default: no cap)")],
           "Move the Running VM live to another host of its pool (the later API's "
           "message): the guest runs on there, resident_on moves; on a cancel or a "
           "failure it runs on where it was (VM_MIGRATE_FAILED says why).",
           lifecycle="migrate", extension=True),
], list_rpc=True, lifecycle=True)


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
    last_updated_field(),
], creatable=False, deletable=False, stored=False, owner="VM", since="1.0")


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
