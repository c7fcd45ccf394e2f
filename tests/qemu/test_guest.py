"""The tiny Linux guest (tests/guest/build.py) through the API: clean shutdown and reboot,
and what the guest does on its own (power off, reboot, panic) under each actions/* value.

The guest prints "xend-test: ready" on its serial console once it listens for the power
button and Ctrl-Alt-Del, then obeys ``xend.test=MODE`` (poweroff, reboot, panic). A test
that expects a restart drops the mode from kernel_args right after the start, so the new
boot (which reads the VM record again) is an ordinary one. One guest boots at a time,
except in rename_restart, where the crashed one is already stopped when the copy boots.
"""

import os
import subprocess

import pytest
from harness import (
    EVENT_WAIT,
    TINY_MEMORY,
    console,
    memory,
    new_tiny_vm,
    new_vbd,
    new_vdi,
    qemu_pids,
    requires_qemu,
    tiny_args,
    unique,
    vm_dir,
    wait_ready,
    wait_until,
)
from qemuapi import the_pid, through_a_task, wait_state

pytestmark = [pytest.mark.qemu, requires_qemu]


def _backend_stages(progress):
    """The progress figures the backend reported: the daemon itself reports 0.05 once the
    operation is under way and 0.95 once the backend is done (domains.Domains.run)."""
    return [p for p in progress if 0.05 < p < 0.95]


def test_clean_reboot_suspend_resume_then_clean_shutdown(api, qemu_daemon, tiny_guest):
    vm = new_tiny_vm(api, tiny_guest)
    # Start, suspend and resume run as tasks, with progress from the backend's real
    # stages: spawned and connected; the state file loaded. (A suspend reports the
    # migration's RAM only while it is seen unfinished: none on a quick one.)
    assert _backend_stages(through_a_task(api, "start", vm, False))
    pid = the_pid(vm)
    wait_ready(qemu_daemon, vm)

    api.VM.clean_reboot(vm)
    assert api.VM.get_power_state(vm) == "Running"
    assert qemu_pids(vm) == [pid]                         # rebooted in place
    assert "ctrl-alt-del, rebooting" in console(qemu_daemon, vm)
    wait_ready(qemu_daemon, vm, count=2)                  # and came up again
    assert api.VM.get_power_state(vm) == "Running"

    # Suspended and resumed, it is the same running OS: it still answers the power button.
    through_a_task(api, "suspend", vm, False)
    assert qemu_pids(vm) == []
    assert _backend_stages(through_a_task(api, "resume", vm, False))
    assert qemu_pids(vm) not in ([], [pid])

    api.VM.clean_shutdown(vm)
    assert api.VM.get_power_state(vm) == "Halted"
    assert "power button, powering off" in console(qemu_daemon, vm)
    assert console(qemu_daemon, vm).count("xend-test: ready") == 2     # no boot since
    assert qemu_pids(vm) == []
    assert api.VM.get_resident_on(vm) == ""


# -- the guest powers off by itself -------------------------------------------------------

def test_guest_poweroff_destroy(api, qemu_daemon, tiny_guest):
    """The VM is made as xm 3.1 makes one, through Xen-API 1.0's names alone: its PV
    kernel boots (docs/api.md, "Two revisions")."""
    session = qemu_daemon.sdk_unix(version="1.0")
    try:
        vm = session.xenapi.VM.create(dict(
            memory(TINY_MEMORY), name_label=unique("tiny-1.0"), HVM_boot_policy="",
            PV_bootloader="", PV_kernel=tiny_guest["kernel"], PV_ramdisk=tiny_guest["initrd"],
            PV_args=tiny_args(tiny_guest, "poweroff"), actions_after_shutdown="destroy"))
    finally:
        session.xenapi.session.logout()
    api.VM.start(vm, False)
    wait_state(api, vm, "Halted", EVENT_WAIT)
    assert qemu_pids(vm) == []
    assert console(qemu_daemon, vm).count("xend-test: ready") == 1


def test_guest_poweroff_restart(api, qemu_daemon, tiny_guest):
    """A guest that powers off under after_shutdown = restart comes back; a disabled host
    does not stop it (docs/api.md: the guest was running here already)."""
    vm = new_tiny_vm(api, tiny_guest, "poweroff", actions_after_shutdown="restart")
    api.VM.start(vm, False)
    first = the_pid(vm)
    api.VM.set_kernel_args(vm, tiny_args(tiny_guest))     # the next boot stays up
    host = api.host.get_all()[0]
    api.host.disable(host)
    try:
        wait_until(lambda: qemu_pids(vm) not in ([], [first]), EVENT_WAIT,
                   "a new QEMU after the guest powered off")
        wait_state(api, vm, "Running")
    finally:
        api.host.enable(host)
    wait_ready(qemu_daemon, vm, count=2)
    assert api.VM.get_power_state(vm) == "Running"
    assert len(qemu_pids(vm)) == 1


# -- the guest reboots by itself ----------------------------------------------------------

def test_guest_reboot_restart(api, qemu_daemon, tiny_guest):
    vm = new_tiny_vm(api, tiny_guest, "reboot", actions_after_reboot="restart")
    api.VM.start(vm, False)
    pid = the_pid(vm)
    wait_ready(qemu_daemon, vm, count=2)                  # rebooted once, came up again
    assert api.VM.get_power_state(vm) == "Running"
    assert qemu_pids(vm) == [pid]


def test_guest_reboot_destroy(api, qemu_daemon, tiny_guest):
    vm = new_tiny_vm(api, tiny_guest, "reboot", actions_after_reboot="destroy")
    api.VM.start(vm, False)
    wait_state(api, vm, "Halted", EVENT_WAIT)
    assert qemu_pids(vm) == []
    assert console(qemu_daemon, vm).count("xend-test: ready") == 1


# -- the guest panics (pvpanic) ------------------------------------------------------------

def _crash(api, tiny_guest, action, disk=False, **fields):
    """Start a guest that panics once it is up; its restarts boot normally."""
    vm = new_tiny_vm(api, tiny_guest, "panic", actions_after_crash=action, **fields)
    if disk:
        new_vbd(api, vm, new_vdi(api))
    api.VM.start(vm, False)
    pid = the_pid(vm)
    api.VM.set_kernel_args(vm, tiny_args(tiny_guest))     # a restart boots normally
    return vm, pid


def test_crash_destroy(api, tiny_guest):
    vm, _ = _crash(api, tiny_guest, "destroy")
    wait_state(api, vm, "Halted", EVENT_WAIT)
    assert qemu_pids(vm) == []


def test_crash_coredump_and_destroy(api, qemu_daemon, tiny_guest):
    vm, _ = _crash(api, tiny_guest, "coredump_and_destroy")
    wait_state(api, vm, "Halted", EVENT_WAIT)
    assert qemu_pids(vm) == []
    (dump,) = api.VM.get_crash_dumps(vm)                  # kept as a crashdump's VDI
    vdi = api.crashdump.get_VDI(dump)
    assert api.VDI.get_type(vdi) == "crashdump"
    image = api.VDI.get_location(vdi)
    assert os.stat(image).st_mode & 0o077 == 0
    raw = os.path.join(vm_dir(qemu_daemon, vm), "core.raw")
    subprocess.run(["qemu-img", "convert", "-O", "raw", image, raw], check=True)
    with open(raw, "rb") as f:
        assert f.read(4) == b"\x7fELF"
    assert os.path.getsize(raw) >= 128 << 20              # all of the guest's memory
    os.unlink(raw)
    api.crashdump.destroy(dump)
    assert not os.path.exists(image)


def test_crash_preserve(api, qemu_daemon, tiny_guest):
    vm, pid = _crash(api, tiny_guest, "preserve")
    wait_state(api, vm, "Paused", EVENT_WAIT)
    assert qemu_pids(vm) == [pid]                         # kept, stopped, for inspection
    assert api.VM.get_resident_on(vm) != ""
    api.VM.hard_shutdown(vm)
    assert api.VM.get_power_state(vm) == "Halted"
    assert qemu_pids(vm) == []


@pytest.mark.parametrize("action", ["restart", "coredump_and_restart"])
def test_crash_restart(api, qemu_daemon, tiny_guest, action):
    vm, pid = _crash(api, tiny_guest, action)
    wait_until(lambda: qemu_pids(vm) not in ([], [pid]), EVENT_WAIT,
               "a new QEMU after the crash")
    wait_state(api, vm, "Running")
    assert len(api.VM.get_crash_dumps(vm)) == (1 if action.startswith("coredump") else 0)
    wait_ready(qemu_daemon, vm, count=2)
    assert api.VM.get_power_state(vm) == "Running"


def _rename_restart(api, qemu_daemon, tiny_guest, name, disk=False):
    vm, pid = _crash(api, tiny_guest, "rename_restart", disk=disk, name=name)
    wait_until(lambda: api.VM.get_name_label(vm) != name, EVENT_WAIT, "the crashed VM renamed")
    renamed = api.VM.get_name_label(vm)
    assert renamed.startswith(name + "-crashed-")
    assert api.VM.get_power_state(vm) == "Paused"
    assert qemu_pids(vm) == [pid]                         # the crashed guest, kept
    copies = wait_until(lambda: api.VM.get_by_name_label(name), EVENT_WAIT,
                        "a new VM named %r" % name)
    assert len(copies) == 1 and copies[0] != vm
    return vm, copies[0]


def test_crash_rename_restart(api, qemu_daemon, tiny_guest):
    name = "rr-" + os.urandom(3).hex()
    vm, copy = _rename_restart(api, qemu_daemon, tiny_guest, name)
    wait_state(api, copy, "Running")
    assert len(qemu_pids(copy)) == 1
    wait_ready(qemu_daemon, copy)
    assert api.VM.get_power_state(vm) == "Paused"


def test_a_guest_that_crashes_at_every_boot_is_not_copied_for_ever(api, qemu_daemon, tiny_guest):
    """restart_min_interval: the copy rename_restart made crashes as soon as it is up, so
    it is kept (Paused) instead of renamed and copied again, and again."""
    name = "loop-" + os.urandom(3).hex()
    vm = new_tiny_vm(api, tiny_guest, "panic", name=name, actions_after_crash="rename_restart")
    api.VM.start(vm, False)

    def the_copy():
        found = api.VM.get_by_name_label(name)
        return found[0] if found and found[0] != vm else None
    copy = wait_until(the_copy, EVENT_WAIT, "the crashed guest's copy")
    wait_state(api, copy, "Paused", EVENT_WAIT)     # it crashed too, and was kept
    assert api.VM.get_name_label(copy) == name      # not renamed, and no third VM
    assert sorted(r["name_label"].startswith(name) for r in api.VM.get_all_records().values()
                  if r["name_label"].startswith(name)) == [True, True]
    for guest in (vm, copy):
        api.VM.hard_shutdown(guest)


def test_crash_rename_restart_with_a_disk(api, qemu_daemon, tiny_guest):
    name = "rrd-" + os.urandom(3).hex()
    vm, copy = _rename_restart(api, qemu_daemon, tiny_guest, name, disk=True)
    # The copy is made and started in one go (start returns once QEMU runs): no boot to wait for.
    wait_state(api, copy, "Running", 5)
    assert len(qemu_pids(copy)) == 1
