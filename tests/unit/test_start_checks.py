"""What the backends refuse at start, before the hypervisor runs, with an error naming the
field: boot files that cannot be opened, unrestricted for root's paths and under their
roots for other users' (common.check_host_files; config.boot_files for Xen), and a
memory/static_max beyond the host's memory (check_memory_fits)."""

import dataclasses
import os
import stat

import pytest

from xen.xend.backend.base import BackendError
from xen.xend.backend.common import boot_files, check_host_files, check_memory_fits
from xen.xend.backend.spec import DomainSpec, VMConfig
from xen.xend.backend.xen import config as xl_config

GIB = 1 << 30


def _refusal(fn, *args):
    with pytest.raises(BackendError) as err:
        fn(*args)
    return [err.value.code] + [str(p) for p in err.value.params]


@pytest.fixture
def kernel(tmp_path):
    path = tmp_path / "vmlinuz"
    path.write_bytes(b"kernel")
    return str(path)


def test_qemu_boot_files_follow_the_boot_method(kernel):
    assert boot_files(VMConfig(**{"boot_method": "kernel_external", "kernel_kernel": kernel,
                       "kernel_initrd": "/i"})) == [("kernel/kernel", kernel, False),
                                                   ("kernel/initrd", "/i", False)]
    assert boot_files(VMConfig(**{"boot_method": "bios", "bios_cdrom": "/x.iso",
                       "kernel_kernel": "/k"})) == [("bios/cdrom", "/x.iso", True)]
    assert boot_files(VMConfig(boot_method="grub", kernel_kernel="/k", bios_cdrom="/c")) == []
    assert boot_files(VMConfig(**{"boot_method": "kernel_external", "kernel_kernel": kernel})) == \
        [("kernel/kernel", kernel, False)]


# Root named every path: each is opened as it is.
ROOTS = DomainSpec(uuid="vm")


def under(roots, *fields):
    """A spec in which a user other than root named ``fields``' paths, under ``roots``."""
    return DomainSpec(uuid="vm", host_path_roots={f: [str(r) for r in roots] for f in fields})


def block_device():
    """A readable block device of this host, or None."""
    devices = [os.path.join("/dev", n) for n in sorted(os.listdir("/dev"))]
    return next((d for d in devices if stat.S_ISBLK(os.stat(d).st_mode)
                 and os.access(d, os.R_OK)), None)


def test_a_missing_boot_file_is_named_with_its_field(kernel, tmp_path):
    missing = str(tmp_path / "k2")
    check_host_files(ROOTS, [("kernel/kernel", kernel, False)])      # there: nothing to say
    assert _refusal(check_host_files, ROOTS, [("kernel/kernel", kernel, False),
                                              ("kernel/initrd", missing, False)]) == \
        ["VALUE_NOT_SUPPORTED", "kernel/initrd", missing, "no such file on the host"]


def test_a_directory_is_not_a_boot_file(tmp_path):
    assert _refusal(check_host_files, ROOTS, [("kernel/kernel", str(tmp_path), False)]) == \
        ["VALUE_NOT_SUPPORTED", "kernel/kernel", str(tmp_path), "not a regular file"]
    assert _refusal(check_host_files, ROOTS, [("bios/cdrom", str(tmp_path), True)])[3] == \
        "not a regular file or block device"


def test_a_cdrom_may_be_a_block_device_a_kernel_may_not():
    block = block_device()
    if block is None:
        pytest.skip("no readable block device here")
    check_host_files(ROOTS, [("bios/cdrom", block, True)])
    assert _refusal(check_host_files, ROOTS, [("kernel/kernel", block, False)])[1] == \
        "kernel/kernel"


def test_under_roots_every_refusal_reads_the_same(kernel, tmp_path):
    """A user's path: missing, a directory, a link planted under the root (to a file
    there or not), a block device or a path outside the roots are all one refusal."""
    root = tmp_path / "boot"
    root.mkdir()
    os.rename(kernel, root / "vmlinuz")
    check_host_files(under([root], "kernel/kernel"), [("kernel/kernel", str(root / "vmlinuz"),
                                                       False)])
    (root / "dir").mkdir()
    (root / "to-kernel").symlink_to(root / "vmlinuz")
    (root / "to-shadow").symlink_to("/etc/shadow")
    (root / "to-block").symlink_to(block_device() or "/dev/null")
    reasons = set()
    for name in ("missing", "dir", "to-kernel", "to-shadow", "to-block"):
        path = str(root / name)
        refusal = _refusal(check_host_files, under([root], "bios/cdrom"),
                           [("bios/cdrom", path, True)])
        assert refusal[:3] == ["VALUE_NOT_SUPPORTED", "bios/cdrom", path]
        reasons.add(refusal[3])
    assert len(reasons) == 1, reasons
    # Root's own path to the same link is opened as it is.
    check_host_files(under([root], "kernel/initrd"), [("kernel/kernel", str(root / "to-kernel"),
                                                       False)])


def test_memory_beyond_the_host_total_is_refused():
    check_memory_fits(VMConfig(**{"memory_static_max": 24 * GIB}), 24 * GIB)   # all of it: may fit
    check_memory_fits(VMConfig(**{"memory_static_max": 1 << 50}), 0)           # total unknown
    assert _refusal(check_memory_fits, VMConfig(**{"memory_static_max": 40 * GIB}), 24 * GIB) == \
        ["VALUE_NOT_SUPPORTED", "memory/static_max", str(40 * GIB),
         "more than the host's memory (%d bytes)" % (24 * GIB)]


def test_xen_checks_the_kernel_of_pv_guests_and_xens_total_memory(kernel, tmp_path):
    info = {"total_memory": "2048"}     # MiB, as xl info says it
    pv = VMConfig(**{"builder": "pv", "boot_method": "kernel_external", "kernel_kernel": kernel,
          "memory_static_max": GIB})
    xl_config.check_can_start(DomainSpec(uuid="vm", vm=pv), info)
    missing = str(tmp_path / "k2")
    no_kernel = DomainSpec(uuid="vm", vm=dataclasses.replace(pv, kernel_kernel=missing))
    assert _refusal(xl_config.check_can_start, no_kernel, info) == \
        ["VALUE_NOT_SUPPORTED", "kernel/kernel", missing, "no such file on the host"]
    # A user's kernel outside its roots: refused before xl, which would open anything.
    assert _refusal(xl_config.check_can_start, dataclasses.replace(
        no_kernel, vm=pv, host_path_roots={"kernel/kernel": [str(tmp_path / "boot")]}),
        info)[:3] == ["VALUE_NOT_SUPPORTED", "kernel/kernel", kernel]
    big = DomainSpec(uuid="vm", vm=dataclasses.replace(pv, memory_static_max=3 * GIB))
    assert _refusal(xl_config.check_can_start, big, info)[:3] == \
        ["VALUE_NOT_SUPPORTED", "memory/static_max", str(3 * GIB)]
    # xl never opens an HVM guest's kernel field, nor a cdrom (it passes none).
    xl_config.check_can_start(DomainSpec(uuid="vm", vm=VMConfig(**{
        "builder": "hvm", "boot_method": "kernel_external", "kernel_kernel": missing,
        "bios_cdrom": missing, "memory_static_max": GIB})), info)
    # Xen's total unknown: nothing to check against.
    xl_config.check_can_start(big, {})
