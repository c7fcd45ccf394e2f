"""Classic xm configs on QEMU: the example config of docs/xm.md boots as printed (Xen's
console and disk names are what the QEMU guest sees), ``hda`` is an IDE disk, and a
vif's ``model=`` is the NIC the guest finds."""

import os
import re
import subprocess
import sys

import pytest
from harness import (
    BOOT_WAIT,
    ROOT,
    console,
    requires_qemu,
    skip_without_taps,
    unique,
    wait_ready,
    wait_until,
)
from qemuapi import cmdline, the_pid, wait_devices

pytestmark = [pytest.mark.qemu, requires_qemu]

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def _xenbr0(api):
    """Guests' NICs are taps in a bridge; ``bridge=xenbr0`` joins the network of that
    name, made here as one of the daemon's own bridges (docs/xm.md, "Interfaces")."""
    skip_without_taps()
    if not api.network.get_by_name_label("xenbr0"):
        api.network.create({"name_label": "xenbr0"})


def xm_create(daemon, path):
    """``xm create PATH``; the new VM's ref."""
    p = subprocess.run([sys.executable, "-m", "xen.xm", "--socket", daemon.socket, "create",
                        path], cwd=ROOT, capture_output=True, text=True, timeout=BOOT_WAIT)
    assert p.returncode == 0, p.stderr
    return re.search(r"Started VM \S+ \(([0-9a-f-]{36})\)", p.stdout).group(1)


def docs_example():
    """The example config of docs/xm.md, as printed."""
    with open(os.path.join(ROOT, "docs", "xm.md")) as f:
        return re.search(r"```\n(# vm1\.cfg\n.*?)```", f.read(), re.S).group(1)


def image(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\0" * 4 * MIB)
    return str(path)


def test_the_docs_example_config_boots_as_printed(api, qemu_daemon, tiny_guest, tmp_path):
    text = docs_example()
    # Only what names files of the docs' host changes: the test guest's and this test's.
    name = unique("vm1")
    for printed, here in (('"vm1"', '"%s"' % name), ("/boot/vmlinuz", tiny_guest["kernel"]),
                          ("/boot/initrd.img", tiny_guest["initrd"]),
                          ("/srv/vm1.img", image(tmp_path, "vm1.img")),
                          ("/srv/debian.iso", image(tmp_path, "debian.iso"))):
        assert printed in text
        text = text.replace(printed, here)
    assert 'root = "/dev/xvda1 ro"' in text and 'extra = "console=hvc0"' in text
    cfg = tmp_path / "vm1.cfg"
    cfg.write_text(text)
    vm = xm_create(qemu_daemon, str(cfg))
    try:
        # console=hvc0 is the serial console the daemon reads; xvda1 the virtio disk vda.
        wait_ready(qemu_daemon, vm)
        args = cmdline(the_pid(vm))
        assert args[args.index("-append") + 1] == "root=/dev/vda1 ro console=ttyS0"
        wait_devices(qemu_daemon, vm, ["vda", "eth0:1500"])
        assert api.VM.get_kernel_args(vm) == "root=/dev/xvda1 ro console=hvc0"   # as written
    finally:
        api.VM.hard_shutdown(vm)


def test_hda_is_an_ide_disk_and_a_vif_model_the_nic_the_guest_finds(
        api, qemu_daemon, tiny_guest, tmp_path):
    cfg = tmp_path / "emulated.cfg"
    cfg.write_text("""\
name = "%s"
memory = 128
kernel = "%s"
ramdisk = "%s"
extra = "%s"
disk = [ 'file:%s,hda,w' ]
vif = [ 'bridge=xenbr0, model=e1000', 'bridge=xenbr0, model=rtl8139' ]
""" % (unique("emulated"), tiny_guest["kernel"], tiny_guest["initrd"], tiny_guest["cmdline"],
       image(tmp_path, "ide.img")))
    vm = xm_create(qemu_daemon, str(cfg))
    try:
        vbd = api.VBD.get_record(api.VM.get_VBDs(vm)[0])
        assert (vbd["device"], vbd["driver"]) == ("hda", "ioemu")
        wait_ready(qemu_daemon, vm)
        # An IDE disk is sda to the guest's libata (a virtio one would be vda).
        wait_devices(qemu_daemon, vm, ["sda", "eth0:1500", "eth1:1500"])
        wait_until(lambda: "xend-test: nics: eth0:e1000 eth1:8139cp" in console(
            qemu_daemon, vm), BOOT_WAIT, "the guest to find an e1000 and an rtl8139 NIC")
    finally:
        api.VM.hard_shutdown(vm)
