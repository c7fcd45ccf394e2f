"""clean_shutdown and clean_reboot of a guest that does not answer (no OS), on a daemon
with ``shutdown_timeout = 2``; and the ShuttingDown state such a call shows meanwhile."""


import pytest
from harness import failure, halt_all, new_no_os_vm, qemu_pids, requires_qemu, serving, wait_until
from qemuapi import assert_executes, call_in_thread, the_pid

pytestmark = [pytest.mark.qemu, requires_qemu]

TIMEOUT = 2


@pytest.fixture(scope="module")
def daemon2():
    """A daemon of this module's own, with shutdown_timeout = 2."""
    with serving(backend="qemu", extra_config="shutdown_timeout = %d\n" % TIMEOUT) as d:
        yield d


@pytest.fixture
def d(daemon2):
    yield daemon2
    problems = halt_all(daemon2)
    assert not problems, problems


def _timeout_error(details, vm):
    assert details[:2] == ["VM_SHUTDOWN_TIMEOUT", vm], details
    assert float(details[2]) == TIMEOUT, details


def test_clean_shutdown_without_an_os_times_out_and_the_vm_keeps_running(d):
    api = d.api
    vm = new_no_os_vm(api)
    api.VM.start(vm, False)
    pid = the_pid(vm)
    _timeout_error(failure(api.VM.clean_shutdown, vm), vm)     # after the configured TIMEOUT
    assert api.VM.get_power_state(vm) == "Running"
    assert qemu_pids(vm) == [pid]                 # never a silent hard kill
    # Still an ordinary running VM.
    api.VM.pause(vm)
    api.VM.unpause(vm)
    api.VM.hard_shutdown(vm)
    assert api.VM.get_power_state(vm) == "Halted"
    assert qemu_pids(vm) == []


def test_clean_reboot_without_an_os_times_out_and_the_vm_keeps_running(d):
    api = d.api
    vm = new_no_os_vm(api)
    api.VM.start(vm, False)
    pid = the_pid(vm)
    _timeout_error(failure(api.VM.clean_reboot, vm), vm)
    assert api.VM.get_power_state(vm) == "Running"
    assert qemu_pids(vm) == [pid]
    api.VM.hard_reboot(vm)
    assert_executes(pid, 0)
    api.VM.hard_shutdown(vm)


def test_clean_shutdown_shows_shutting_down_meanwhile(d):
    api = d.api
    vm = new_no_os_vm(api)
    api.VM.start(vm, False)
    thread, outcome = call_in_thread(d, "clean_shutdown", vm)
    wait_until(lambda: api.VM.get_power_state(vm) == "ShuttingDown", TIMEOUT,
               "ShuttingDown while clean_shutdown waits")
    assert len(qemu_pids(vm)) == 1
    thread.join(30)
    _timeout_error(outcome["failure"], vm)
    assert api.VM.get_power_state(vm) == "Running"


@pytest.mark.parametrize("call, error", [
    ("clean_shutdown", None),                    # Halted, as it asked: success
    ("clean_reboot", ("VM_BAD_POWER_STATE", "Running", "Halted")),
])
def test_hard_shutdown_while_shutting_down(d, call, error):
    api = d.api
    # actions/*: what would bring the VM back, were the overtaken call followed.
    vm = new_no_os_vm(api, actions_after_shutdown="restart", actions_after_reboot="restart")
    api.VM.start(vm, False)
    thread, result = call_in_thread(d, call, vm)
    try:
        wait_until(lambda: api.VM.get_power_state(vm) == "ShuttingDown", TIMEOUT,
                   "ShuttingDown while %s waits" % call)
        api.VM.hard_shutdown(vm)
        assert api.VM.get_power_state(vm) == "Halted"
        assert qemu_pids(vm) == []
    finally:
        thread.join(30)
    # The overtaken call answers the outcome the destroy left, never INTERNAL_ERROR...
    expected = {"failure": [error[0], vm, *error[1:]]} if error else {"value": ""}
    assert result == expected, result
    # ...and must not bring the VM back.
    assert api.VM.get_power_state(vm) == "Halted"
