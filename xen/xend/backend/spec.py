"""What a backend is given to build a guest: typed Python values, never wire strings.

The domain owner (state/domains.py) builds a ``DomainSpec`` from the store's
records: ``VMConfig`` from the VM's, a ``DiskSpec`` per VBD, a ``NicSpec`` per
VIF. ``VMConfig`` holds exactly the VM fields some backend acts on, each under
its datamodel wire name, so this class is the list of what the hypervisors
honour: docs/vm-mapping.md maps every one of them onto QEMU and Xen, and
tests/unit/test_vm_mapping.py keeps that page, this class and the datamodel in
step. To make a hypervisor honour another VM field: declare it in the datamodel,
add it here, use it in backend/qemu/argv.py and backend/xen/config.py, and give
it its row in docs/vm-mapping.md.
"""

import dataclasses
import re

# The values a device's record may give the hypervisor where they become part of an
# option string (xl's comma-separated disk and vif specs): a comma, "=", a quote or a
# line break in them would add keys of their own, such as xl's script=, which runs a
# program in dom0 as root. The API refuses other values when a VBD, VIF or network is
# made or changed; the builders refuse them too. Each is matched whole (fullmatch).
#
# A guest's name for a disk: xvd, hd, sd or vd, letters, an optional partition number
# (xvda, xvdaa, hda, sdb1, vdc).
DISK_DEVICE = re.compile(r"(?:xvd|hd|sd|vd)[a-z]{1,3}(?:[1-9][0-9]?)?")
# A MAC address, in lower case (the API refuses multicast ones too).
MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
# A Linux interface name: a bridge a VIF is a port of, a host NIC, a guest's NIC name.
IFNAME = re.compile(r"[A-Za-z0-9_.:-]{1,15}")


@dataclasses.dataclass(frozen=True)
class VMConfig:
    """The VM fields backends act on, typed; the defaults are an unset field's meaning."""
    name_label: str = ""
    builder: str = ""
    boot_method: str = "bios"
    bios_boot: str = "HD"
    bios_cdrom: str = ""
    kernel_kernel: str = ""
    kernel_initrd: str = ""
    kernel_args: str = ""
    memory_static_max: int = 0
    memory_dynamic_max: int = 0
    VCPUs_max: int = 1
    VCPUs_features_required: tuple = ()
    VCPUs_features_can_use: tuple = ()
    VCPUs_features_force_on: tuple = ()
    VCPUs_features_force_off: tuple = ()
    platform_std_VGA: bool = False
    platform_localtime: bool = False
    platform_serial: str = ""
    platform_enable_audio: bool = False
    platform_clock_offset: bool = False
    platform_display: str = "auto"
    # Live changes: the vCPUs a guest starts (or resumes) with, at most VCPUs_max (the
    # API checks); 0 means VCPUs_max.
    VCPUs_at_startup: int = 0
    VCPUs_params: str = ""     # backend/vcpuparams.py's string, checked by the API

    def __post_init__(self):
        # A wire string where an Int or Bool belongs is a caller's bug, caught here
        # rather than as a wrong QEMU argument or xl setting.
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            # Python's bool is an int: an Int field takes no bool.
            if not isinstance(value, f.type) or (f.type is int and isinstance(value, bool)):
                raise TypeError("VMConfig.%s must be %s, not %r"
                                % (f.name, f.type.__name__, value))

    @classmethod
    def from_record(cls, record):
        """The VMConfig of a stored VM record (the store's Python values; Sets as lists)."""
        values = {}
        for f in dataclasses.fields(cls):
            # An empty string is an unset field (an enum with no choice made).
            if record.get(f.name) not in (None, ""):
                value = record[f.name]
                values[f.name] = tuple(value) if f.type is tuple else value
        return cls(**values)


@dataclasses.dataclass
class DiskSpec:
    """One VBD as the hypervisor sees it."""
    vbd: str              # VBD uuid, used as the device id
    path: str             # image file (qcow2 or raw)
    format: str           # "qcow2" | "raw"
    device: str           # guest device name, e.g. "hda", "xvda": DISK_DEVICE, or ""
    mode: str             # "RO" | "RW"
    driver: str           # "ioemu" | "paravirtualised"
    # A CD-ROM drive holding the image (an ISO library's VDI, or a VBD of type CD),
    # always read-only.
    cdrom: bool = False
    # The guest boots from it: first in the boot order (VBD/bootable).
    bootable: bool = False
    # For an image a user other than root adopted: the directories it and every file of
    # its backing chain are opened under (util.guestfiles); None: opened unrestricted.
    roots: tuple = None
    # On a migration's target with storage "copy": whether the source copies its disk
    # into this image (a writable one), or both open the same image (on shared storage).
    copied: bool = True


@dataclasses.dataclass
class NicSpec:
    """One VIF as the hypervisor sees it."""
    vif: str              # VIF uuid
    mac: str
    mtu: int
    driver: str           # "ioemu" | "paravirtualised"
    # The Linux bridge the NIC is a port of. Where Backend.uses_bridges, the domain owner
    # has made sure it exists (Domains.make_bridges) before start, resume or attach_nic.
    bridge: str = ""
    # The NIC model (VIF/model), one of Backend.nic_models(); "": the default of ``driver``.
    model: str = ""


@dataclasses.dataclass
class DomainSpec:
    """Everything a backend needs to build one guest."""
    uuid: str
    vm: VMConfig = dataclasses.field(default_factory=VMConfig)
    disks: list = dataclasses.field(default_factory=list)
    nics: list = dataclasses.field(default_factory=list)
    state_dir: str = ""     # this guest's private directory: made by a backend that writes there
    # API field (kernel/kernel, kernel/initrd, bios/cdrom) -> the directories its file
    # must be opened under (util.guestfiles), for a path a user other than root named;
    # a field not listed was named by root and is opened unrestricted.
    host_path_roots: dict = dataclasses.field(default_factory=dict)
