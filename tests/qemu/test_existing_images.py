"""Existing images on QEMU: a raw image with a file system, named by an xm config's
``file:`` disk line (adopted: SR.introduce, VDI.introduce), is the very disk the guest
mounts, and an ISO of an ISO library SR (SR.scan) attached as a VBD is a CD-ROM drive
whose file system the guest reads.

One tiny guest (``xend.test=mount``: it mounts each disk and CD-ROM read-only and prints
the first line of its ``xend-test.txt``) serves every check.
"""

import os
import subprocess
import sys

import pytest
from harness import (
    BOOT_WAIT,
    MIB,
    ROOT,
    TINY_MEMORY,
    console,
    failure,
    new_vbd,
    requires_qemu,
    tiny_args,
    unique,
    wait_until,
)
from qemuapi import the_pid

pytestmark = [pytest.mark.qemu, requires_qemu]

MOUNTED = "xend-test: mounted"


def _tree(directory, text):
    os.makedirs(directory)
    with open(os.path.join(directory, "xend-test.txt"), "w") as f:
        f.write(text + "\n")
    return directory


def _ext4_image(path, text, tmp):
    """A raw ext4 image holding xend-test.txt, made from a directory (mkfs -d: no mount)."""
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", _tree(os.path.join(tmp, "fs"), text), path,
                    "8M"], check=True, capture_output=True)
    return path


def _iso(path, text, tmp):
    """An ISO 9660 image (Rock Ridge names) holding xend-test.txt, made by xorriso."""
    try:
        subprocess.run(["xorriso", "-as", "mkisofs", "-R", "-V", "XENDTEST", "-o", path,
                        _tree(os.path.join(tmp, "iso"), text)], check=True, capture_output=True)
    except FileNotFoundError:
        pytest.skip("xorriso is not installed (Makefile DEBS)")
    return path


def test_the_guest_reads_an_adopted_image_and_an_iso_cdrom(api, qemu_daemon, tiny_guest,
                                                         tmp_path):
    images = str(tmp_path / "images")
    isos = str(tmp_path / "isos")
    os.makedirs(images)
    os.makedirs(isos)
    disk_text, iso_text = unique("disk"), unique("iso")
    image = _ext4_image(os.path.join(images, "vm1.img"), disk_text, str(tmp_path))
    iso = _iso(os.path.join(isos, "tools.iso"), iso_text, str(tmp_path))

    name = unique("mount")
    cfg = tmp_path / "vm.cfg"
    cfg.write_text("name = '%s'\nmemory = %d\nkernel = '%s'\nramdisk = '%s'\n"
                   "extra = '%s'\ndisk = ['file:%s,xvda,w']\n"
                   % (name, TINY_MEMORY // MIB, tiny_guest["kernel"], tiny_guest["initrd"],
                      tiny_args(tiny_guest, "mount"), image))
    subprocess.run([sys.executable, "-m", "xen.xm", "--socket", qemu_daemon.socket, "new",
                    str(cfg)], cwd=ROOT, check=True, capture_output=True)
    (vm,) = api.VM.get_by_name_label(name)
    vdi = api.VBD.get_VDI(api.VM.get_VBDs(vm)[0])
    assert api.VDI.get_location(vdi) == image
    assert api.SR.get_type(api.VDI.get_SR(vdi)) == "image"
    iso_sr = api.SR.introduce("iso", isos, unique("isos"))
    api.SR.scan(iso_sr)
    (iso_vdi,) = api.SR.get_VDIs(iso_sr)
    assert api.VDI.get_location(iso_vdi) == iso and api.VDI.get_read_only(iso_vdi)
    new_vbd(api, vm, iso_vdi, device="hdc", mode="RO")
    api.VM.start(vm, False)
    wait_until(lambda: MOUNTED in console(qemu_daemon, vm), BOOT_WAIT,
               "the guest to mount its disks")
    text = console(qemu_daemon, vm)
    assert "xend-test: read vda: %s" % disk_text in text, text
    assert "xend-test: read sr0: %s" % iso_text in text, text
    # QEMU holds the administrator's files themselves (handed over as descriptors).
    held = {os.path.realpath(os.readlink("/proc/%d/fd/%s" % (the_pid(vm), fd)))
            for fd in os.listdir("/proc/%d/fd" % the_pid(vm))}
    assert {os.path.realpath(image), os.path.realpath(iso)} <= held
    # An IDE CD-ROM drive cannot be hot-plugged: refused, and the guest keeps running.
    err = failure(lambda: new_vbd(api, vm, iso_vdi, device="hdd", mode="RO"))
    assert err[:2] == ["VALUE_NOT_SUPPORTED", "VDI"], err
    assert api.VM.get_power_state(vm) == "Running"
    api.VM.hard_shutdown(vm)
    api.VM.destroy(vm)
    assert sorted(os.listdir(images)) == ["vm1.img"] and os.listdir(isos) == ["tools.iso"]
    assert api.VDI.get_location(vdi) == image
