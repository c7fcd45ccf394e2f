"""Tasks belong to the user who made them (§1.4.3 note 3, §2.5): each user sees only
their own, in RPCs and in events; root sees all. Users log in over TCP with passwords."""

import pytest
from harness import Watcher, event_from, failure, make_user, wait_until
from taskutil import wait_task


@pytest.fixture(scope="module")
def users(slow_daemon, slow_root):
    refs = {name: make_user(slow_root, name, name + "-pw")[0] for name in ("alice", "bob")}
    sessions = {name: slow_daemon.sdk_tcp(name, name + "-pw") for name in refs}
    yield {name: (refs[name], sessions[name].xenapi) for name in refs}
    for s in sessions.values():
        try:
            s.xenapi.session.logout()
        except Exception:
            pass


def test_each_user_sees_only_their_own_tasks(slow_daemon, slow_root, users):
    _, a = users["alice"]
    _, b = users["bob"]
    va = a.VM.create({"name_label": "alice-vm"})
    vb = b.VM.create({"name_label": "bob-vm"})
    a2 = slow_daemon.sdk_tcp("alice", "alice-pw")      # another session of alice's
    ta = a.Async.VM.start(va, False)
    tb = b.Async.VM.start(vb, False)

    # While both run (each takes 1 s).
    assert a.task.get_all_tasks() == [ta]
    assert a.Async.Task.GetAllTasks() == [ta]
    assert b.task.get_all_tasks() == [tb]
    assert b.Async.Task.GetAllTasks() == [tb]
    assert {ta, tb} <= set(slow_root.task.get_all_tasks())
    assert {ta, tb} <= set(slow_root.Async.Task.GetAllTasks())
    # Tasks belong to the user, not the session (§2.5 get_all_tasks).
    try:
        assert a2.xenapi.task.get_all_tasks() == [ta]
        assert a2.xenapi.task.get_all() == [ta]
    finally:
        a2.xenapi.session.logout()

    for x, mine in ((a, ta), (b, tb)):
        assert x.task.get_all() == [mine]
        assert list(x.task.get_all_records()) == [mine]
    assert {ta, tb} <= set(slow_root.task.get_all())
    assert {ta, tb} <= set(slow_root.task.get_all_records())

    assert wait_task(a, ta)["user"] == "alice"
    assert wait_task(b, tb)["user"] == "bob"
    assert slow_root.task.get_record(ta)["user"] == "alice"
    assert slow_root.task.get_record(tb)["user"] == "bob"
    wait_until(lambda: a.task.get_all_tasks() == [] and b.task.get_all_tasks() == [],
               30, "finished tasks to leave get_all_tasks")
    assert a.task.get_all() == [ta] and b.task.get_all() == [tb]


def test_tasks_outlive_the_session_that_made_them(slow_daemon, users):
    _, a = users["alice"]
    other = slow_daemon.sdk_tcp("alice", "alice-pw")
    vm = other.xenapi.VM.create({"name_label": "orphan"})
    task = other.xenapi.Async.VM.start(vm, False)      # 1 s
    other.xenapi.session.logout()
    assert task in a.task.get_all_tasks()
    assert wait_task(a, task)["status"] == "success"
    assert a.VM.get_power_state(vm) == "Running"


@pytest.mark.parametrize("call", [
    "get_record", "get_status", "get_status_struct", "get_progress", "get_user",
    "get_name_label", "get_uuid", "get_error_info", "to_XML", "cancel", "destroy",
])
def test_another_users_task_is_handle_invalid(slow_root, users, call):
    _, a = users["alice"]
    _, b = users["bob"]
    vb = b.VM.create({"name_label": "bob-" + call})
    tb = b.Async.VM.set_name_label(vb, "bob-" + call + "2")
    wait_task(b, tb)
    assert failure(getattr(a.task, call), tb) == ["HANDLE_INVALID", "task", tb]
    assert b.task.get_record(tb)["status"] == "success"      # untouched


def test_another_users_task_is_hidden_from_lookups(users):
    _, a = users["alice"]
    _, b = users["bob"]
    vb = b.VM.create({"name_label": "bob-lookup"})
    tb = b.Async.VM.set_name_label(vb, "bob-lookup2")
    wait_task(b, tb)
    assert failure(a.task.get_by_uuid, tb) == ["UUID_INVALID", "task", tb]
    assert failure(a.Async.Task.GetStatus, tb) == ["HANDLE_INVALID", "task", tb]
    assert b.task.get_by_uuid(tb) == tb


def test_get_by_name_label_finds_only_the_callers_tasks(slow_root, users):
    _, a = users["alice"]
    _, b = users["bob"]
    va = a.VM.create({"name_label": "alice-byname"})
    vb = b.VM.create({"name_label": "bob-byname"})
    ta = a.Async.VM.set_name_label(va, "alice-byname2")
    tb = b.Async.VM.set_name_label(vb, "bob-byname2")
    wait_task(a, ta)
    wait_task(b, tb)
    mine_a = a.task.get_by_name_label("Async.VM.set_name_label")
    assert ta in mine_a and tb not in mine_a
    assert all(a.task.get_user(t) == "alice" for t in mine_a)
    assert {ta, tb} <= set(slow_root.task.get_by_name_label("Async.VM.set_name_label"))


def test_root_only_call_is_refused_at_once_without_a_task(users):
    ref, a = users["alice"]
    before = a.task.get_all()
    assert failure(a.Async.user.set_password, ref, "new-pw")[0] == "PERMISSION_DENIED"
    assert a.task.get_all() == before


def test_users_do_not_see_other_users_task_or_session_events(slow_daemon, slow_root, users):
    _, a = users["alice"]
    # event.from("") gives an add for every object alice may see: only her own.
    start = event_from(a, ["task", "session"], "", 0)
    for e in start["events"]:
        assert e["operation"] == "add"
        if e["class"] == "task":
            assert e["snapshot"]["user"] == "alice"
        else:
            assert e["snapshot"]["this_user"] == "alice"
    assert start["valid_ref_counts"]["task"] == len(a.task.get_all())

    wa = Watcher(a, ["task", "session"])
    wr = Watcher(slow_root, ["task", "session"])
    # bob logs in again, runs a task, destroys it and logs out
    bob2 = slow_daemon.sdk_tcp("bob", "bob-pw")
    b2 = bob2.xenapi
    bob_session = b2.session.get_all()[0]
    vb = b2.VM.create({"name_label": "bob-events"})
    tb = b2.Async.VM.set_name_label(vb, "bob-events2")
    wait_task(b2, tb)
    b2.task.destroy(tb)
    b2.session.logout()
    # then alice runs one of her own
    va = a.VM.create({"name_label": "alice-events"})
    ta = a.Async.VM.set_name_label(va, "alice-events2")
    wait_task(a, ta)

    def finished(t):
        return lambda evs: any(e["ref"] == t and e["operation"] == "mod" and
                               e["snapshot"]["status"] == "success" for e in evs)
    seen_a = wa.collect(finished(ta))
    seen_a += wa.drain(0.3)
    refs_a = {e["ref"] for e in seen_a}
    assert tb not in refs_a
    assert bob_session not in refs_a
    assert ta in refs_a
    for e in seen_a:
        if "snapshot" in e:
            assert e["snapshot"].get("user", e["snapshot"].get("this_user")) == "alice", e

    seen_r = wr.collect(lambda evs: {(tb, "add"), (tb, "del"), (bob_session, "add"),
                                     (bob_session, "del"), (ta, "add")}
                        <= {(e["ref"], e["operation"]) for e in evs})
    assert any(e["ref"] == tb and e.get("snapshot", {}).get("user") == "bob" for e in seen_r)


def test_session_events_match_session_visibility(slow_daemon, users):
    _, a = users["alice"]
    wa = Watcher(a, ["session"])
    other = slow_daemon.sdk_tcp("alice", "alice-pw")
    try:
        other_ref = other.xenapi.session.get_all()[0]
        seen = wa.drain(0.5)
        visible = set(a.session.get_all())
        for e in seen:
            assert e["ref"] in visible, (e["operation"], e["ref"], "not in", visible)
    finally:
        other.xenapi.session.logout()
    assert other_ref not in visible
