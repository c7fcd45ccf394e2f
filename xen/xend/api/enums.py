"""The enumerations of the Xen Management API (draft 0.2, §2.3.3), values spelled exactly
as the spec, and the few the later Xen-API added: part of the datamodel (datamodel.py
re-exports them), kept apart only for length."""

from .types import Enum

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
    # 1.0: a crashed guest's memory (crashdump)
    ("crashdump", "a disk that stores a VM's memory at a crash"),
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

# 1.0: devices: what kind of drive a VBD is.
vbd_type = Enum("vbd_type", [
    ("CD", "VBD will appear to guest as CD"),
    ("Disk", "VBD will appear to guest as disk"),
], spellings=[("disk", "Disk"), ("cdrom", "CD")])   # xm of Xen 3.1's (its create.dtd)

# 1.0: what may be done to a task
task_allowed_operations = Enum("task_allowed_operations", [
    ("Cancel", "the task may be cancelled (task.cancel)"),
])

ENUMS = {e.name: e for e in (
    vm_power_state, on_normal_exit, on_crash_behaviour, bios_boot_option, boot_type,
    cpu_feature, vdi_type, vbd_mode, driver_type, task_status_type, display_type,
    console_protocol,
    vbd_type,
    task_allowed_operations)}
