"""VBDs and VIFs created and deleted on resident VMs, or unplugged and plugged again with
their records kept: hot-plug and unplug through the API; and a CD drive's medium changed.

A record exists exactly while the guest holds the device: the tiny guest's own report
of its devices ("xend-test: devices: ..." on its console) and the files and taps its
QEMU holds are checked against VM.get_VBDs / VM.get_VIFs after every step, including
the steps that are refused.
"""

import os

import pytest
from harness import (
    BOOT_WAIT,
    failure,
    new_no_os_vm,
    new_tiny_vm,
    new_vbd,
    new_vdi,
    qemu_pids,
    requires_qemu,
    skip_without_taps,
    unique,
    wait_ready,
)
from qemuapi import link_exists, master, open_files, private_bridge, tap, the_pid, wait_devices

pytestmark = [pytest.mark.qemu, requires_qemu]


def _image(api, vdi):
    return os.path.join(api.SR.get_location(api.VDI.get_SR(vdi)), "%s.qcow2" % vdi)


def test_plug_survive_suspend_and_restart_then_unplug(make_daemon, tiny_guest):
    skip_without_taps()
    # Time enough for a guest under TCG on a loaded host to answer an unplug.
    d = make_daemon(extra_config="shutdown_timeout = %d\n" % BOOT_WAIT)
    api = d.api
    vm = new_tiny_vm(api, tiny_guest)
    # A CD drive (IDE: only at start) whose medium is changed in the running guest.
    discs = [new_vdi(api), new_vdi(api)]
    cd = new_vbd(api, vm, discs[0], device="hdc", mode="RO", type="CD")
    api.VM.start(vm, False)
    wait_ready(d, vm)
    wait_devices(d, vm, [])
    facts = api.VBD.get_runtime_properties(cd)
    assert facts["device"] == "vbd-" + cd and facts["read-only"] == "true"
    assert facts["format"] == "qcow2" and facts["cache"] == "writeback"
    assert _image(api, discs[0]) in open_files(the_pid(vm))
    api.VBD.media_change(cd, discs[1])
    assert api.VBD.get_VDI(cd) == discs[1]
    files = open_files(the_pid(vm))
    assert _image(api, discs[1]) in files and _image(api, discs[0]) not in files
    assert api.VBD.get_runtime_properties(cd)["node-name"] != facts["node-name"]

    net = api.network.create({"name_label": unique("net")})
    vif = api.VIF.create({"VM": vm, "network": net, "device": "eth0", "MAC": "",
                          "MTU": "1400"})
    vdi = new_vdi(api)
    vbd = new_vbd(api, vm, vdi)
    wait_devices(d, vm, ["vda", "eth0:1400"])
    assert sorted(api.VM.get_VBDs(vm)) == sorted([cd, vbd]) and api.VM.get_VIFs(vm) == [vif]
    assert _image(api, vdi) in open_files(the_pid(vm))
    assert master(tap(vif)) == private_bridge(net)
    assert api.VIF.get_runtime_properties(vif)["tap"] == tap(vif)

    # Unplugged and plugged again, the records staying: the guest and QEMU follow.
    api.VBD.unplug(vbd)
    wait_devices(d, vm, ["eth0:1400"])
    assert sorted(api.VM.get_VBDs(vm)) == sorted([cd, vbd])
    assert not api.VBD.get_currently_attached(vbd)
    assert _image(api, vdi) not in open_files(the_pid(vm))
    api.VIF.unplug(vif)
    wait_devices(d, vm, [])
    assert not link_exists(tap(vif)) and api.VIF.get_runtime_properties(vif) == {}
    api.VBD.plug(vbd)
    api.VIF.plug(vif)
    wait_devices(d, vm, ["vda", "eth0:1400"])
    assert api.VBD.get_currently_attached(vbd) and api.VIF.get_currently_attached(vif)
    assert master(tap(vif)) == private_bridge(net)

    # Built again from the records, the guest keeps them: after a suspend and
    # resume, and after a restart of the daemon, which finds the guest again.
    api.VM.suspend(vm, False)
    assert not link_exists(tap(vif))
    api.VM.resume(vm, False)
    assert master(tap(vif)) == private_bridge(net)
    d.restart()
    api = d.relogin()
    assert api.VM.get_power_state(vm) == "Running"

    api.VBD.destroy(vbd)
    wait_devices(d, vm, ["eth0:1400"])
    assert api.VM.get_VBDs(vm) == [cd] and api.VDI.get_VBDs(vdi) == []
    assert _image(api, vdi) not in open_files(the_pid(vm))
    api.VIF.destroy(vif)
    wait_devices(d, vm, [])
    assert api.VM.get_VIFs(vm) == [] and not link_exists(tap(vif))


def test_refused_hotplugs_leave_nothing(api):
    vm = new_no_os_vm(api)
    api.VM.start(vm, False)
    pid = the_pid(vm)

    # QEMU cannot hot-plug an emulated IDE disk.
    vdi = new_vdi(api)
    d = failure(api.VBD.create, {"VM": vm, "VDI": vdi, "device": "hdb", "mode": "RW",
                                 "driver": "ioemu"})
    assert d[:3] == ["VALUE_NOT_SUPPORTED", "VBD/driver", "ioemu"] and "IDE" in d[3], d
    # The checks that apply at start apply here too: a read-only VDI is attached RO...
    ro = new_vdi(api, read_only=True)
    assert failure(new_vbd, api, vm, ro)[0] == "INVALID_VALUE"
    # ...and a VDI another resident VM writes to cannot be attached.
    other = new_no_os_vm(api)
    new_vbd(api, other, vdi)
    api.VM.start(other, False)
    assert failure(new_vbd, api, vm, vdi) == ["VDI_IN_USE", vdi, "attach"]
    assert api.VM.get_VBDs(vm) == [] and len(api.VDI.get_VBDs(vdi)) == 1
    assert _image(api, vdi) not in open_files(pid)
    # A halted VM using it cannot start, either.
    third = new_no_os_vm(api)
    new_vbd(api, third, vdi)
    assert failure(api.VM.start, third, False) == ["VDI_IN_USE", vdi, "attach"]
    assert api.VM.get_power_state(third) == "Halted" and qemu_pids(third) == []


def test_paused_and_uncooperative_guests(api):
    """A paused guest cannot answer an unplug; a guest with no OS never does."""
    vm = new_no_os_vm(api)
    api.VM.start(vm, True)
    vdi = new_vdi(api)
    vbd = new_vbd(api, vm, vdi)           # plugging needs nothing from the guest
    assert _image(api, vdi) in open_files(the_pid(vm))
    assert failure(api.VBD.destroy, vbd) == ["VM_BAD_POWER_STATE", vm, "Halted,Running",
                                             "Paused"]
    api.VM.unpause(vm)
    # shutdown_timeout (5 s here) is also how long a guest has to let go of a device.
    assert failure(api.VBD.destroy, vbd) == ["DEVICE_DETACH_TIMEOUT", "VBD", vbd, "5"]
    assert api.VM.get_VBDs(vm) == [vbd]
    assert _image(api, vdi) in open_files(the_pid(vm))
    api.VM.hard_shutdown(vm)
    api.VBD.destroy(vbd)                      # a halted VM's VBD is only a record
    assert api.VM.get_VBDs(vm) == []


def test_no_device_changes_while_suspended(api):
    skip_without_taps()
    vm = new_no_os_vm(api)
    vdi = new_vdi(api)
    vbd = new_vbd(api, vm, vdi)
    net = api.network.create({"name_label": unique("net")})
    vif = api.VIF.create({"VM": vm, "network": net, "device": "eth0", "MAC": ""})
    api.VM.start(vm, False)
    api.VM.suspend(vm, False)
    # The saved state holds these devices: the VM resumes with exactly them.
    for call in (lambda: new_vbd(api, vm, new_vdi(api)),
                 lambda: api.VIF.create({"VM": vm, "network": net, "MAC": ""}),
                 lambda: api.VBD.destroy(vbd), lambda: api.VIF.destroy(vif),
                 lambda: api.VIF.set_MTU(vif, "1400")):
        d = failure(call)
        assert d[0] == "VM_BAD_POWER_STATE" and d[1] == vm and d[3] == "Suspended", d
    api.VM.resume(vm, False)
    assert master(tap(vif)) == private_bridge(net)
    # Changing a plugged device is deleting it and making another.
    assert failure(api.VIF.set_MTU, vif, "1400") == ["VM_BAD_POWER_STATE", vm, "Halted",
                                                    "Running"]
    assert failure(api.VBD.set_mode, vbd, "RO") == ["VM_BAD_POWER_STATE", vm, "Halted",
                                                   "Running"]
