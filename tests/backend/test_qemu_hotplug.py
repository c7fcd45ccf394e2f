"""Hot-plug and unplug of disks and NICs on live QEMU guests, through QemuBackend.

The tiny Linux guest reports its devices on the console ("xend-test: devices: vda
vdb eth0:1500 ..."), so what it sees is checked from inside; what QEMU holds is
checked from the host: the image files it has open (/proc/PID/fd) and the tap
devices in /sys/class/net.
"""

import os
import re
import subprocess
import uuid

import pytest
from harness import BOOT_WAIT, qemu_pids, requires_qemu, wait_until
from qemutest import console, wait_console

from xen.xend.backend.base import BackendError
from xen.xend.host import netdev

pytestmark = [pytest.mark.qemu, requires_qemu]

WAIT = 60


def open_files(pid):
    """Paths of the regular files process ``pid`` has open."""
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def devices_seen(spec):
    """The guest's last report of its devices, e.g. ["vda", "eth0:1500"]."""
    reports = re.findall(r"xend-test: devices:(.*)", console(spec))
    return reports[-1].split() if reports else None


def wait_devices(spec, expected):
    """Wait until the guest reports exactly the devices ``expected``."""
    wait_until(lambda: devices_seen(spec) == expected, WAIT,
               lambda: "the guest to report %s (it reports %s)" % (expected, devices_seen(spec)))


def test_disk_and_nic_plugged_survive_suspend_and_resume_then_unplug(
        backend, vms, linux_spec, bridge):
    backend.unplug_timeout = BOOT_WAIT     # a guest under TCG on a loaded host is slow
    first = vms.disk(backend, "first")
    spec = linux_spec(disks=[first])
    backend.start(spec, paused=False)
    wait_console(spec, "xend-test: ready")
    wait_devices(spec, ["vda"])

    disk = vms.disk(backend, "plugged")
    nic = vms.nic(bridge=bridge, mtu=9000)
    # The NIC first: a fresh start would put the disks before it.
    backend.attach_nic(spec.uuid, nic)
    backend.attach_disk(spec.uuid, disk)
    wait_devices(spec, ["vda", "vdb", "eth0:9000"])
    (pid,) = qemu_pids(spec.uuid)
    assert disk.path in open_files(pid)
    tap = netdev.tap_name(nic.vif)
    assert netdev.master_of(tap) == bridge
    metrics = backend.metrics(spec.uuid)
    assert set(metrics["vbd"]) == {first.vbd, disk.vbd} and set(metrics["vif"]) == {nic.vif}

    # The new process is built with the same devices at the same slots, and the
    # guest's state loads into them.
    state = str(vms.tmp / "suspend.state")
    backend.suspend(spec.uuid, False, state)
    assert not netdev.exists(tap)
    spec.disks, spec.nics = [first, disk], [nic]
    backend.resume(spec, state, paused=False)
    assert backend.power_state(spec.uuid) == "Running"
    assert netdev.master_of(tap) == bridge

    # A snapshot moves the disk to an overlay, which goes with the disk as well.
    overlay = str(vms.tmp / "overlay.qcow2")
    backend.snapshot_disk(spec.uuid, disk.vbd, overlay)
    backend.detach_disk(spec.uuid, disk.vbd)
    backend.detach_nic(spec.uuid, nic.vif)
    wait_devices(spec, ["vda"])
    (pid,) = qemu_pids(spec.uuid)
    assert not {disk.path, overlay} & open_files(pid) and first.path in open_files(pid)
    assert not netdev.exists(tap)
    # QEMU let go of the image's lock too: qemu-img may open it for writing.
    subprocess.run(["qemu-img", "check", "-q", disk.path], check=True)
    assert set(backend.metrics(spec.uuid)["vbd"]) == {first.vbd}
    # Detaching again finds nothing to do.
    backend.detach_disk(spec.uuid, disk.vbd)


def test_ide_disks_are_not_hotplugged(backend, vms):
    spec = vms.spec()
    backend.start(spec, paused=False)
    disk = vms.disk(backend, driver="ioemu", device="hdb")
    with pytest.raises(BackendError) as err:
        backend.attach_disk(spec.uuid, disk)
    assert err.value.code == "VALUE_NOT_SUPPORTED"
    assert err.value.params[:2] == ["VBD/driver", "ioemu"]
    (pid,) = qemu_pids(spec.uuid)
    assert disk.path not in open_files(pid)
    ide = vms.disk(backend, "ide", driver="ioemu", device="hda")
    spec2 = vms.spec(disks=[ide])
    backend.start(spec2, paused=False)
    with pytest.raises(BackendError) as err:
        backend.detach_disk(spec2.uuid, ide.vbd)
    assert err.value.params[:2] == ["VBD/driver", "ioemu"]


def test_a_failed_hotplug_leaves_nothing(backend, vms, bridge):
    spec = vms.spec()
    backend.start(spec, paused=True)
    disk = vms.disk(backend)
    os.rename(disk.path, disk.path + ".away")
    with pytest.raises(BackendError) as err:
        backend.attach_disk(spec.uuid, disk)
    assert err.value.code == "INTERNAL_ERROR"
    # Nothing of it is left: not even its block node, whose name the retry reuses.
    os.rename(disk.path + ".away", disk.path)
    backend.attach_disk(spec.uuid, disk)
    assert disk.path in open_files(qemu_pids(spec.uuid)[0])

    nic = vms.nic(bridge="xtnobridge0")
    with pytest.raises(BackendError) as err:
        backend.attach_nic(spec.uuid, nic)
    assert err.value.params[:2] == ["VIF", nic.vif]
    assert not netdev.exists(netdev.tap_name(nic.vif))
    assert set(backend.metrics(spec.uuid)["vif"]) == set()


def test_a_guest_that_keeps_the_device(backend, vms, bridge):
    """A guest with no OS never answers the unplug request."""
    backend.unplug_timeout = 1
    spec = vms.spec()
    backend.start(spec, paused=False)
    disk = vms.disk(backend)
    nic = vms.nic(bridge=bridge)
    backend.attach_disk(spec.uuid, disk)
    backend.attach_nic(spec.uuid, nic)
    for detach, kind, ref in ((backend.detach_disk, "VBD", disk.vbd),
                              (backend.detach_nic, "VIF", nic.vif)):
        for _ in range(2):      # asking again is allowed, and times out again
            with pytest.raises(BackendError) as err:
                detach(spec.uuid, ref)
            assert err.value.code == "DEVICE_DETACH_TIMEOUT"
            assert err.value.params == [kind, ref, "1"]
    assert disk.path in open_files(qemu_pids(spec.uuid)[0])
    assert netdev.master_of(netdev.tap_name(nic.vif)) == bridge
    metrics = backend.metrics(spec.uuid)
    assert set(metrics["vbd"]) == {disk.vbd} and set(metrics["vif"]) == {nic.vif}
    # The process ends with the request still pending: nothing is left either.
    backend.hard_shutdown(spec.uuid)
    assert not netdev.exists(netdev.tap_name(nic.vif))


def test_reattach_finds_plugged_devices(backend_factory, vms, bridge):
    first = backend_factory()
    disk = vms.disk(first, "at-start")
    spec = vms.spec(disks=[disk])
    private = first.start(spec, paused=False)
    plugged, nic = vms.disk(first, "plugged"), vms.nic(bridge=bridge)
    first.attach_disk(spec.uuid, plugged)
    first.attach_nic(spec.uuid, nic)
    first.close()
    second = backend_factory()
    assert second.reattach(spec.uuid, private) == "Running"
    metrics = second.metrics(spec.uuid)
    assert set(metrics["vbd"]) == {disk.vbd, plugged.vbd} and set(metrics["vif"]) == {nic.vif}
    # The slots in use are known too: the next device goes to a free one.
    another = vms.disk(second, "another")
    second.attach_disk(spec.uuid, another)
    second.snapshot_disk(spec.uuid, plugged.vbd, str(vms.tmp / "snap.qcow2"))
    assert set(second.metrics(spec.uuid)["vbd"]) == {disk.vbd, plugged.vbd, another.vbd}


def test_nothing_to_plug_into_a_stopped_guest(backend, vms):
    disk = vms.disk(backend)
    with pytest.raises(BackendError) as err:
        backend.attach_disk(str(uuid.uuid4()), disk)
    assert err.value.code == "VM_BAD_POWER_STATE"
