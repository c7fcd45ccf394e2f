"""The lifecycle table (api/lifecycle.TABLE) on real QEMU guests with no OS, through the SDK.

Every (state, operation) pair is tried on a 64 MiB BIOS guest: the allowed ones must
reach the table's final state *and* leave the QEMU process as that state means (one
process while Running or Paused, none while Halted or Suspended, the saved state on
disk while Suspended, vCPUs executing after a start or reset); the others must fail
with VM_BAD_POWER_STATE and change nothing. clean_shutdown and clean_reboot need an OS
and are tried where they are allowed in test_guest.py and test_shutdown_timeout.py.
"""

import os
import signal
import subprocess
import time

import pytest
from harness import (
    LIFECYCLE_OPERATIONS,
    LIFECYCLE_STATES,
    RESIDENT_STATES,
    failure,
    new_no_os_vm,
    operation_id,
    qemu_pids,
    requires_qemu,
    vm_in,
    wait_until,
)
from qemuapi import assert_executes, cmdline, suspend_file, the_pid, vcpu_ticks

from xen.xend.api import lifecycle

pytestmark = [pytest.mark.qemu, requires_qemu]

# The table's operations as the API calls them, delete (VM.destroy) included.
OPERATIONS = LIFECYCLE_OPERATIONS + [("destroy", "delete", ())]


def _cases():
    for state in LIFECYCLE_STATES:
        for call, op, args in OPERATIONS:
            allowed = lifecycle.transition(state, op) is not None
            if allowed and call in ("clean_shutdown", "clean_reboot"):
                continue   # needs a guest OS: test_guest.py / test_shutdown_timeout.py
            yield pytest.param(state, call, op, args,
                               id="%s-%s" % (state, operation_id(call, op, args)))


def test_every_table_row_is_tried():
    """The parametrisation below and the tests named below together
    cover every row of the table (rows from states only reachable mid-operation included)."""
    tried = {(s, op) for s in LIFECYCLE_STATES for _, op, _ in OPERATIONS}
    elsewhere = {("Running", "clean_shutdown"), ("Running", "clean_reboot"),
                 ("ShuttingDown", "hard_shutdown"),   # test_shutdown_timeout.py
                 ("Unknown", "hard_shutdown"),        # test_a_hung_qemu_is_unknown_...
                 ("Running", "dump_core"), ("Paused", "dump_core"),       # test_debug.py
                 ("Running", "send_sysrq"), ("Running", "send_trigger"),
                 # test_saved_guests.py, and tests/integration/test_save_restore.py for Paused
                 ("Running", "save"), ("Paused", "save"),
                 ("Halted", "restore"), ("Halted", "restore_paused"),
                 # test_live.py; set_memory_static_max touches no guest
                 # (tests/integration/test_api_vm_lifecycle.py)
                 ("Running", "set_VCPUs_number_live"), ("Halted", "set_memory_static_max"),
                 ("Running", "set_memory_static_max"), ("Paused", "set_memory_static_max"),
                 ("Running", "add_to_VCPUs_params_live"),
                 ("Paused", "add_to_VCPUs_params_live"),
                 # memory/dynamic_max's balloon path, live: the rows are tried in
                 # tests/integration/test_api_vm_lifecycle.py
                 ("Running", "set_memory_dynamic_max_live"),
                 ("Paused", "set_memory_dynamic_max_live"),
                 ("Running", "set_memory_dynamic_min_live"),
                 ("Paused", "set_memory_dynamic_min_live"),
                 # between hosts of a pool: tests/pool/test_qemu_pool_migrate.py
                 ("Running", "migrate")}
    assert set(lifecycle.TABLE) <= tried | elsewhere


@pytest.mark.parametrize("state, call, op, args", list(_cases()))
def test_operation_in_state(api, host, qemu_daemon, state, call, op, args):
    vm = vm_in(api, state, lambda: new_no_os_vm(api))
    pids = qemu_pids(vm)
    assert len(pids) == (1 if state in RESIDENT_STATES else 0)
    if state == "Suspended":
        assert os.path.isfile(suspend_file(qemu_daemon, vm))
    ticks = vcpu_ticks(pids[0]) if pids else 0
    vms_before = set(api.VM.get_all())
    t = lifecycle.transition(state, op)
    fn = getattr(api.VM, call)

    if t is None:
        assert failure(fn, vm, *args) == [
            "VM_BAD_POWER_STATE", vm, ",".join(lifecycle.allowed_states(op)), state]
        assert api.VM.get_power_state(vm) == state          # nothing happened
        assert qemu_pids(vm) == pids
        assert (api.VM.get_resident_on(vm) == host) == (state in RESIDENT_STATES)
        assert set(api.VM.get_all()) == vms_before
        return

    result = fn(vm, *args)
    if call == "destroy":
        assert result == ""
        assert vm not in api.VM.get_all()
        assert failure(api.VM.get_power_state, vm)[0] == "HANDLE_INVALID"
        assert qemu_pids(vm) == []
        return
    if call == "clone":
        assert api.VM.get_power_state(result) == "Halted"
        assert api.VM.get_name_label(result) == "a clone"
        assert api.VM.get_power_state(vm) == state
        assert set(api.VM.get_all()) == vms_before | {result}
        assert qemu_pids(result) == []
        return

    assert result == ""
    assert api.VM.get_power_state(vm) == t.final
    assert (api.VM.get_resident_on(vm) == host) == (t.final in RESIDENT_STATES)
    assert (vm in api.host.get_resident_VMs(host)) == (t.final in RESIDENT_STATES)
    now = qemu_pids(vm)
    assert len(now) == (1 if t.final in RESIDENT_STATES else 0), now
    assert os.path.exists(suspend_file(qemu_daemon, vm)) == (t.final == "Suspended")
    if op in ("pause", "unpause", "hard_reboot"):
        assert now == pids                                  # the same QEMU carries on
    if op == "start":
        assert_executes(now[0], 0)
    if op == "start_paused":
        time.sleep(0.3)
        assert vcpu_ticks(now[0]) == 0                      # never ran
    if op == "unpause":
        assert_executes(now[0], ticks)                      # paused since its start: POST runs now
    if op == "hard_reboot":
        assert_executes(now[0], vcpu_ticks(now[0]), 5)      # SeaBIOS's POST again


@pytest.fixture
def stopped_pids():
    """Processes a test SIGSTOPs; each is let go on again (SIGCONT) at teardown."""
    pids = []
    yield pids
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def test_a_hung_qemu_is_unknown_until_hard_shutdown_or_it_answers(make_daemon, stopped_pids):
    """A QEMU whose monitor does not answer when the daemon starts (here: stopped with
    SIGSTOP) is Unknown; the table lets only hard_shutdown through, which ends it. One
    that answers again later (SIGCONT) gets its real state back."""
    d = make_daemon(extra_config="shutdown_timeout = 5\nreattach_timeout = 1.0\n")
    hung, slow = new_no_os_vm(d.api), new_no_os_vm(d.api)
    pids = {}
    for vm in (hung, slow):
        d.api.VM.start(vm, False)
        pids[vm] = the_pid(vm)
    d.stop()
    for vm in (hung, slow):
        stopped_pids.append(pids[vm])
        os.kill(pids[vm], signal.SIGSTOP)
    d.start()
    api = d.relogin()
    for vm in (hung, slow):
        assert api.VM.get_power_state(vm) == "Unknown"
        assert api.VM.get_resident_on(vm) == api.host.get_all()[0]
    for call, op, args in OPERATIONS:
        if lifecycle.transition("Unknown", op) is None:
            assert failure(getattr(api.VM, call), hung, *args) == [
                "VM_BAD_POWER_STATE", hung, ",".join(lifecycle.allowed_states(op)),
                "Unknown"], op
    assert qemu_pids(hung) == [pids[hung]]
    api.VM.hard_shutdown(hung)
    assert api.VM.get_power_state(hung) == "Halted"
    assert api.VM.get_resident_on(hung) == ""
    assert qemu_pids(hung) == []

    os.kill(pids[slow], signal.SIGCONT)
    wait_until(lambda: api.VM.get_power_state(slow) == "Running", 30,
               "the guest that answers again to be Running")
    assert qemu_pids(slow) == [pids[slow]]
    api.VM.pause(slow)                  # its monitor is the daemon's again
    assert api.VM.get_power_state(slow) == "Paused"
    api.VM.hard_shutdown(slow)
    assert qemu_pids(slow) == []


def test_start_and_unpause_run_the_vcpus_that_pause_stops(api):
    vm = new_no_os_vm(api)
    api.VM.start(vm, True)
    pid = the_pid(vm)
    time.sleep(0.3)
    assert vcpu_ticks(pid) == 0
    api.VM.unpause(vm)
    assert_executes(pid, 0)
    api.VM.pause(vm)
    ticks = vcpu_ticks(pid)
    time.sleep(0.5)
    assert vcpu_ticks(pid) == ticks
    api.VM.hard_shutdown(vm)
    assert qemu_pids(vm) == []


def test_hard_shutdown_of_a_suspended_vm_discards_its_saved_state(api, qemu_daemon):
    vm = vm_in(api, "Suspended", lambda: new_no_os_vm(api))
    assert os.path.getsize(suspend_file(qemu_daemon, vm)) > 0
    api.VM.hard_shutdown(vm)
    assert api.VM.get_power_state(vm) == "Halted"
    assert not os.path.exists(suspend_file(qemu_daemon, vm))
    api.VM.start(vm, False)                 # a fresh start, not a resume
    assert api.VM.get_power_state(vm) == "Running"


@pytest.mark.parametrize("live", [False, True], ids=["stopped", "live"])
@pytest.mark.parametrize("paused", [False, True], ids=["running", "paused"])
def test_suspend_and_resume_make_a_new_process(api, qemu_daemon, paused, live):
    vm = new_no_os_vm(api)
    api.VM.start(vm, paused)
    pid = the_pid(vm)
    api.VM.suspend(vm, live)
    assert api.VM.get_power_state(vm) == "Suspended"
    assert qemu_pids(vm) == []
    state = suspend_file(qemu_daemon, vm)
    assert os.path.getsize(state) > 0
    assert os.stat(state).st_mode & 0o077 == 0               # guest memory: private
    api.VM.resume(vm, paused)
    assert api.VM.get_power_state(vm) == ("Paused" if paused else "Running")
    new = the_pid(vm)
    assert new != pid
    assert not os.path.exists(state)
    if paused:
        api.VM.unpause(vm)
        assert api.VM.get_power_state(vm) == "Running"
    api.VM.hard_shutdown(vm)
    assert qemu_pids(vm) == []


def test_template_refuses_every_operation_but_clone(api):
    vm = new_no_os_vm(api, is_a_template=True)
    for call, op, args in OPERATIONS:
        if op in lifecycle.TEMPLATE_OPS:
            continue
        assert failure(getattr(api.VM, call), vm, *args) == ["VM_IS_TEMPLATE", vm], op
        assert qemu_pids(vm) == []
        assert api.VM.get_power_state(vm) == "Halted"
    clone = api.VM.clone(vm, "from a template")
    assert api.VM.get_is_a_template(clone)
    assert api.VM.get_power_state(clone) == "Halted"
    # Once it is no template any more it starts like any VM.
    api.VM.set_is_a_template(clone, False)
    api.VM.start(clone, False)
    assert api.VM.get_power_state(clone) == "Running"
    assert len(qemu_pids(clone)) == 1
    api.VM.destroy(vm)                      # delete is the other operation a template allows
    assert vm not in api.VM.get_all()


def test_ps_shows_the_guest_by_uuid_and_name(api):
    vm = new_no_os_vm(api, name="ps, with a comma")
    api.VM.start(vm, False)
    pid = the_pid(vm)
    ps = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(pid)], capture_output=True,
                        text=True, check=True).stdout
    assert "-uuid %s" % vm in ps
    # QEMU's option syntax doubles the comma.
    assert "-name guest=ps,, with a comma,debug-threads=on" in ps
    args = cmdline(pid)
    assert args[args.index("-uuid") + 1] == vm
    assert os.path.basename(args[0]).startswith("qemu-system-x86_64")
