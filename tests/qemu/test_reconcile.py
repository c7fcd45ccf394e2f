"""The daemon and its QEMU processes stay in agreement: a QEMU killed from outside is
reconciled through actions/after_crash, and guests survive daemon restarts (kill -9 or
a normal stop) while the ones that died meanwhile come back Halted."""

import os
import signal

import pytest
from harness import (
    EVENT_WAIT,
    Watcher,
    new_no_os_vm,
    qemu_pids,
    requires_qemu,
    resident_guests,
    wait_until,
)
from qemuapi import assert_executes, suspend_file, the_pid, vcpu_ticks, vm_events_until, wait_state

pytestmark = [pytest.mark.qemu, requires_qemu]

# after_crash -> (power state once the killed QEMU is noticed, a new QEMU runs)
# A process that vanished left nothing to dump or keep: domains.GUEST_ACTIONS (died).
DIED = {
    "destroy": ("Halted", False),
    "coredump_and_destroy": ("Halted", False),
    "preserve": ("Halted", False),
    "restart": ("Running", True),
    "coredump_and_restart": ("Running", True),
    "rename_restart": ("Running", True),
}


KILL_CASES = [(action, False) for action in DIED] + [("destroy", True), ("restart", True)]


@pytest.mark.parametrize("action, paused", KILL_CASES,
                         ids=["%s-%s" % (a, "paused" if p else "running") for a, p in KILL_CASES])
def test_qemu_killed_from_outside(api, qemu_daemon, action, paused):
    name = "killed-" + os.urandom(3).hex()
    vm = new_no_os_vm(api, name=name, actions_after_crash=action)
    api.VM.start(vm, paused)
    pid = the_pid(vm)
    watcher = Watcher(api, ["vm"])
    os.kill(pid, signal.SIGKILL)
    state, restarted = DIED[action]
    # The reconciliation is reported as an event of the VM: Halted, or the restart.
    vm_events_until(watcher, vm, lambda snaps: any(
        s["power_state"] == state and (not restarted or s["resident_on"]) for s in snaps),
        EVENT_WAIT)
    if restarted:
        wait_until(lambda: qemu_pids(vm) not in ([], [pid]), EVENT_WAIT,
                   "a new QEMU for %s" % vm)
        wait_state(api, vm, state)
        assert_executes(the_pid(vm), 0)
    else:
        wait_state(api, vm, state, EVENT_WAIT)
        assert qemu_pids(vm) == []
        assert api.VM.get_resident_on(vm) == ""
    assert api.VM.get_name_label(vm) == name                # nothing renamed
    assert api.VM.get_by_name_label(name) == [vm]           # nothing copied
    assert not [n for n in os.listdir(os.path.join(qemu_daemon.state_dir, "vms", vm))
                if n.startswith("core")]                     # nothing to dump
    # The VM is an ordinary one afterwards.
    if state == "Halted":
        api.VM.start(vm, False)
    api.VM.hard_shutdown(vm)
    assert qemu_pids(vm) == []


def test_kill9_of_the_daemon_keeps_guests_and_reconciles_the_dead(make_daemon):
    d = make_daemon()
    api = d.api
    running = new_no_os_vm(api, name="running")
    paused = new_no_os_vm(api, name="paused")
    doomed = new_no_os_vm(api, name="doomed", actions_after_crash="restart")
    suspended = new_no_os_vm(api, name="suspended")
    api.VM.start(running, False)
    api.VM.start(paused, True)
    api.VM.start(doomed, False)
    api.VM.start(suspended, False)
    api.VM.suspend(suspended, False)
    pids = {vm: the_pid(vm) for vm in (running, paused, doomed)}
    domids = {vm: int(api.VM.get_domid(vm)) for vm in (running, paused, doomed)}
    assert len(set(domids.values())) == 3 and min(domids.values()) > 0

    d.kill9()
    for vm, pid in pids.items():
        assert qemu_pids(vm) == [pid]                       # guests outlive the daemon
    os.kill(pids[doomed], signal.SIGKILL)
    wait_until(lambda: qemu_pids(doomed) == [], 10, "the doomed QEMU to die")

    d.start()
    api = d.relogin()
    assert api.VM.get_power_state(running) == "Running"
    assert api.VM.get_power_state(paused) == "Paused"
    assert api.VM.get_power_state(suspended) == "Suspended"
    # Died while nobody watched: Halted, not restarted (after_crash is for crashes seen).
    assert api.VM.get_power_state(doomed) == "Halted"
    assert api.VM.get_resident_on(doomed) == ""
    assert qemu_pids(doomed) == []
    assert qemu_pids(running) == [pids[running]]            # the same processes
    assert qemu_pids(paused) == [pids[paused]]
    host = api.host.get_all()[0]
    assert set(resident_guests(api, host)) == {running, paused}
    # A guest found again keeps its domain ID; every new guest gets a new one, above all
    # given before the restart.
    assert {vm: int(api.VM.get_domid(vm)) for vm in (running, paused)} == \
        {running: domids[running], paused: domids[paused]}
    assert int(api.VM.get_domid(doomed)) == -1

    # The new daemon drives the guests it found again...
    api.VM.pause(running)
    api.VM.unpause(running)
    ticks = vcpu_ticks(pids[paused])
    api.VM.unpause(paused)
    assert_executes(pids[paused], ticks)
    assert api.VM.get_power_state(paused) == "Running"
    api.VM.resume(suspended, False)
    assert api.VM.get_power_state(suspended) == "Running"
    assert not os.path.exists(suspend_file(d, suspended))
    api.VM.start(doomed, False)
    api.VM.hard_reboot(paused)
    new = [int(api.VM.get_domid(vm)) for vm in (suspended, doomed, paused)]
    assert new == sorted(new) and new[0] > max(domids.values()), (domids, new)
    # ...and watches them: a kill is noticed as for its own children.
    os.kill(pids[running], signal.SIGKILL)
    wait_state(api, running, "Halted", EVENT_WAIT)
    for vm in (paused, suspended, doomed):
        api.VM.hard_shutdown(vm)
        assert qemu_pids(vm) == []


def test_normal_stop_and_start_leave_guests_running(make_daemon):
    d = make_daemon()
    api = d.api
    running = new_no_os_vm(api)
    paused = new_no_os_vm(api)
    api.VM.start(running, False)
    api.VM.start(paused, True)
    pids = {vm: the_pid(vm) for vm in (running, paused)}

    d.stop()
    for vm, pid in pids.items():
        assert qemu_pids(vm) == [pid]
    d.start()
    api = d.relogin()
    assert api.VM.get_power_state(running) == "Running"
    assert api.VM.get_power_state(paused) == "Paused"
    for vm, pid in pids.items():
        assert qemu_pids(vm) == [pid]
    api.VM.unpause(paused)
    api.VM.hard_shutdown(running)
    api.VM.hard_shutdown(paused)
    assert qemu_pids(running) == qemu_pids(paused) == []


def test_autostart_after_a_host_boot(make_daemon):
    d = make_daemon()
    api = d.api
    auto = new_no_os_vm(api, other_config={"auto_poweron": "true"})
    plain = new_no_os_vm(api)
    api.VM.start(auto, False)
    api.VM.start(plain, False)
    old = the_pid(auto)

    # A host boot: the daemon stops, its guests go, /run is empty again.
    d.stop()
    for vm in (auto, plain):
        os.kill(the_pid(vm), signal.SIGKILL)
        wait_until(lambda vm=vm: qemu_pids(vm) == [], 10, "the QEMU of %s to die" % vm)
    marker = os.path.join(os.path.dirname(d.socket), "xend.booted")
    os.unlink(marker)
    d.start()
    api = d.relogin()
    wait_until(lambda: os.path.exists(marker), EVENT_WAIT, "the autostart sequence's end")
    assert api.VM.get_power_state(auto) == "Running"
    assert qemu_pids(auto) not in ([], [old])
    assert_executes(the_pid(auto), 0)
    assert api.VM.get_power_state(plain) == "Halted"
    assert qemu_pids(plain) == []
    api.VM.hard_shutdown(auto)
