"""A VM's logs: the daemon's log lines of its starts and stops (with its name), and
GET /vm-log on the daemon's listeners."""

import pytest
from harness import new_vm, unique


@pytest.fixture(scope="module")
def api(root):
    return root


def power_lines(daemon, name, vm):
    """The events of the daemon's power lines for the VM ``name`` (``vm``), in order."""
    prefix = "VM '%s' (%s): " % (name, vm)
    return [line.split(prefix, 1)[1] for line in daemon.log_text().splitlines()
            if " INFO xend.domains: " + prefix in line]


def test_starts_and_stops_are_logged_with_the_vm_name(daemon, api):
    name = unique("web")
    vm = new_vm(api, name_label=name)
    api.VM.start(vm, False)
    api.VM.clean_reboot(vm)
    api.VM.hard_reboot(vm)
    api.VM.suspend(vm, False)
    api.VM.resume(vm, False)
    api.VM.clean_shutdown(vm)
    api.VM.start(vm, True)
    api.VM.hard_shutdown(vm)
    assert power_lines(daemon, name, vm) == [
        "started", "rebooted (clean reboot)", "rebooted (hard reboot)", "suspended",
        "resumed", "stopped (clean shutdown)", "started", "stopped (hard shutdown)"]
