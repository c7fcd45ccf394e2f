"""Calls forwarded between pool_members (docs/pool.md, "Host-to-host calls"): a call on a
guest resident on another member, made on any member, is carried out by the guest's
host, as the caller, and answers as it would there. Two members, A and B
(the pool_members fixture)."""

from harness import (
    STATE_WAIT,
    failure,
    make_user,
    new_network,
    new_vif,
    new_vm,
    wait_until,
)


def running_on(pool_members, k, api=None):
    """A new VM started on member ``k`` (through ``api``, root's there by default),
    once every member sees it resident there."""
    api = api or pool_members[k].api
    vm = new_vm(api)
    api.VM.start_on(vm, pool_members[k].host, False, False)
    for d in pool_members:
        wait_until(lambda d=d: d.api.VM.get_resident_on(vm) == pool_members[k].host,
                   STATE_WAIT, "%s to see the VM started" % d.url)
    return vm


def test_lifecycle_calls_on_a_guest_of_b_made_on_a_change_b_s_guest(pool_members):
    a, b = pool_members
    mine = running_on(pool_members, 0)           # each member has guests of its own
    vm = running_on(pool_members, 1)
    for call, state in (("pause", "Paused"), ("unpause", "Running"),
                        ("clean_shutdown", "Halted")):
        getattr(a.api.VM, call)(vm)
        assert a.api.VM.get_power_state(vm) == state
        assert b.sim_guests().get(vm, "Halted") == state
        assert vm not in a.sim_guests()
    b.api.VM.start_on(vm, b.host, False, False)
    wait_until(lambda: a.api.VM.get_power_state(vm) == "Running", STATE_WAIT,
               "A to see the VM started again")
    a.api.VM.hard_shutdown(vm)
    assert vm not in b.sim_guests() or b.sim_guests()[vm] == "Halted"
    assert a.sim_guests()[mine] == "Running" and mine not in b.sim_guests()


def test_devices_of_a_guest_of_b_are_plugged_on_b(pool_members):
    a, b = pool_members
    vm = running_on(pool_members, 1)
    vif = new_vif(a.api, vm, new_network(a.api))    # made on a resident guest: plugged
    assert b.api.VIF.get_currently_attached(vif) is True
    a.api.VIF.unplug(vif)
    assert b.api.VIF.get_currently_attached(vif) is False
    a.api.VIF.plug(vif)
    assert b.api.VIF.get_currently_attached(vif) is True


def test_a_forwarded_failure_comes_back_as_the_same_failure(pool_members):
    a, b = pool_members
    vm = running_on(pool_members, 1)
    there = failure(b.api.VM.send_sysrq, vm, "!")
    assert there[0] == "INVALID_VALUE"
    assert failure(a.api.VM.send_sysrq, vm, "!") == there


def test_the_call_is_made_as_its_caller(pool_members):
    a, b = pool_members
    _, name, password = make_user(a.api)
    user_a = a.sdk_tcp(name, password).xenapi
    user_b = b.sdk_tcp(name, password).xenapi
    vm = running_on(pool_members, 1, user_b)
    # weight= is root's: the user is refused on B, and on A exactly as on B.
    denied = failure(user_b.VM.add_to_VCPUs_params_live, vm, "weight", "512")
    assert denied[0] == "PERMISSION_DENIED"
    assert failure(user_a.VM.add_to_VCPUs_params_live, vm, "weight", "512") == denied
    user_a.VM.add_to_VCPUs_params_live(vm, "cpumap0", "0")   # the user's own, allowed
    a.api.VM.add_to_VCPUs_params_live(vm, "weight", "512")   # root's
    assert "weight=512" in b.api.VM.get_VCPUs_params(vm)


def test_an_async_call_is_a_task_on_the_called_host(pool_members):
    a, b = pool_members
    vm = running_on(pool_members, 1)
    api = a.sdk_unix(version="1.0").xenapi     # task.get_status is the status in 1.0
    task = api.Async.VM.pause(vm)
    assert task in api.task.get_all() and task not in b.api.task.get_all()
    wait_until(lambda: api.task.get_status(task) != "pending", STATE_WAIT,
               "the task to finish")
    assert api.task.get_status(task) == "success"
    assert b.sim_guests()[vm] == "Paused"
