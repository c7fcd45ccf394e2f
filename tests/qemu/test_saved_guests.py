"""VM.save and VM.restore of a real guest: the same running OS comes back, in the daemon
that saved it and in a second daemon of the same host with its own state dir."""

import os

import pytest
from harness import console, new_tiny_vm, qemu_pids, requires_qemu, wait_ready
from qemuapi import the_pid

pytestmark = [pytest.mark.qemu, requires_qemu]

READY = "xend-test: ready"


def test_save_restore_here_and_in_another_daemon(api, qemu_daemon, make_daemon, tiny_guest,
                                                 tmp_path):
    vm = new_tiny_vm(api, tiny_guest)
    api.VM.start(vm, False)
    wait_ready(qemu_daemon, vm)
    pid = the_pid(vm)

    path = str(tmp_path / "tiny.save")
    api.VM.save(vm, path)
    assert api.VM.get_power_state(vm) == "Halted"
    assert qemu_pids(vm) == []
    assert api.VM.restore(path, False) == vm
    assert qemu_pids(vm) not in ([], [pid])
    # The same OS runs on: it answers the power button, and it never booted again.
    api.VM.clean_shutdown(vm)
    assert "power button, powering off" in console(qemu_daemon, vm)
    assert console(qemu_daemon, vm).count(READY) == 1

    # Saved once more (from a restore of the file), then restored by another daemon.
    api.VM.restore(path, False)
    os.unlink(path)
    api.VM.save(vm, path)
    other = make_daemon()
    assert other.api.VM.restore(path, False) == vm
    assert other.api.VM.get_power_state(vm) == "Running"
    other.api.VM.clean_shutdown(vm)
    assert "power button, powering off" in console(other, vm)
    assert READY not in console(other, vm)
