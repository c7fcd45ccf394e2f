"""Translate a DomainSpec into a qemu-system-x86_64 command line.

Pure functions: nothing here starts a process or talks QMP. ``build_argv`` is
the single place where VM fields (backend/spec.py's VMConfig) become QEMU
arguments; docs/vm-mapping.md maps each of them, and tests/unit/test_vm_mapping.py
keeps that page in step with this module. The names QEMU
knows a guest's devices by (node names, device and netdev ids, PCI slots) are
made here too, for hot-plug and for reading devices back after a restart.
"""

import dataclasses
import json
import re
import uuid as uuidlib

from ...host import facts
from ..base import BackendError
from ..common import BIOS_BOOT

# Files of the guest's state dir: the daemon makes them and hands QEMU descriptors
# (the console's socket too, which the daemon reads and logs: console.py).
QMP_SOCKET = "qmp.sock"
CONSOLE_SOCKET = "console.sock"
CONSOLE_LOG = "console.log"
QEMU_LOG = "qemu.log"

MIB = 1024 * 1024

# The cpu_feature values with no CPUID bit of their own (Linux's synthetic flags, such as
# K8 or CONSTANT_TSC): QEMU cannot turn them on or off, so they are refused.
NO_CPUID_FLAG = frozenset({
    "CENTAUR_MCR", "CONSTANT_TSC", "CXMMX", "CYRIX_ARR", "FXSAVE_LEAK", "K6_MTRR", "K7", "K8",
    "LONGRUN", "LRTI", "MP", "P3", "P4", "RECOVERY",
})
# Where QEMU's name for a CPUID flag is not Linux's (with "-" for "_").
QEMU_FLAG_NAMES = {"DTES": "ds", "XSTORE": "xstore", "XSTORE_EN": "xstore-en",
                   "XCRYPT": "xcrypt", "XCRYPT_EN": "xcrypt-en"}
# cpu_feature names of the API -> QEMU CPUID flag names, in CPUID order: made from the
# host's table of Linux's flag names (host/facts.py), so that each flag is named once.
CPU_FEATURES = {
    feature: QEMU_FLAG_NAMES.get(feature, facts.FEATURE_TO_FLAG[feature].replace("_", "-"))
    for feature in dict.fromkeys(facts.CPU_FEATURES.values()) if feature not in NO_CPUID_FLAG
}

# The CPU model of every guest, and of the vCPUs hot-plugged into it (QEMU's
# "qemu64-x86_64-cpu" device, which -cpu's flags apply to as well).
CPU_MODEL = "qemu64"

# The cpu_feature names of the flags the qemu64 model turns on: QEMU 7.2's model
# definition, as query-cpu-model-expansion reports it. A non-empty
# VCPUs/features/can_use turns off those of them the VM may not use.
QEMU64_FEATURES = frozenset({
    "FPU", "DE", "PSE", "TSC", "MSR", "PAE", "MCE", "CX8", "APIC", "SEP", "MTRR", "PGE",
    "MCA", "CMOV", "PAT", "PSE36", "CLFLSH", "MMX", "FXSR", "XMM", "XMM2", "XMM3", "CX16",
    "SYSCALL", "NX", "LM", "LAHF_LM",
})

# PIIX IDE: two buses with two units each; hdX names pick a fixed slot.
IDE_SLOTS = {"hda": (0, 0), "hdb": (0, 1), "hdc": (1, 0), "hdd": (1, 1)}

def _opt(value):
    """Escape a value for QEMU's key=value option syntax (commas are doubled)."""
    return str(value).replace(",", ",,")


def _memory_mib(vm):
    size = vm.memory_static_max
    if size < MIB:
        raise BackendError("VALUE_NOT_SUPPORTED", "memory/static_max", size,
                           "must be at least 1 MiB")
    return -(-size // MIB)


def _cpu_model(vm):
    """The ``-cpu`` option: qemu64, shaped by VCPUs/features/force_on, force_off and can_use.

    force_on adds ``+flag``, force_off ``-flag``. A non-empty can_use is the set the
    guest may use: every qemu64 flag outside can_use, required and force_on is turned
    off as well. An empty can_use restricts nothing. can_use names with no CPUID flag
    have nothing to restrict and are ignored.
    """
    flags, off = [], set()
    for key, sign, name in (("VCPUs_features_force_on", "+", "VCPUs/features/force_on"),
                            ("VCPUs_features_force_off", "-", "VCPUs/features/force_off")):
        for feature in getattr(vm, key):
            qemu_flag = CPU_FEATURES.get(feature)
            if qemu_flag is None:
                raise BackendError("VALUE_NOT_SUPPORTED", name, feature,
                                   "QEMU has no CPUID flag for this feature")
            flags.append(sign + qemu_flag)
            if sign == "-":
                off.add(feature)
    can_use = set(vm.VCPUs_features_can_use)
    if can_use:
        allowed = can_use | set(vm.VCPUs_features_required) | set(vm.VCPUs_features_force_on)
        # In CPU_FEATURES order, so the same record always gives the same argv.
        flags += ["-" + qemu_flag for feature, qemu_flag in CPU_FEATURES.items()
                  if feature in QEMU64_FEATURES and feature not in allowed | off]
    # qemu64 is the baseline both TCG and KVM provide, so saved guests stay portable.
    return ",".join([CPU_MODEL] + flags)


def vcpu_id(index):
    """The QEMU device id of the guest's vCPU ``index`` (1 and up: vCPU 0 is never
    unplugged, so it is -smp's own)."""
    return f"vcpu{index}"


def _vcpus(vm):
    """``-smp``: the guest may grow to VCPUs/max vCPUs (one socket of that many cores);
    vCPU 0 is -smp's, the others to VCPUs/at_startup are ``-device``s with ids, since
    QEMU can hot-unplug a CPU made by device_add or -device but not one -smp made."""
    most = max(vm.VCPUs_max, 1)
    if most == 1:
        return ["-smp", "1"]
    args = ["-smp", f"1,maxcpus={most},sockets=1,cores={most},threads=1"]
    for index in range(1, vm.VCPUs_at_startup or most):
        args += ["-device", f"{CPU_MODEL}-x86_64-cpu,id={vcpu_id(index)},"
                 f"socket-id=0,core-id={index},thread-id=0"]
    return args


def _check_serial(vm):
    mode = vm.platform_serial.strip()
    if mode not in ("", "none", "null", "pty"):
        raise BackendError("VALUE_NOT_SUPPORTED", "platform/serial", mode,
                           "only pty or none are supported")


def _serial(vm, console_fd):
    """The first serial port: in every platform/serial mode the listening socket the
    daemon bound (``console_fd``, inherited), which the daemon reads and logs."""
    return ["-chardev", f"socket,id=serial0,fd={console_fd},server=on,wait=off",
            "-serial", "chardev:serial0"]


def _boot(vm, disks, boot, slots):
    """Boot arguments, and whether they include the emulated CD-ROM drive; ``boot`` is
    HostFiles.boot, the names QEMU reaches the boot files by; ``slots`` places the disks.

    kernel_internal and grub need a disk (a VBD): their boot loader lives on it.
    bios needs nothing: it may boot a CD-ROM, or idle with nothing to boot.
    """
    method = vm.boot_method
    args, cdrom = [], False
    if method == "kernel_external":
        kernel = vm.kernel_kernel
        if not kernel:
            raise BackendError("INVALID_VALUE", "kernel/kernel", kernel)
        args += ["-kernel", boot["kernel/kernel"][0]]
        if vm.kernel_initrd:
            args += ["-initrd", boot["kernel/initrd"][0]]
        if vm.kernel_args:
            names = guest_disk_names(disks, slots, ide_slots(disks, False))
            args += ["-append", guest_kernel_args(vm.kernel_args, names)]
    elif method == "bios":
        choice = vm.bios_boot
        if choice not in BIOS_BOOT:
            raise BackendError("INVALID_VALUE", "bios/boot", choice)
        args += ["-boot", "order=" + BIOS_BOOT[choice]]
        if vm.bios_cdrom:
            args += _cdrom(*boot["bios/cdrom"])
            cdrom = True
    elif method in ("kernel_internal", "grub"):
        # The bootloader lives on the guest's own disk; without one SeaBIOS would find
        # nothing and the VM would sit "Running" doing nothing.
        if not disks:
            raise BackendError("VALUE_NOT_SUPPORTED", "boot_method", method,
                               "the VM has no disk to boot from: attach a VBD holding "
                               "a boot loader, or boot kernel_external or bios")
        args += ["-boot", "order=c"]
    else:
        raise BackendError("INVALID_VALUE", "boot_method", method)
    return args, cdrom


def _cdrom(name, block):
    node = {"driver": "raw", "node-name": "cdrom0", "read-only": True,
            "file": {"driver": "host_cdrom" if block else "file", "filename": name}}
    device = {"driver": "ide-cd", "drive": "cdrom0", "bus": "ide.1", "unit": 0, "id": "cdrom0"}
    return ["-blockdev", json.dumps(node), "-device", json.dumps(device)]


# PCI slots on the pc machine's root bus: 0 host bridge, 1 PIIX3, 2 VGA, then ours.
# Every device gets an explicit slot and keeps it for the process's life and across
# suspend/resume: a saved state only loads into devices at the slots it was saved
# from, and hot-plug and unplug would otherwise shift the slots the next QEMU picks.
BALLOON_SLOT = 3
AUDIO_SLOT = 4
DEVICE_SLOTS = range(5, 32)     # disks and NICs


def disk_node(vbd):
    """The block node name of VBD ``vbd`` (node names are capped at 31 characters)."""
    return "vbd-" + vbd.replace("-", "")[:27]


def medium_node(vbd, current):
    """The block node name of the next medium of CD-ROM drive ``vbd``, whose medium is
    now the node ``current``: the two names take turns, so the old node can be
    deleted once the new one is in the drive."""
    name = disk_node(vbd)
    return "cdm-" + vbd.replace("-", "")[:27] if current == name else name


def overlay_node(vbd, level):
    """The block node name of the snapshot overlay at ``level`` of VBD ``vbd``'s chain."""
    return f"snap{level}-" + vbd.replace("-", "")[:26 - len(str(level))]


def netdev_id(vif):
    """The QEMU netdev id of VIF ``vif``."""
    return "net-" + vif


def device_id(kind, ref):
    """The QEMU device id of a VBD or VIF: ``vbd-UUID`` or ``vif-UUID``."""
    return f"{kind}-{ref}"


def is_pci(disk):
    """Whether ``disk`` is a PCI device (virtio) rather than an IDE one: a CD-ROM
    drive is IDE whatever its driver, as on real machines and in Xen's HVM guests."""
    return disk.driver == "paravirtualised" and not disk.cdrom


def free_slot(slots):
    """The lowest device slot not in ``slots`` (device id -> slot)."""
    used = set(slots.values())
    for slot in DEVICE_SLOTS:
        if slot not in used:
            return slot
    raise BackendError("VALUE_NOT_SUPPORTED", "VM", "devices",
                       f"no free PCI slot: at most {len(DEVICE_SLOTS)} virtio disks and NICs")


def assign_slots(disks, nics, previous=None):
    """{device id: PCI slot} for the PCI disks and every NIC: the slot in ``previous``
    where it has one (resume), else the lowest free one, in order."""
    wanted = [device_id("vbd", d.vbd) for d in disks if is_pci(d)]
    wanted += [device_id("vif", n.vif) for n in nics]
    slots = {d: previous[d] for d in wanted if previous and d in previous}
    for dev in wanted:
        if dev not in slots:
            slots[dev] = free_slot(slots)
    return slots


def vbd_of_qdev(qdev):
    """The VBD uuid in a qdev path such as /machine/peripheral/vbd-UUID/virtio-backend."""
    for part in qdev.split("/"):
        if part.startswith("vbd-"):
            return part[len("vbd-"):]
    return None


def _addr(slot):
    return "%02x.0" % slot


def image_node(chain, readonly, node_name=None):
    """The blockdev object of an image chain, [(name, format, is_block)] top first, each
    name one QEMU opens (an fd set). Every backing image is an explicit read-only node
    and the last has none: QEMU never opens a backing file by the name in a header."""
    (name, fmt, block), rest = chain[0], chain[1:]
    node = {"driver": fmt}
    if node_name:
        node["node-name"] = node_name
    node["read-only"] = readonly
    node["file"] = {"driver": "host_device" if block else "file", "filename": name}
    if fmt == "qcow2":
        node["backing"] = _backing_node(rest) if rest else None
    return node


def _backing_node(chain):
    """A backing image, read without QEMU's image locks. It is a frozen base other
    guests may read as well (a clone, the copy of a crashed guest), while the QEMU that
    froze it by a snapshot still holds its lock for writing: a lock belongs to the open
    file, which the fd set keeps open after QEMU reopened the image read-only. The top
    image keeps its lock: no two QEMUs write one image."""
    node = image_node(chain, True)
    node["file"]["locking"] = "off"
    return node


def disk_args(disk, chain, slot=None, ide_slot=None, bootindex=None):
    """(blockdev, device) QMP/JSON objects of ``disk``, whose image chain is ``chain``
    (see image_node): a virtio disk at PCI ``slot``, or an IDE disk at ``ide_slot`` =
    (bus, unit); first in the firmware's boot order at ``bootindex`` where given (a
    bootable disk at start; a hot-plugged one takes its place at the next start, as
    QEMU refuses a bootindex another device holds)."""
    node = disk_node(disk.vbd)
    readonly = disk.mode == "RO"
    check_format(disk)
    blockdev = image_node(chain, readonly, node)
    dev_id = device_id("vbd", disk.vbd)
    if disk.cdrom:
        device = {"driver": "ide-cd", "drive": node, "id": dev_id,
                  "bus": f"ide.{ide_slot[0]}", "unit": ide_slot[1]}
    elif disk.driver == "paravirtualised":
        device = {"driver": "virtio-blk-pci", "drive": node, "id": dev_id, "addr": _addr(slot)}
    elif disk.driver == "ioemu":
        if readonly:
            raise BackendError("VALUE_NOT_SUPPORTED", "VBD/mode", "RO",
                               "QEMU's emulated IDE disks cannot be read-only; "
                               "use the paravirtualised driver")
        device = {"driver": "ide-hd", "drive": node, "id": dev_id,
                  "bus": f"ide.{ide_slot[0]}", "unit": ide_slot[1]}
    else:
        raise BackendError("INVALID_VALUE", "VBD/driver", disk.driver)
    if bootindex is not None:
        # Before -boot's order: the firmware tries the devices with a bootindex first.
        device["bootindex"] = bootindex
    return blockdev, device


def check_format(disk):
    """VALUE_NOT_SUPPORTED unless ``disk`` is an image format QEMU is given here."""
    if disk.format not in ("qcow2", "raw"):
        raise BackendError("VALUE_NOT_SUPPORTED", "VDI/format", disk.format,
                           "only qcow2 and raw images are supported")


def ide_slots(disks, cdrom_in_use):
    """{VBD uuid: (bus, unit)} of the IDE disks and CD-ROM drives: hda-hdd at their own
    slot, other names at the next free one; bios/cdrom's drive, when in use, holds hdc's."""
    taken = {(1, 0)} if cdrom_in_use else set()
    taken |= {IDE_SLOTS[d.device] for d in disks if not is_pci(d) and d.device in IDE_SLOTS}
    out = {}
    for disk in disks:
        if is_pci(disk):
            continue
        ide_slot = IDE_SLOTS.get(disk.device)
        if cdrom_in_use and ide_slot == (1, 0):
            raise BackendError("VALUE_NOT_SUPPORTED", "VBD/device", disk.device,
                               "hdc is the CD-ROM drive of bios/cdrom")
        if ide_slot is None:
            free = [s for s in sorted(IDE_SLOTS.values()) if s not in taken]
            if not free:
                raise BackendError("VALUE_NOT_SUPPORTED", "VBD/device", disk.device,
                                   "no free IDE slot (at most 4 emulated devices)")
            ide_slot = free[0]
            taken.add(ide_slot)
        out[disk.vbd] = ide_slot
    return out


def _disks(disks, slots, cdrom_in_use, chains):
    args = []
    ide = ide_slots(disks, cdrom_in_use)
    bootable = [d.vbd for d in disks if d.bootable]     # in order, each its own index
    for disk in disks:
        blockdev, device = disk_args(disk, chains[disk.vbd],
                                     slots.get(device_id("vbd", disk.vbd)), ide.get(disk.vbd),
                                     bootable.index(disk.vbd) if disk.bootable else None)
        args += ["-blockdev", json.dumps(blockdev), "-device", json.dumps(device)]
    return args


def _disk_letters(index):
    """Linux's letters for its ``index``-th disk: a..z, then aa, ab, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


def guest_disk_names(disks, slots, ide):
    """{VBD device: the name the guest's Linux gives that disk}: virtio disks are vda,
    vdb, ... in PCI slot order (``slots``), IDE disks sda, sdb, ... in (bus, unit)
    order (``ide``, as ide_slots): the order their drivers find them in."""
    virtio = sorted((slots[device_id("vbd", d.vbd)], d.device) for d in disks if is_pci(d))
    emulated = sorted((ide[d.vbd], d.device) for d in disks if not is_pci(d))
    names = {}
    for prefix, ordered in (("vd", virtio), ("sd", emulated)):
        for index, (_, device) in enumerate(ordered):
            if device:
                names[device] = prefix + _disk_letters(index)
    return names


# A Xen guest's console is its PV console hvc0; a QEMU guest's is its first serial port.
_XEN_CONSOLE = re.compile(r"(?<!\S)console=hvc0(?!\S)")
_ROOT_DEVICE = re.compile(r"(?<!\S)root=/dev/((?:xvd|hd|sd|vd)[a-z]+)([0-9]*)(?!\S)")


def guest_kernel_args(args, names):
    """``kernel/args`` written for Xen, as a QEMU guest needs them: console=hvc0 becomes
    console=ttyS0, and root=/dev/DEVICE[N] of one of the VM's disks the name the guest
    gives that disk (``names``, as guest_disk_names), so a classic config boots as is."""
    args = _XEN_CONSOLE.sub("console=ttyS0", args)
    return _ROOT_DEVICE.sub(lambda m: "root=/dev/%s%s" % (names.get(m.group(1), m.group(1)),
                                                         m.group(2)), args)


# VIF/model -> the QEMU device of that NIC: the PCI NICs QEMU emulates, and virtio
# (xl's name for it too). A VIF without a model gets its driver's default.
NIC_MODELS = {"e1000": "e1000", "e1000e": "e1000e", "rtl8139": "rtl8139",
              "ne2k_pci": "ne2k_pci", "pcnet": "pcnet", "i82559er": "i82559er",
              "virtio": "virtio-net-pci", "virtio-net-pci": "virtio-net-pci"}
DEFAULT_NIC_MODELS = {"paravirtualised": "virtio-net-pci", "ioemu": "e1000"}


def nic_device(nic, slot):
    """The device object of ``nic`` at PCI ``slot``, on netdev ``netdev_id(nic.vif)``."""
    if nic.driver not in DEFAULT_NIC_MODELS:
        raise BackendError("INVALID_VALUE", "VIF/driver", nic.driver)
    driver = NIC_MODELS.get(nic.model or DEFAULT_NIC_MODELS[nic.driver])
    if driver is None:
        raise BackendError("VALUE_NOT_SUPPORTED", "VIF/model", nic.model,
                           "QEMU gives the models " + ", ".join(sorted(NIC_MODELS)))
    device = {"driver": driver}
    if driver == "virtio-net-pci" and nic.mtu and int(nic.mtu) != 1500:
        device["host_mtu"] = int(nic.mtu)
    device.update({"netdev": netdev_id(nic.vif), "mac": nic.mac,
                   "id": device_id("vif", nic.vif), "addr": _addr(slot)})
    return device


def _nics(nics, slots, tap_fds):
    args = []
    for nic in nics:
        fd = tap_fds.get(nic.vif)
        if fd is None:
            raise BackendError("INTERNAL_ERROR", f"no tap device for VIF {nic.vif}")
        # The daemon made the tap and hands it over: QEMU neither creates nor configures it.
        args += ["-netdev", f"tap,id={netdev_id(nic.vif)},fd={fd}",
                 "-device", json.dumps(nic_device(nic, slots[device_id("vif", nic.vif)]))]
    return args


def validate(vm, audio_ok):
    """Refuse, at create/set time, VM field values this QEMU cannot honour.

    Paths (kernel, initrd, cdrom) are checked at start (check_host_files): the files
    may come later.
    """
    _memory_mib(vm)
    _cpu_model(vm)
    _check_serial(vm)
    if vm.platform_enable_audio and not audio_ok:
        raise BackendError("VALUE_NOT_SUPPORTED", "platform/enable_audio", "true",
                           "this QEMU build has no AC97 device")
    if vm.platform_clock_offset:
        # A bool with no amount: QEMU's only shift (-rtc base=DATE or an offset from
        # UTC) needs a value the VM cannot carry, so true cannot be honoured.
        raise BackendError("VALUE_NOT_SUPPORTED", "platform/clock_offset", "true",
                           "the record holds no offset to shift the guest's clock by; "
                           "use platform/localtime for a clock in local time")


# QEMU's seccomp filter: no obsolete system calls, no setuid or the like, no new
# processes (nothing is run through a shell: every file comes as a descriptor), no
# scheduler or affinity changes.
SANDBOX = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"


@dataclasses.dataclass
class HostFiles:
    """What the daemon opened for one QEMU (handover.py), as QEMU reaches it: QEMU
    opens no host file by name."""
    qmp_fd: int                 # the listening QMP socket
    console_fd: int             # the listening serial console socket (console.py)
    # VBD uuid -> its image chain, [(fd set, format, is_block)] top first (image_node)
    disks: dict = dataclasses.field(default_factory=dict)
    # API field of a boot file (boot_files) -> (the name QEMU opens, is_block)
    boot: dict = dataclasses.field(default_factory=dict)
    add_fd: list = dataclasses.field(default_factory=list)   # the -add-fd arguments


def has_display(vm):
    """Whether ``vm`` has a display: platform/display vnc, or auto and a bios boot."""
    if vm.platform_display == "auto":
        return vm.boot_method == "bios"
    return vm.platform_display == "vnc"


def build_argv(spec, qemu_binary, accel, files, machine="pc", incoming=False, audio_ok=True,
               slots=None, tap_fds=None):
    """Return the QEMU argv for ``spec``, whose host files are ``files`` (HostFiles).

    The guest always starts stopped (``-S``); the backend lets it run over QMP.
    ``incoming`` adds ``-incoming defer`` for resume. ``audio_ok`` says whether
    this QEMU build has the AC97 device. ``slots`` (device id -> PCI slot) places
    the disks and NICs (``assign_slots`` when not given); ``tap_fds`` (VIF uuid ->
    file descriptor QEMU inherits) are the NICs' tap devices.

    docs/vm-mapping.md says what each VM field becomes.
    """
    vm = spec.vm
    try:
        vm_uuid = str(uuidlib.UUID(spec.uuid))
    except (ValueError, TypeError, AttributeError):
        raise BackendError("UUID_INVALID", "VM", spec.uuid)
    name = vm.name_label or vm_uuid

    argv = [
        qemu_binary,
        "-machine", f"{machine},accel={accel}",
        "-cpu", _cpu_model(vm),
        "-m", str(_memory_mib(vm)),
        *_vcpus(vm),
        "-uuid", vm_uuid,
        "-name", f"guest={_opt(name)},debug-threads=on",
        "-nodefaults", "-no-user-config",
        # No window on the host; a display is a VNC server that listens nowhere, its
        # clients handed in one by one (QMP add_client): no port is opened for a guest.
        "-display", "none",
        *(["-vnc", "none"] if has_display(vm) else []),
        "-vga", "std" if vm.platform_std_VGA else "cirrus",
        "-rtc", "base=localtime" if vm.platform_localtime else "base=utc",
        "-sandbox", SANDBOX,
        *files.add_fd,
        "-chardev", f"socket,id=qmp,fd={files.qmp_fd},server=on,wait=off",
        "-mon", "chardev=qmp,mode=control",
        "-device", f"virtio-balloon-pci,id=balloon0,addr={_addr(BALLOON_SLOT)}",
        # A panicking guest stops and stays: the daemon may dump it before deciding.
        "-device", "pvpanic", "-action", "panic=pause",
        "-msg", "timestamp=on",
        "-S",
    ]
    validate(vm, audio_ok)
    argv += _serial(vm, files.console_fd)
    if vm.platform_enable_audio:
        argv += ["-audiodev", "none,id=audio0",
                 "-device", f"AC97,audiodev=audio0,addr={_addr(AUDIO_SLOT)}"]
    if slots is None:
        slots = assign_slots(spec.disks, spec.nics)
    boot, cdrom = _boot(vm, spec.disks, files.boot, slots)
    argv += boot
    argv += _disks(spec.disks, slots, cdrom, files.disks)
    argv += _nics(spec.nics, slots, tap_fds or {})
    if incoming:
        argv += ["-incoming", "defer"]
    return argv
