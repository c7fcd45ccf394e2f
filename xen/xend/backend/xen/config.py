"""Translate a DomainSpec into an xl domain configuration.

Pure functions: nothing here runs xl or talks to xenstore. ``build_config`` is
the single place where VM record fields become xl settings; docs/vm-mapping.md
describes the same mapping.

Guest-initiated power-off, reboot and crash are left to the daemon: every
``on_*`` setting is ``preserve``, so a domain that shuts down stays in place,
with its shutdown reason, until the backend has seen it and the domain owner
has applied actions/* (which are RW and may change while the guest runs; xl
reads its own on_* only once, at create).
"""

import re

from ..base import BackendError
from ..common import BIOS_BOOT, check_host_files, check_memory_fits, truthy

MIB = 1024 * 1024

# Domain types: the VM's builder, lower-cased; an empty builder picks from boot_method.
BUILDERS = {"linux": "pv", "pv": "pv", "pvh": "pvh", "hvm": "hvm"}

# Characters xl's config parser takes inside a double-quoted string as they are.
_PLAIN = re.compile(r'^[^"\\\n\r\x00]*$')
# A name xl accepts for a domain (and we can show in `xl list`).
_NAME = re.compile(r"[^A-Za-z0-9._-]")


def _quote(value, field):
    value = str(value)
    if not _PLAIN.match(value):
        raise BackendError("VALUE_NOT_SUPPORTED", field, value,
                           "xl configuration strings cannot hold quotes, "
                           "backslashes or line breaks")
    return '"%s"' % value


def domain_type(record):
    """"pv", "pvh" or "hvm" for a VM record; VALUE_NOT_SUPPORTED for other builders."""
    builder = str(record.get("builder") or "").strip().lower()
    if builder:
        if builder not in BUILDERS:
            raise BackendError("VALUE_NOT_SUPPORTED", "builder", builder,
                               "the xen backend builds: " + ", ".join(sorted(BUILDERS)))
        return BUILDERS[builder]
    return "pv" if record.get("boot_method") == "kernel_external" else "hvm"


# Fields the xen backend does not apply (the xl configuration gets no cpuid line and no
# clock shift): a value that asks for something is refused, never silently dropped.
_NOT_APPLIED = (
    ("VCPUs_features_force_on", "VCPUs/features/force_on"),
    ("VCPUs_features_force_off", "VCPUs/features/force_off"),
    ("VCPUs_features_can_use", "VCPUs/features/can_use"),
)


def validate_record(record):
    """Refuse VM field values that no Xen host could honour (builder, boot method) or
    that the xen backend does not apply (CPU feature sets, clock_offset)."""
    for key, name in _NOT_APPLIED:
        if record.get(key):
            raise BackendError("VALUE_NOT_SUPPORTED", name, ",".join(record[key]),
                               "the xen backend does not shape the guest's CPUID")
    if truthy(record.get("platform_clock_offset")):
        raise BackendError("VALUE_NOT_SUPPORTED", "platform/clock_offset", "true",
                           "the spec's bool carries no amount to shift the clock by; "
                           "platform/localtime gives a clock in local time")
    kind = domain_type(record)
    method = record.get("boot_method") or "bios"
    if kind in ("pv", "pvh") and method not in ("kernel_external", "grub",
                                                 "kernel_internal"):
        raise BackendError("VALUE_NOT_SUPPORTED", "boot_method", method,
                           "a %s domain boots kernel_external, grub or kernel_internal"
                           % kind.upper())


def domain_name(record, uuid, taken=()):
    """The xl name of a VM's domain: its name_label made safe, with the uuid's first
    block so that two VMs with one label stay apart; with the whole uuid if that
    name is ``taken`` (xl refuses a second domain of one name)."""
    label = _NAME.sub("-", str(record.get("name_label") or ""))[:40].strip("-")
    if not label:
        return uuid
    name = "%s-%s" % (label, uuid[:8])
    return name if name not in taken else "%s-%s" % (label, uuid)


def disk_line(disk, kind, qdisk_ok):
    """One xl ``disk`` entry for a DiskSpec (target= last: the path may hold commas)."""
    fmt = disk.format if disk.format in ("raw", "qcow2") else "raw"
    parts = ["format=" + fmt, "vdev=" + disk.device, "access=" + disk.mode.lower()]
    if fmt == "qcow2":
        # blkback serves raw images only; qcow2 needs QEMU's qdisk in dom0.
        if not qdisk_ok:
            raise BackendError("VALUE_NOT_SUPPORTED", "VDI", disk.path,
                               "qcow2 images need the Xen device model (qemu-system-xen) "
                               "in dom0")
        parts.append("backendtype=qdisk")
    if kind == "hvm" and disk.driver == "ioemu" and not disk.device.startswith("hd"):
        raise BackendError("VALUE_NOT_SUPPORTED", "VBD/device", disk.device,
                           "an emulated (ioemu) disk of an HVM guest is named hda-hdd")
    parts.append("target=" + disk.path)
    return ",".join(parts)


def nic_line(nic, kind):
    """One xl ``vif`` entry for a NicSpec."""
    parts = ["mac=" + nic.mac]
    if nic.bridge:
        parts.append("bridge=" + nic.bridge)
    if nic.mtu and int(nic.mtu) != 1500:
        parts.append("mtu=%d" % int(nic.mtu))
    if kind == "hvm":
        parts.append("model=e1000" if nic.driver == "ioemu" else "type=vif")
    return ",".join(parts)


def build_config(spec, name, qdisk_ok=False, device_model_ok=False, pvh_cpuid="",
                 hvm_capable=True):
    """The xl configuration text of ``spec``. ``hvm_capable``: the hypervisor can run
    HVM containers (``xl info`` virt_caps has ``hvm``), which PVH and HVM domains are.

    ============================  =========================================
    VM field                      xl setting
    ============================  =========================================
    uuid, (name_label)            ``uuid``, ``name`` (see domain_name)
    builder / boot_method         ``type`` = pv | pvh | hvm (domain_type)
    memory/static_max             ``maxmem`` (MiB, rounded up)
    memory/dynamic_max            ``memory`` (MiB): the initial balloon target
    VCPUs/max                     ``vcpus`` and ``maxvcpus``
    kernel/kernel, initrd, args   ``kernel``, ``ramdisk``, ``cmdline``
    boot_method grub/internal     ``bootloader = "pygrub"`` (PV)
    bios/boot (HVM)               ``boot`` = a | c | d
    platform/std_VGA (HVM)        ``stdvga``
    platform/localtime (HVM)      ``localtime``
    platform/serial (HVM)         ``serial`` = "pty" when "pty"
    VBDs                          ``disk`` (disk_line)
    VIFs                          ``vif`` (nic_line)
    actions/*                     ``on_* = "preserve"``: applied by the daemon
    ============================  =========================================
    """
    record = spec.record
    kind = domain_type(record)
    validate_record(record)
    if kind in ("pvh", "hvm") and not hvm_capable:
        raise BackendError("VALUE_NOT_SUPPORTED", "builder", kind,
                           "this Xen host runs PV domains only: its processor gives Xen no "
                           "hardware virtualisation (xl info virt_caps has no hvm)")
    if kind == "hvm" and not device_model_ok:
        raise BackendError("VALUE_NOT_SUPPORTED", "builder", "hvm",
                           "HVM guests need the Xen device model (qemu-system-xen) in dom0")
    static_max = int(record.get("memory_static_max") or 0)
    if static_max < 16 * MIB:
        raise BackendError("VALUE_NOT_SUPPORTED", "memory/static_max", static_max,
                           "a Xen domain needs at least 16 MiB")
    dynamic_max = int(record.get("memory_dynamic_max") or static_max)
    vcpus = int(record.get("VCPUs_max") or 1)
    lines = [
        ("name", _quote(name, "name_label")),
        ("uuid", _quote(spec.uuid, "uuid")),
        ("type", _quote(kind, "builder")),
        ("maxmem", str(-(-static_max // MIB))),
        ("memory", str(-(-min(dynamic_max, static_max) // MIB))),
        ("vcpus", str(vcpus)),
        ("maxvcpus", str(vcpus)),
        ("on_poweroff", '"preserve"'),
        ("on_reboot", '"preserve"'),
        ("on_crash", '"preserve"'),
    ]
    method = record.get("boot_method") or "bios"
    if kind in ("pv", "pvh"):
        if method == "kernel_external":
            kernel = record.get("kernel_kernel") or ""
            if not kernel:
                raise BackendError("INVALID_VALUE", "kernel/kernel", "")
            lines.append(("kernel", _quote(kernel, "kernel/kernel")))
            if record.get("kernel_initrd"):
                lines.append(("ramdisk", _quote(record["kernel_initrd"], "kernel/initrd")))
            if record.get("kernel_args"):
                lines.append(("cmdline", _quote(record["kernel_args"], "kernel/args")))
        else:
            lines.append(("bootloader", '"pygrub"'))
        if kind == "pvh" and pvh_cpuid:
            lines.append(("cpuid", _quote(pvh_cpuid, "xen_pvh_cpuid")))
    else:
        boot = BIOS_BOOT.get(record.get("bios_boot"), "c")
        lines.append(("boot", _quote(boot, "bios/boot")))
        lines.append(("stdvga", "1" if truthy(record.get("platform_std_VGA")) else "0"))
        lines.append(("localtime", "1" if truthy(record.get("platform_localtime")) else "0"))
        if str(record.get("platform_serial") or "") == "pty":
            lines.append(("serial", '"pty"'))
    disks = [_quote(disk_line(d, kind, qdisk_ok), "VBD") for d in spec.disks]
    nics = [_quote(nic_line(n, kind), "VIF") for n in spec.nics]
    lines.append(("disk", "[%s]" % ", ".join(disks)))
    lines.append(("vif", "[%s]" % ", ".join(nics)))
    return "".join("%s = %s\n" % pair for pair in lines)


def boot_files(record):
    """The dom0 files xl opens to build ``record``: (API field, path, False) for
    kernel/kernel and kernel/initrd of a PV or PVH kernel_external guest, where set
    (an HVM guest's firmware, and pygrub, find their own)."""
    if domain_type(record) == "hvm" or record.get("boot_method") != "kernel_external":
        return []
    return [(field, record.get(key), False)
            for field, key in (("kernel/kernel", "kernel_kernel"),
                               ("kernel/initrd", "kernel_initrd")) if record.get(key)]


def check_can_start(record, info):
    """Refuse before ``xl create`` what xl would only fail on, with errors naming the
    field: VALUE_NOT_SUPPORTED for a kernel or initrd that is not a readable file in
    dom0, or a memory/static_max beyond Xen's total memory (``info``: parse_info of
    ``xl info``; its total_memory is in MiB)."""
    check_host_files(boot_files(record))
    try:
        total = int(info.get("total_memory", 0)) * MIB
    except ValueError:
        total = 0
    check_memory_fits(record, total)
