"""Debugging real QEMU guests: SysRq keys and triggers the tiny guest's kernel reacts
to on its console, a core dump of its memory, QEMU's host-side log (host.dmesg). One
tiny guest serves every check."""

import os
import re

import pytest
from harness import (
    EVENT_WAIT,
    TINY_MEMORY,
    console,
    failure,
    new_tiny_vm,
    qemu_pids,
    requires_qemu,
    wait_ready,
    wait_until,
)
from qemuapi import wait_state

pytestmark = [pytest.mark.qemu, requires_qemu]


def test_sysrq_nmi_dump_core_dmesg_reset_and_power_button(api, host, qemu_daemon, tiny_guest,
                                                          tmp_path):
    vm = new_tiny_vm(api, tiny_guest)
    api.VM.start(vm, False)
    wait_ready(qemu_daemon, vm)
    # SysRq h: the kernel prints the keys' help on its console.
    api.VM.send_sysrq(vm, "h")
    wait_until(lambda: re.search(r"sysrq ?: HELP", console(qemu_daemon, vm), re.I),
               EVENT_WAIT, "the guest's SysRq help on its console")
    # An NMI: the kernel reports one it did not expect, and runs on.
    api.VM.send_trigger(vm, "nmi", 0)
    wait_until(lambda: "NMI received" in console(qemu_daemon, vm), EVENT_WAIT,
               "the guest's report of the NMI")
    assert failure(api.VM.send_trigger, vm, "init", 0)[:3] == [
        "VALUE_NOT_SUPPORTED", "trigger", "init"]
    # A live core dump: an ELF file of about the guest's memory, the daemon's only.
    path = api.VM.dump_core(vm, str(tmp_path / "guest.core"))
    assert path == str(tmp_path / "guest.core")
    with open(path, "rb") as f:
        assert f.read(4) == b"\x7fELF"
    size = os.path.getsize(path)
    assert TINY_MEMORY <= size < TINY_MEMORY + (16 << 20), size
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert api.VM.get_power_state(vm) == "Running"
    api.VM.pause(vm)                  # a paused guest is dumped, and stays paused
    assert api.VM.dump_core(vm, path) == path and os.path.getsize(path) == size
    assert api.VM.get_power_state(vm) == "Paused"
    api.VM.unpause(vm)
    # QEMU's host-side log: some text, headed by this guest, bounded.
    text = api.host.dmesg(host)
    assert "== VM %s (qemu pid %d): qemu.log ==" % (vm, qemu_pids(vm)[0]) in text
    assert len(text.encode()) <= 64 * 1024
    heading = "== VM %s (qemu pid %d): qemu.log ==" % (vm, qemu_pids(vm)[0])
    assert heading in api.host.dmesg_clear(host) and heading in api.host.dmesg(host)
    # A reset: the guest boots again, and the record stays Running.
    api.VM.send_trigger(vm, "reset", 0)
    assert api.VM.get_power_state(vm) == "Running"
    wait_ready(qemu_daemon, vm, count=2)
    assert api.VM.get_power_state(vm) == "Running"
    # The power button: the guest powers off, and its actions halt the VM.
    api.VM.send_trigger(vm, "power", 0)
    wait_state(api, vm, "Halted", EVENT_WAIT)
    assert qemu_pids(vm) == []


def test_host_facts_and_debug_keys_on_qemu(api, host, qemu_daemon):
    """QEMU's host.capabilities are HVM guest types of qemu-system-x86_64; it has no
    hypervisor debug keys."""
    rec = {f: getattr(api.host, "get_" + f)(host) for f in (   # 1.0's: not in draft records
        "capabilities", "sched_policy", "API_version_vendor_implementation",
        "cpu_configuration", "host_CPUs")}
    assert rec["capabilities"] == ["hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64"]
    assert rec["sched_policy"] == "credit"
    assert rec["API_version_vendor_implementation"]["backend"] == "qemu"
    assert int(rec["cpu_configuration"]["nr_cpus"]) == len(rec["host_CPUs"])
    assert failure(api.host.send_debug_keys, host, "q") == [
        "VALUE_NOT_SUPPORTED", "keys", "q", "the qemu backend has no hypervisor debug keys"]
