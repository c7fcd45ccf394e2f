"""Autostart after a host boot: the VMs with other_config:auto_poweron start in their order,
once, when the run directory's marker is missing, and never after a daemon restart."""

import os
import re
import signal

import pytest
from harness import failure, new_vm, unique, wait_until

AUTO = {"other_config": {"auto_poweron": "true"}}


def marker(daemon):
    return os.path.join(os.path.dirname(daemon.socket), "xend.booted")


def started_order(daemon, vms):
    """The VMs of ``vms`` in the order the log says they started."""
    lines = re.findall(r"VM '[^']*' \(([0-9a-f-]+)\): started$", daemon.log_text(), re.M)
    return [vm for vm in lines if vm in vms]


def boot(daemon):
    """Restart ``daemon`` as after a host boot (its marker gone) and wait for the
    autostart sequence to end."""
    daemon.stop()
    os.unlink(marker(daemon))
    daemon.start()
    wait_until(lambda: os.path.exists(marker(daemon)), 30, "the autostart marker")
    return daemon.relogin()


@pytest.fixture(scope="module")
def api(daemon):
    wait_until(lambda: os.path.exists(marker(daemon)), 30, "the first start's marker")
    return daemon.relogin()


def test_fields_and_their_range(api):
    vm = new_vm(api)
    assert api.VM.get_other_config(vm) == {}
    assert (api.VM.get_order(vm), api.VM.get_start_delay(vm)) == ("0", "0")
    assert failure(api.VM.set_start_delay, vm, "-1") == [
        "INVALID_VALUE", "start_delay", "-1 (must be 0..86400 seconds)"]
    api.VM.set_order(vm, "-5")
    assert api.VM.get_order(vm) == "-5"


def test_boot_starts_in_order_restart_starts_nothing(daemon, api):
    prefix = unique("as")
    third = new_vm(api, name_label=prefix + "-a", order="2", **AUTO)
    second = new_vm(api, name_label=prefix + "-c", order="1", **AUTO)
    first = new_vm(api, name_label=prefix + "-b", order="1", **AUTO)
    plain = new_vm(api, name_label=prefix + "-plain")
    template = new_vm(api, name_label=prefix + "-tpl", is_a_template=True, **AUTO)
    suspended = new_vm(api, name_label=prefix + "-susp", **AUTO)
    api.VM.start(suspended, False)
    api.VM.suspend(suspended, False)
    # A CPU feature no x86 host has: its start fails.
    broken = new_vm(api, name_label=prefix + "-broken", order="1",
                    VCPUs_features_required=["IA64"], **AUTO)

    daemon.restart()          # the marker stays: a daemon restart, no autostart
    api = daemon.relogin()
    # The sequence runs once the daemon serves: its line may follow the login.
    wait_until(lambda: "a daemon restart, not a host boot" in daemon.log_text(), 30,
               "the autostart's word on a daemon restart")
    assert api.VM.get_power_state(first) == "Halted"

    api = boot(daemon)
    autos = (first, second, third)
    assert [api.VM.get_power_state(vm) for vm in autos] == ["Running"] * 3
    assert started_order(daemon, autos) == [first, second, third]
    assert api.VM.get_power_state(plain) == "Halted"
    assert api.VM.get_power_state(suspended) == "Suspended"
    assert api.VM.get_power_state(broken) == "Halted"
    log = daemon.log_text()
    assert "(%s): autostart skipped: it is a template" % template in log
    assert "(%s): autostart skipped: it is Suspended, not Halted" % suspended in log
    assert log.count("(%s): autostart failed: VALUE_NOT_SUPPORTED VCPUs/features/required IA64"
                     % broken) == 1
    tasks = [api.task.get_record(t) for t in api.task.get_all()]
    mine = [t for t in tasks if t["name_label"] == "Async.VM.start" and t["user"] == "root"]
    assert sorted(t["status"] for t in mine) == ["failure", "success", "success", "success"]
    for vm in autos + (broken,):
        api.VM.remove_from_other_config(vm, "auto_poweron")


def test_stop_during_the_sequence(daemon, api):
    waits = new_vm(api, name_label=unique("as-wait"), order="-10", start_delay="86400",
                   **AUTO)
    after = new_vm(api, name_label=unique("as-after"), order="-9", **AUTO)
    daemon.stop()
    os.unlink(marker(daemon))
    daemon.start()
    api = daemon.relogin()
    wait_until(lambda: api.VM.get_power_state(waits) == "Running", 30, "the first start")
    assert api.VM.get_power_state(after) == "Halted"
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(20) == 0     # the day's delay does not hold the daemon
    assert not os.path.exists(marker(daemon))
    # The sequence had not ended, so the next start runs it again: the VM already
    # running is skipped (no second day's wait), the next one starts.
    api = daemon.start().relogin()
    wait_until(lambda: os.path.exists(marker(daemon)), 30, "the sequence's end")
    assert api.VM.get_power_state(after) == "Running"
    assert "(%s): autostart skipped: it is Running, not Halted" % waits in daemon.log_text()
