"""VM.pool_migrate and 1.0's VM.migrate between two members on one database (sim
backend; docs/pool.md, "Migration"): the guest moves from one host's backend to the
other's, events show resident_on moving, a cancel or a refusal leaves it running where
it was with nothing on the target."""

import os
import subprocess
import sys

import pytest
from harness import (
    FINISHED,
    ROOT,
    STATE_WAIT,
    Fleet,
    Watcher,
    failure,
    new_vm,
    start_members,
    wait_until,
)

# Each simulated operation (a migration's send too) takes this long, in ten cancellable
# steps, so that a cancel finds one under way.
OP_SECONDS = 1.0


@pytest.fixture(scope="module")
def members(postgres, tmp_path_factory):
    """Two sim members that reach each other over the pool channel, each seeing the
    other's lease (a target must be live)."""
    fleet = Fleet()
    try:
        daemons = start_members(fleet, postgres, str(tmp_path_factory.mktemp("migrate")), 2,
                                ["sim_op_seconds = %s\n" % OP_SECONDS] * 2)
        for d in daemons:
            d.v10 = d.sdk_unix(version="1.0").xenapi
            wait_until(lambda d=d: all(d.api.host_metrics.get_live(d.api.host.get_metrics(
                o.host)) for o in daemons), STATE_WAIT, "the members' leases")
        yield daemons
    finally:
        fleet.retire()


@pytest.fixture
def running(members):
    """A guest started on the first member, seen by both."""
    a, b = members
    vm = new_vm(a.api)
    a.api.VM.start_on(vm, a.host, False, False)   # there, whatever placement would choose
    wait_until(lambda: b.api.VM.get_resident_on(vm) == a.host, STATE_WAIT,
               "the second member to see the guest")
    yield vm
    owner = next(d for d in members if vm in d.sim_guests())
    owner.api.VM.hard_shutdown(vm)


def resident(members, vm, host):
    """Whether every member's record and the backends say ``vm`` runs on ``host``."""
    return all(d.api.VM.get_resident_on(vm) == host and
               d.api.VM.get_power_state(vm) == "Running" and
               (vm in d.sim_guests()) == (d.host == host) for d in members)


def nothing_received(daemon):
    return not any(n.startswith("incoming-") for n in os.listdir(daemon.state_dir))


def test_a_guest_moves_and_events_show_resident_on_moving(members, running):
    a, b = members
    vm = running
    watcher = Watcher(b.v10, ["VM"])
    a.api.VM.pool_migrate(vm, b.host, {"live": "true", "storage": "shared"})
    assert resident(members, vm, b.host) or \
        wait_until(lambda: resident(members, vm, b.host), STATE_WAIT, "the move seen")
    events = watcher.collect(lambda got: any(
        e["ref"] == vm and e["snapshot"]["resident_on"] == b.host for e in got))
    # Never Halted on the way: the record moved in one write.
    assert all(e["snapshot"]["power_state"] == "Running" for e in events if e["ref"] == vm)
    assert "VM %s: migrated to host %s" % (vm, b.host) in a.log_text()
    # Back with 1.0's VM.migrate, the host named by its uuid, on the guest's host now.
    b.v10.VM.migrate(vm, a.api.host.get_uuid(a.host), True, {})
    wait_until(lambda: resident(members, vm, a.host), STATE_WAIT, "the move back")


def test_a_call_on_another_member_is_carried_out_by_the_guests_host(members, running):
    a, b = members
    vm = running
    b.api.VM.pool_migrate(vm, b.host, {})     # forwarded to a, where the guest runs
    wait_until(lambda: resident(members, vm, b.host), STATE_WAIT, "the move")
    assert "VM %s: migrated to host %s" % (vm, b.host) in a.log_text()


@pytest.mark.parametrize("caller", [0, 1], ids=["on-its-host", "on-the-target"])
def test_a_cancelled_migration_leaves_the_guest_where_it_was(members, running, caller):
    """Called on the target, the task runs as a task of the guest's host (RemoteTask):
    its progress shows on the caller's task, and the caller's cancel reaches it."""
    a, b = members
    vm = running
    api, v10 = members[caller].api, members[caller].v10
    task = api.Async.VM.pool_migrate(vm, b.host, {})
    # Beyond the 0.05 reported before the work: inside the send, where a cancel acts.
    wait_until(lambda: api.task.get_progress(task) > 0.05, STATE_WAIT, "the send")
    assert api.task.get_progress(task) < 0.95       # the send is under way, not done
    api.task.cancel(task)
    wait_until(lambda: v10.task.get_status(task) in FINISHED, STATE_WAIT, "its end")
    assert api.task.get_record(task)["status"] == "cancelled"
    assert resident(members, vm, a.host)
    assert nothing_received(b)


def own_tasks(daemon):
    return {t for t, rec in daemon.api.task.get_all_records().items()
            if rec["name_label"] == "Async.VM.pool_migrate"}


def test_an_async_call_on_another_member_ends_as_its_task_there_ended(members, running):
    a, b = members
    vm = running
    before = own_tasks(a)
    task = b.api.Async.VM.pool_migrate(vm, b.host, {})     # a's task runs it
    wait_until(lambda: b.v10.task.get_status(task) in FINISHED, STATE_WAIT, "its end")
    assert b.api.task.get_record(task)["status"] == "success"
    assert resident(members, vm, b.host)
    # The task that ran it on a is gone with it.
    assert own_tasks(a) == before
    # A failure there is this task's failure: the guest is on b already.
    task = a.api.Async.VM.pool_migrate(vm, b.host, {})
    wait_until(lambda: a.v10.task.get_status(task) in FINISHED, STATE_WAIT, "its end")
    rec = a.api.task.get_record(task)
    assert rec["status"] == "failure"
    assert rec["error_info"][0] == "VM_MIGRATE_FAILED"


def test_what_the_target_cannot_take_is_refused_with_the_reason(members, running):
    a, b = members
    vm = running
    assert failure(a.api.VM.pool_migrate, vm, b.host, {"storage": "elsewhere"})[:2] == [
        "INVALID_VALUE", "options:storage"]
    d = failure(a.api.VM.pool_migrate, vm, a.host, {})
    assert d[:2] == ["VM_MIGRATE_FAILED", vm] and "already runs" in d[2]
    assert failure(a.v10.VM.migrate, vm, "no-such-host", True, {}) == [
        "UUID_INVALID", "host", "no-such-host"]
    halted = new_vm(a.api)
    assert failure(a.api.VM.pool_migrate, halted, b.host, {}) == [
        "VM_BAD_POWER_STATE", halted, "Running", "Halted"]
    assert resident(members, vm, a.host) and nothing_received(b)


def xm(daemon, *args):
    """The real xm on ``daemon``'s socket: (exit status, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-m", "xen.xm", "--socket", daemon.socket, *args],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def test_xm_migrate_moves_a_guest_to_the_host_it_names(members, running):
    a, b = members
    vm = running
    name = a.api.VM.get_name_label(vm)
    assert xm(a, "migrate", name, a.api.host.get_uuid(b.host), "--live")[0] == 0
    wait_until(lambda: resident(members, vm, b.host), STATE_WAIT, "the move")
    status, out, err = xm(b, "migrate", name, "no-such-host")
    assert (status, out) == (1, "") and "no-such-host" in err and "Traceback" not in err
    status, out, err = xm(b, "migrate", name, a.api.host.get_uuid(b.host))
    assert status == 1 and "already runs" in err and "Traceback" not in err
    assert resident(members, vm, b.host)
