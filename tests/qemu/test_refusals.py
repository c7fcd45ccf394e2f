"""Values the QEMU backend cannot honour, refused through the API with VALUE_NOT_SUPPORTED:
at create and set (the VM keeps what it had), or at start for what only the VM's devices
decide (no QEMU process is left). No guest boots here.
"""

import pytest
from harness import MIB, failure, guests, memory, new_no_os_vm, qemu_pids, requires_qemu, unique

from xen.xend.api.lifecycle import CONTROL_DOMAIN

pytestmark = [pytest.mark.qemu, requires_qemu]


def _vm_names(api):
    return {api.VM.get_name_label(vm) for vm in guests(api)}


def test_set_refuses_what_qemu_cannot_honour_and_the_vm_is_unchanged(api):
    vm = new_no_os_vm(api)
    before = api.VM.get_record(vm)

    d = failure(api.VM.set_platform_serial, vm, "tcp:127.0.0.1:4555")
    assert d[:3] == ["VALUE_NOT_SUPPORTED", "platform/serial", "tcp:127.0.0.1:4555"], d
    d = failure(api.VM.set_platform_clock_offset, vm, True)
    assert d[:3] == ["VALUE_NOT_SUPPORTED", "platform/clock_offset", "true"], d
    assert "offset" in d[3], d

    after = api.VM.get_record(vm)
    assert after == before
    assert after["platform_serial"] == before["platform_serial"]
    assert after["platform_clock_offset"] is False
    api.VM.set_platform_clock_offset(vm, False)     # false means nothing: accepted


def test_create_refuses_memory_under_1_mib_and_makes_no_vm(api):
    name = unique("tiny-mem")
    d = failure(lambda: new_no_os_vm(api, name, **memory(MIB // 2, static_min=MIB // 4)))
    assert d[:3] == ["VALUE_NOT_SUPPORTED", "memory/static_max", str(MIB // 2)], d
    d = failure(lambda: new_no_os_vm(api, name, platform_clock_offset=True))
    assert d[:2] == ["VALUE_NOT_SUPPORTED", "platform/clock_offset"], d
    assert name not in _vm_names(api)


@pytest.mark.parametrize("method", ["kernel_internal", "grub"])
def test_booting_from_a_disk_the_vm_lacks_is_refused_at_start(api, method):
    vm = new_no_os_vm(api, boot_method=method)
    d = failure(api.VM.start, vm, False)
    assert d[:3] == ["VALUE_NOT_SUPPORTED", "boot_method", method], d
    assert "no disk to boot from" in d[3], d
    assert api.VM.get_power_state(vm) == "Halted"
    assert qemu_pids(vm) == []


def test_start_refuses_more_memory_than_the_host_has(api):
    """QEMU would fail to reserve it ("cannot set up guest memory"): refused before it runs."""
    vm = new_no_os_vm(api, **memory(1 << 50))     # 1 PiB
    d = failure(api.VM.start, vm, False)
    assert d[:3] == ["VALUE_NOT_SUPPORTED", "memory/static_max", str(1 << 50)], d
    assert "host's memory" in d[3], d
    assert api.VM.get_power_state(vm) == "Halted"
    assert qemu_pids(vm) == []


def test_start_refuses_a_kernel_that_is_not_there(api):
    vm = new_no_os_vm(api, boot_method="kernel_external", kernel_kernel="/nonexistent/k2")
    d = failure(api.VM.start, vm, False)
    assert d == ["VALUE_NOT_SUPPORTED", "kernel/kernel", "/nonexistent/k2",
                 "no such file on the host"], d
    assert api.VM.get_power_state(vm) == "Halted"


def test_the_control_domain_is_the_host_and_refuses_every_operation(api, host):
    """On QEMU the control domain's VM is the machine itself: its figures are read, no
    QEMU is asked, and an operation on it reaches no backend."""
    rec = api.VM.get_record(CONTROL_DOMAIN)
    assert (rec["name_label"], rec["power_state"], rec["domid"], rec["resident_on"]) == \
        ("Domain-0", "Running", "0", host)
    assert int(rec["memory_actual"]) == int(api.host.get_control_domain_memory(host)) > 0
    assert float(rec["VCPUs_CPU_time"]) > 0.0
    for op, args in (("hard_shutdown", ()), ("start", (False,)), ("clone", ("copy",))):
        assert failure(getattr(api.VM, op), CONTROL_DOMAIN, *args)[0] == "OPERATION_NOT_ALLOWED"
    assert api.VM.get_power_state(CONTROL_DOMAIN) == "Running"
    assert qemu_pids(CONTROL_DOMAIN) == []
