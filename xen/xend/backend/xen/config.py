"""Translate a DomainSpec into an xl domain configuration.

Pure functions: nothing here runs xl or talks to xenstore. ``build_config`` is
the single place where VM fields (backend/spec.py's VMConfig) become xl settings;
docs/vm-mapping.md maps each of them, and tests/unit/test_vm_mapping.py keeps that
page in step with this module.

Guest-initiated power-off, reboot and crash are left to the daemon: every
``on_*`` setting is ``preserve``, so a domain that shuts down stays in place,
with its shutdown reason, until the backend has seen it and the domain owner
has applied actions/* (which are RW and may change while the guest runs; xl
reads its own on_* only once, at create).
"""

import re

from .. import vcpuparams
from ..base import BackendError
from ..common import BIOS_BOOT, check_host_files, check_memory_fits
from ..spec import DISK_DEVICE, IFNAME, MAC

MIB = 1024 * 1024

# Domain types: the VM's builder, lower-cased; an empty builder picks from boot_method.
BUILDERS = {"linux": "pv", "pv": "pv", "pvh": "pvh", "hvm": "hvm"}

# Characters xl's config parser takes inside a double-quoted string as they are.
_PLAIN = re.compile(r'[^"\\\n\r\x00]*')
# A name xl accepts for a domain (and we can show in `xl list`).
_NAME = re.compile(r"[^A-Za-z0-9._-]")


def _scheduling(vm):
    """VCPUs/params as xl's cpu_weight, cap and cpus (a list, one entry per vCPU up to
    the last one pinned; "all" for those not pinned)."""
    params = vcpuparams.parse(vm.VCPUs_params, vm.VCPUs_max or 1)
    lines = [("cpu_weight", str(params.weight))] if params.weight else []
    lines += [("cap", str(params.cap))] if params.cap else []
    if params.affinity:
        last = params.affinity[-1][0]
        lines.append(("cpus", "[%s]" % ", ".join(
            '"%s"' % vcpuparams.format_cpus(params.pinned(vcpu)) for vcpu in range(last + 1))))
    return lines


def _quote(value, field):
    value = str(value)
    # fullmatch: "$" would let a line break at the end through.
    if not _PLAIN.fullmatch(value):
        raise BackendError("VALUE_NOT_SUPPORTED", field, value,
                           "xl configuration strings cannot hold quotes, "
                           "backslashes or line breaks")
    return '"%s"' % value


def _spec_value(value, pattern, field):
    """``value`` if ``pattern`` matches it whole, else INVALID_VALUE [field, value]:
    a value in a disk or vif spec must not carry a separator that adds keys of its own
    (xl's disk spec takes ``script=``, ``backend=``, ``format=``, ...)."""
    if not pattern.fullmatch(value):
        raise BackendError("INVALID_VALUE", field, value)
    return value


def domain_type(vm):
    """"pv", "pvh" or "hvm" for a VMConfig; VALUE_NOT_SUPPORTED for other builders."""
    builder = vm.builder.strip().lower()
    if builder:
        if builder not in BUILDERS:
            raise BackendError("VALUE_NOT_SUPPORTED", "builder", builder,
                               "the xen backend builds: " + ", ".join(sorted(BUILDERS)))
        return BUILDERS[builder]
    return "pv" if vm.boot_method == "kernel_external" else "hvm"


# Fields the xen backend does not apply (the xl configuration gets no cpuid line and no
# clock shift): a value that asks for something is refused, never silently dropped.
_NOT_APPLIED = (
    ("VCPUs_features_force_on", "VCPUs/features/force_on"),
    ("VCPUs_features_force_off", "VCPUs/features/force_off"),
    ("VCPUs_features_can_use", "VCPUs/features/can_use"),
)


def validate(vm):
    """Refuse VM field values that no Xen host could honour (builder, boot method) or
    that the xen backend does not apply (CPU feature sets, clock_offset)."""
    for key, name in _NOT_APPLIED:
        if getattr(vm, key):
            raise BackendError("VALUE_NOT_SUPPORTED", name, ",".join(getattr(vm, key)),
                               "the xen backend does not shape the guest's CPUID")
    if vm.platform_clock_offset:
        raise BackendError("VALUE_NOT_SUPPORTED", "platform/clock_offset", "true",
                           "the spec's bool carries no amount to shift the clock by; "
                           "platform/localtime gives a clock in local time")
    kind = domain_type(vm)
    method = vm.boot_method
    if kind in ("pv", "pvh") and method not in ("kernel_external", "grub",
                                                 "kernel_internal"):
        raise BackendError("VALUE_NOT_SUPPORTED", "boot_method", method,
                           "a %s domain boots kernel_external, grub or kernel_internal"
                           % kind.upper())


def domain_name(vm, uuid, taken=()):
    """The xl name of a VM's domain: its name_label made safe, with the uuid's first
    block so that two VMs with one label stay apart; with the whole uuid if that
    name is ``taken`` (xl refuses a second domain of one name)."""
    label = _NAME.sub("-", vm.name_label)[:40].strip("-")
    if not label:
        return uuid
    name = "%s-%s" % (label, uuid[:8])
    return name if name not in taken else "%s-%s" % (label, uuid)


def disk_line(disk, kind, qdisk_ok):
    """One xl ``disk`` entry for a DiskSpec (target= last: the path may hold commas)."""
    fmt = disk.format if disk.format in ("raw", "qcow2") else "raw"
    parts = ["format=" + fmt, "vdev=" + _spec_value(disk.device, DISK_DEVICE, "VBD/device"),
             "access=" + disk.mode.lower()]
    if fmt == "qcow2":
        # blkback serves raw images only; qcow2 needs QEMU's qdisk in dom0.
        if not qdisk_ok:
            raise BackendError("VALUE_NOT_SUPPORTED", "VDI", disk.path,
                               "qcow2 images need the Xen device model (qemu-system-xen) "
                               "in dom0")
        parts.append("backendtype=qdisk")
    if kind == "hvm" and (disk.driver == "ioemu" or disk.cdrom) \
            and not disk.device.startswith("hd"):
        raise BackendError("VALUE_NOT_SUPPORTED", "VBD/device", disk.device,
                           "an emulated (ioemu) disk or CD-ROM of an HVM guest is named "
                           "hda-hdd")
    if disk.cdrom:   # an ISO library's image: a read-only CD-ROM drive
        parts.append("devtype=cdrom")
    parts.append("target=" + disk.path)
    return ",".join(parts)


# The NIC models (VIF/model) Xen's device model emulates for an HVM guest: xl's model=.
NIC_MODELS = ("e1000", "ne2k_pci", "pcnet", "rtl8139")


def nic_line(nic, kind):
    """One xl ``vif`` entry for a NicSpec."""
    parts = ["mac=" + _spec_value(nic.mac, MAC, "VIF/MAC")]
    if nic.bridge:
        parts.append("bridge=" + _spec_value(nic.bridge, IFNAME, "network/NIC"))
    if nic.mtu and int(nic.mtu) != 1500:
        parts.append("mtu=%d" % int(nic.mtu))
    if nic.model and kind != "hvm":
        raise BackendError("VALUE_NOT_SUPPORTED", "VIF/model", nic.model,
                           "the NICs of a %s guest are paravirtualised (netfront); an "
                           "emulated model needs builder hvm" % kind.upper())
    if nic.model:
        if nic.model not in NIC_MODELS:
            raise BackendError("VALUE_NOT_SUPPORTED", "VIF/model", nic.model,
                               "Xen's device model gives " + ", ".join(NIC_MODELS))
        parts += ["type=ioemu", "model=" + nic.model]
    elif kind == "hvm":
        parts.append("model=e1000" if nic.driver == "ioemu" else "type=vif")
    return ",".join(parts)


def build_config(spec, name, qdisk_ok=False, device_model_ok=False, pvh_cpuid="",
                 hvm_capable=True):
    """The xl configuration text of ``spec``. ``hvm_capable``: the hypervisor can run
    HVM containers (``xl info`` virt_caps has ``hvm``), which PVH and HVM domains are.

    docs/vm-mapping.md says what each VM field becomes.
    """
    vm = spec.vm
    kind = domain_type(vm)
    validate(vm)
    if kind in ("pvh", "hvm") and not hvm_capable:
        raise BackendError("VALUE_NOT_SUPPORTED", "builder", kind,
                           "this Xen host runs PV domains only: its processor gives Xen no "
                           "hardware virtualisation (xl info virt_caps has no hvm)")
    if kind == "hvm" and not device_model_ok:
        raise BackendError("VALUE_NOT_SUPPORTED", "builder", "hvm",
                           "HVM guests need the Xen device model (qemu-system-xen) in dom0")
    static_max = vm.memory_static_max
    if static_max < 16 * MIB:
        raise BackendError("VALUE_NOT_SUPPORTED", "memory/static_max", static_max,
                           "a Xen domain needs at least 16 MiB")
    dynamic_max = vm.memory_dynamic_max or static_max
    lines = [
        ("name", _quote(name, "name_label")),
        ("uuid", _quote(spec.uuid, "uuid")),
        ("type", _quote(kind, "builder")),
        ("maxmem", str(-(-static_max // MIB))),
        ("memory", str(-(-min(dynamic_max, static_max) // MIB))),
        ("vcpus", str(vm.VCPUs_at_startup or vm.VCPUs_max or 1)),
        ("maxvcpus", str(vm.VCPUs_max or 1)),
        *_scheduling(vm),
        ("on_poweroff", '"preserve"'),
        ("on_reboot", '"preserve"'),
        ("on_crash", '"preserve"'),
    ]
    method = vm.boot_method
    if kind in ("pv", "pvh"):
        if method == "kernel_external":
            kernel = vm.kernel_kernel
            if not kernel:
                raise BackendError("INVALID_VALUE", "kernel/kernel", "")
            lines.append(("kernel", _quote(kernel, "kernel/kernel")))
            if vm.kernel_initrd:
                lines.append(("ramdisk", _quote(vm.kernel_initrd, "kernel/initrd")))
            if vm.kernel_args:
                lines.append(("cmdline", _quote(vm.kernel_args, "kernel/args")))
        else:
            lines.append(("bootloader", '"pygrub"'))
        if kind == "pvh" and pvh_cpuid:
            lines.append(("cpuid", _quote(pvh_cpuid, "xen_pvh_cpuid")))
    else:
        if vm.platform_display == "vnc":
            raise BackendError("VALUE_NOT_SUPPORTED", "platform/display", "vnc",
                               "the xen backend gives HVM guests no display: set "
                               "platform/display auto or none")
        boot = BIOS_BOOT.get(vm.bios_boot, "c")
        lines.append(("boot", _quote(boot, "bios/boot")))
        lines.append(("stdvga", "1" if vm.platform_std_VGA else "0"))
        lines.append(("localtime", "1" if vm.platform_localtime else "0"))
        # libxl gives an HVM guest a VNC server on 127.0.0.1:5900+domid unless told not
        # to: a TCP port of a guest's screen, which no client of the daemon's should need.
        lines.append(("vnc", "0"))
        if vm.platform_serial == "pty":
            lines.append(("serial", '"pty"'))
    disks = [_quote(disk_line(d, kind, qdisk_ok), "VBD") for d in spec.disks]
    nics = [_quote(nic_line(n, kind), "VIF") for n in spec.nics]
    lines.append(("disk", "[%s]" % ", ".join(disks)))
    lines.append(("vif", "[%s]" % ", ".join(nics)))
    return "".join("%s = %s\n" % pair for pair in lines)


def boot_files(vm):
    """The dom0 files xl opens to build ``vm``: (API field, path, False) for
    kernel/kernel and kernel/initrd of a PV or PVH kernel_external guest, where set
    (an HVM guest's firmware, and pygrub, find their own)."""
    if domain_type(vm) == "hvm" or vm.boot_method != "kernel_external":
        return []
    return [(field, path, False) for field, path in (("kernel/kernel", vm.kernel_kernel),
                                                     ("kernel/initrd", vm.kernel_initrd))
            if path]


def check_can_start(spec, info):
    """Refuse before ``xl create`` what xl would only fail on, with errors naming the
    field: VALUE_NOT_SUPPORTED for a kernel or initrd that is not a readable file in
    dom0 (under its roots, for a path a user other than root named), or a
    memory/static_max beyond Xen's total memory (``info``: parse_info of ``xl info``;
    its total_memory is in MiB)."""
    vm = spec.vm
    # xl runs as root and opens the kernel and initrd by name: it cannot be handed a
    # descriptor, so this check (the file opened under its roots, without following
    # a link) is all that keeps a user's path inside them. A link planted in a root
    # between this check and xl's open would still be followed: keep roots writable
    # by root only.
    check_host_files(spec, boot_files(vm))
    try:
        total = int(info.get("total_memory", 0)) * MIB
    except ValueError:
        total = 0
    check_memory_fits(vm, total)
