"""The Xen Management API draft 0.2, copied by hand from the spec's tables.

These are deliberately *not* imported from the datamodel: they are the oracle the
datamodel is checked against. Type names are the datamodel's ``spec_name()``
spelling of the spec's column ("→" written "->"; the spec's "vdi.type" is the
enum ``vdi_type`` of §2.3.3).
"""

RO_RUN, RO_INS, RW = "RO_run", "RO_ins", "RW"

# §2.1
SPEC_CLASSES = ["session", "task", "VM", "host", "host_cpu", "network", "VIF", "SR", "VDI",
                "VBD", "user"]

# §2.3.3, values in the spec's order and spelling.
SPEC_ENUMS = {
    "vm_power_state": ["Halted", "Paused", "Running", "Suspended", "ShuttingDown", "Unknown"],
    "on_normal_exit": ["destroy", "restart"],
    "on_crash_behaviour": ["destroy", "coredump_and_destroy", "restart", "coredump_and_restart",
                           "preserve", "rename_restart"],
    "bios_boot_option": ["floppy", "HD", "CDROM"],
    "boot_type": ["bios", "grub", "kernel_external", "kernel_internal"],
    "cpu_feature": """FPU VME DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA CMOV PAT PSE36 PN
        CLFLSH DTES ACPI MMX FXSR XMM XMM2 SELFSNOOP HT ACC IA64 SYSCALL MP NX MMXEXT LM
        3DNOWEXT 3DNOW RECOVERY LONGRUN LRTI CXMMX K6_MTRR CYRIX_ARR CENTAUR_MCR K8 K7 P3 P4
        CONSTANT_TSC FXSAVE_LEAK XMM3 MWAIT DSCPL EST TM2 CID CX16 XTPR XSTORE XSTORE_EN
        XCRYPT XCRYPT_EN LAHF_LM CMP_LEGACY""".split(),
    "vdi_type": ["system", "user", "ephemeral"],
    "vbd_mode": ["RO", "RW"],
    "driver_type": ["ioemu", "paravirtualised"],
}

S = "string"
INT = "int"
B = "bool"
F = "float"


def ref(c):
    return "%s ref" % c


def refs(c):
    return "(%s ref) Set" % c


FEATURES = "(cpu_feature) Set"

# §2.4-§2.14: (name as printed, qualifier, type), in the spec's order.
SPEC_FIELDS = {
    "session": [],
    "task": [],
    "VM": [
        ("uuid", RO_RUN, S),
        ("power_state", RO_RUN, "vm_power_state"),
        ("name/label", RW, S),
        ("name/description", RW, S),
        ("user_version", RW, INT),
        ("is_a_template", RW, B),
        ("resident_on", RO_RUN, ref("host")),
        ("memory/static_max", RO_INS, INT),
        ("memory/dynamic_max", RW, INT),
        ("memory/actual", RO_RUN, INT),
        ("memory/dynamic_min", RW, INT),
        ("memory/static_min", RO_INS, INT),
        ("VCPUs/policy", RW, S),
        ("VCPUs/params", RW, S),
        ("VCPUs/number", RO_RUN, INT),
        ("VCPUs/utilisation", RO_RUN, "(int -> float) Map"),
        ("VCPUs/features/required", RO_INS, FEATURES),
        ("VCPUs/features/can_use", RO_INS, FEATURES),
        ("VCPUs/features/force_on", RW, FEATURES),
        ("VCPUs/features/force_off", RW, FEATURES),
        ("actions/after_shutdown", RW, "on_normal_exit"),
        ("actions/after_reboot", RW, "on_normal_exit"),
        ("actions/after_suspend", RW, "on_normal_exit"),
        ("actions/after_crash", RW, "on_crash_behaviour"),
        ("VIFs", RW, refs("VIF")),
        ("VBDs", RW, refs("VBD")),
        ("TPM/instance", RO_INS, INT),
        ("TPM/backend", RO_INS, INT),
        ("bios/cdrom", RW, S),
        ("bios/boot", RW, "bios_boot_option"),
        ("platform/std_VGA", RW, B),
        ("platform/serial", RW, S),
        ("platform/localtime", RW, B),
        ("platform/clock_offset", RW, B),
        ("platform/enable_audio", RW, B),
        ("builder", RW, S),
        ("boot_method", RW, "boot_type"),
        ("kernel/kernel", RW, S),
        ("kernel/initrd", RW, S),
        ("kernel/args", RW, S),
        ("grub/cmdline", RW, S),
        ("PCI_bus", RO_INS, S),
        ("tools_version", RO_RUN, "(string -> string) Map"),
    ],
    "host": [
        ("uuid", RO_RUN, S),
        ("name/label", RW, S),
        ("name/description", RW, S),
        ("software_version", RO_RUN, "(string -> string) Map"),
        ("resident_VMs", RO_RUN, refs("VM")),
        ("host_CPUs", RO_RUN, refs("host_cpu")),
    ],
    "host_cpu": [
        ("uuid", RO_RUN, S),
        ("host", RO_INS, ref("host")),
        ("number", RO_INS, INT),
        ("features", RO_INS, FEATURES),
        ("utilisation", RO_RUN, F),
    ],
    "network": [
        ("uuid", RO_RUN, S),
        ("name/label", RW, S),
        ("name/description", RW, S),
        ("VIFs", RW, refs("VIF")),
        ("NIC", RW, S),
        ("VLAN", RW, S),
        ("default_gateway", RW, S),
        ("default_netmask", RW, S),
    ],
    "VIF": [
        ("uuid", RO_RUN, S),
        ("name", RW, S),
        ("type", RW, "driver_type"),
        ("device", RW, S),
        ("network", RW, ref("network")),
        ("VM", RW, ref("VM")),
        ("MAC", RW, S),
        ("MTU", RW, INT),
        ("network_read_kbs", RO_RUN, F),
        ("network_write_kbs", RO_RUN, F),
        ("IO_bandwidth/incoming_kbs", RO_RUN, F),
        ("IO_bandwidth/outgoing_kbs", RO_RUN, F),
    ],
    "SR": [
        ("uuid", RO_RUN, S),
        ("name/label", RW, S),
        ("name/description", RW, S),
        ("VDIs", RW, refs("VDI")),
        ("virtual_allocation", RO_RUN, INT),
        ("physical_utilisation", RO_RUN, INT),
        ("physical_size", RO_INS, INT),
        ("type", RO_INS, S),
        ("location", RO_INS, S),
    ],
    "VDI": [
        ("uuid", RO_RUN, S),
        ("name/label", RW, S),
        ("name/description", RW, S),
        ("SR", RW, ref("SR")),
        ("VBDs", RW, refs("VBD")),
        ("virtual_size", RW, INT),
        ("physical_utilisation", RO_RUN, INT),
        ("sector_size", RO_INS, INT),
        ("type", RO_INS, "vdi_type"),
        ("parent", RO_INS, ref("VDI")),
        ("children", RO_INS, refs("VDI")),
        ("sharable", RW, B),
        ("read_only", RW, B),
    ],
    "VBD": [
        ("uuid", RO_RUN, S),
        ("VM", RW, ref("VM")),
        ("VDI", RW, ref("VDI")),
        ("device", RW, S),
        ("mode", RW, "vbd_mode"),
        ("driver", RW, "driver_type"),
        ("IO_bandwidth/incoming_kbs", RO_RUN, F),
        ("IO_bandwidth/outgoing_kbs", RO_RUN, F),
    ],
    "user": [
        ("uuid", RO_RUN, S),
        ("short_name", RO_INS, S),
        ("fullname", RW, S),
    ],
}

# §2.2, as printed: (object.field, object.field, relationship).
SPEC_BINDINGS = [
    ("VDI.VBDs", "VBD.VDI", "many-to-one"),
    ("VDI.parent", "VDI.children", "one-to-many"),
    ("VBD.VM", "VM.VBDs", "one-to-many"),
    ("VIF.VM", "VM.VIFs", "one-to-many"),
    ("VIF.network", "network.VIFs", "one-to-many"),
    ("SR.VDIs", "VDI.SR", "many-to-one"),
    ("host.resident_VMs", "VM.resident_on", "many-to-one"),
    ("host.host_CPUs", "host_cpu.host", "many-to-one"),
]

# §2.4.2-§2.13.2: the additional RPCs and their parameter names (session excluded).
SPEC_MESSAGES = {
    "session": {"login_with_password": ["uname", "pwd"], "logout": []},
    "task": {"get_status": ["task"], "get_all_tasks": []},
    "VM": {"clone": ["vm", "new_name"], "start": ["vm", "start_paused"], "pause": ["vm"],
           "unpause": ["vm"], "clean_shutdown": ["vm"], "clean_reboot": ["vm"],
           "hard_shutdown": ["vm"], "hard_reboot": ["vm"], "suspend": ["vm", "live"],
           "resume": ["vm", "start_paused"]},
    "host": {"disable": ["host"], "enable": ["host"], "shutdown": ["host"],
             "reboot": ["host"]},
    "host_cpu": {},
    "network": {},
    "VIF": {},
    "SR": {"clone": ["sr", "loc", "name"]},
    "VDI": {"snapshot": ["vdi"]},
    "VBD": {},
    "user": {},
}

# Classes with the spec's "list" RPC.
SPEC_LIST_CLASSES = {"VM", "host", "network", "SR"}


def wire(name):
    return name.replace("/", "_")
