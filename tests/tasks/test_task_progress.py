"""Tasks of long operations: §1.4.3's polling calls, get_status's XML, progress and cancel.

``slow_daemon`` makes every simulated VM operation take 1 s in ten steps, each a
safe point for cancellation that reports progress.
"""

import io
import os
import re
import xmlrpc.client

import pytest
import XenAPI
from harness import (
    FINISHED,
    MIB,
    STATE_WAIT,
    Watcher,
    failure,
    make_user,
    new_vbd,
    new_vdi,
    unique,
    wait_until,
)
from lxml import etree
from taskutil import raw_login, served_dtd, wait_task


@pytest.fixture(scope="module")
def raw(slow_daemon, slow_root):
    """A plain xmlrpc.client proxy and session of an ordinary user, over TCP."""
    make_user(slow_root, "plain", "plain-pw")
    return raw_login(slow_daemon, "plain", "plain-pw")


def _ok(reply):
    assert set(reply) == {"Status", "Value"}, reply
    assert reply["Status"] == "Success", reply
    return reply["Value"]


# -- §1.4.3 exactly as printed, with plain xmlrpc.client ---------------------------

def test_async_task_getstatus_and_getalltasks_on_the_wire(raw):
    proxy, s = raw
    vm = _ok(proxy.VM.create(s, {"name_label": "raw-vm"}))
    task = _ok(proxy.Async.VM.start(s, vm, False))

    seen = []
    while True:
        executing = _ok(proxy.Async.Task.GetAllTasks(s))
        status = _ok(proxy.Async.Task.GetStatus(s, task))
        assert set(status) == {"Progress", "ETA", "Result"}
        assert type(status["Progress"]) is int
        assert 0 <= status["Progress"] <= 100
        assert isinstance(status["ETA"], xmlrpc.client.DateTime)
        seen.append(status["Progress"])
        if status["Progress"] == 100:
            break
        assert status["Result"] == ""
        assert task in executing      # still running now, so it was a moment ago
    assert seen == sorted(seen)
    assert any(0 < p < 100 for p in seen), seen     # it was polled while running
    assert status["Result"] == {"Status": "Success", "Value": ""}
    assert task not in _ok(proxy.Async.Task.GetAllTasks(s))
    assert _ok(proxy.VM.get_power_state(s, vm)) == "Running"

    # A call that cannot succeed fails at once, in the same struct, with no task.
    reply = proxy.Async.VM.start(s, vm, False)
    assert reply == {"Status": "Failure",
                     "ErrorDescription": ["VM_BAD_POWER_STATE", vm, "Halted", "Running"]}
    assert _ok(proxy.task.get_all(s)) == [task]


def test_async_task_getstatus_of_a_failed_task_carries_the_failure(raw):
    proxy, s = raw
    vm = _ok(proxy.VM.create(s, {"name_label": "raw-busy"}))
    first = _ok(proxy.Async.VM.start(s, vm, False))
    second = _ok(proxy.Async.VM.start(s, vm, False))
    status = wait_until(lambda: (lambda st: st if st["Progress"] == 100 else None)(
        _ok(proxy.Async.Task.GetStatus(s, second))), STATE_WAIT, "second task")
    assert status["Result"] == {"Status": "Failure",
                                "ErrorDescription": ["OTHER_OPERATION_IN_PROGRESS", "VM", vm]}
    wait_until(lambda: _ok(proxy.Async.Task.GetStatus(s, first))["Progress"] == 100,
               STATE_WAIT, "the first task")


# -- task.get_status: the draft's XML string ------------------------------------------------------

def _task_children_from_dtd(dtd_text):
    m = re.search(r"<!ELEMENT task \(([^)]*)\)>", dtd_text)
    assert m, "the DTD declares no task element"
    return [c.strip() for c in m.group(1).split(",")]


def test_get_status_is_the_tasks_xml(slow_daemon, slow_root):
    x = slow_root
    vm = x.VM.create({"name_label": "xml-vm"})
    task = x.Async.VM.start(vm, False)
    running = etree.fromstring(x.task.get_status(task).encode("utf-8"))
    rec = wait_task(x, task)
    done = etree.fromstring(x.task.get_status(task).encode("utf-8"))
    order = _task_children_from_dtd(served_dtd(slow_daemon))
    for doc in (running, done):
        assert doc.tag == "task"
        assert [c.tag for c in doc] == order
        assert doc.findtext("uuid") == task
        assert doc.findtext("name_label") == "Async.VM.start"
        assert doc.findtext("user") == "root"
    assert running.findtext("status") in ("pending", "success")
    assert 0.0 <= float(running.findtext("progress")) <= 1.0
    assert done.findtext("status") == "success"
    assert float(done.findtext("progress")) == 1.0
    assert done.findtext("ETA")                      # "including estimated completion time"
    assert done.findtext("finished") == rec["finished"].value + "Z"


def test_get_status_xml_is_valid_against_the_served_dtd(slow_daemon, slow_root):
    x = slow_root
    dtd = etree.DTD(io.StringIO(served_dtd(slow_daemon)))
    vm = x.VM.create({"name_label": "dtd-vm"})
    ok = x.Async.VM.start(vm, False)
    running = x.task.get_status(ok)
    failed = x.Async.VM.start(vm, False)          # OTHER_OPERATION_IN_PROGRESS
    wait_task(x, ok)
    assert wait_task(x, failed)["status"] == "failure"
    for text in (running, x.task.get_status(ok), x.task.get_status(failed)):
        doc = etree.fromstring(text.encode("utf-8"))
        assert dtd.validate(doc), (text, str(dtd.error_log))


def test_unset_task_datetimes_are_still_datetimes(slow_root):
    x = slow_root
    vm = x.VM.create({"name_label": "datetimes"})
    task = x.Async.VM.start(vm, False)
    rec = x.task.get_record(task)
    assert rec["status"] == "pending"
    for field in ("created", "finished", "ETA"):
        assert isinstance(rec[field], xmlrpc.client.DateTime), (field, rec[field])
    assert isinstance(x.task.get_finished(task), xmlrpc.client.DateTime)
    wait_task(x, task)


# -- progress -------------------------------------------------------------------------------------

def _task_events(x, start):
    """Call ``start()``, which returns a new task, and follow that task's events until it
    has finished: (task, its events)."""
    watcher = Watcher(x, ["task"])
    task = start()
    events = watcher.collect(lambda evs: any(
        e["ref"] == task and e["operation"] == "mod" and
        e["snapshot"]["status"] in FINISHED for e in evs))
    mine = [e for e in events if e["ref"] == task]
    assert [e for e in watcher.drain(0.2) if e["ref"] == task] == []
    return task, mine


def _assert_progress(mine, stages):
    """The task's events: added pending at 0, monotonic, at least ``stages`` distinct
    figures strictly between 0 and 1, each with an ETA, then 1.0 exactly once, at success.
    Returns the progress figures."""
    assert mine[0]["operation"] == "add"
    assert mine[0]["snapshot"]["status"] == "pending"
    assert mine[0]["snapshot"]["progress"] == 0.0
    progress = [e["snapshot"]["progress"] for e in mine]
    assert all(0.0 <= p <= 1.0 for p in progress), progress
    assert progress == sorted(progress), progress
    assert len({p for p in progress if 0.0 < p < 1.0}) >= stages, progress
    assert progress.count(1.0) == 1, progress
    assert progress[-1] == 1.0
    assert mine[-1]["snapshot"]["status"] == "success"
    assert all(e["snapshot"]["status"] == "pending" for e in mine[:-1])
    # An estimate with every figure reported (unset, a DateTime travels as the epoch).
    for e in mine[1:]:
        eta = e["snapshot"]["ETA"]
        assert isinstance(eta, xmlrpc.client.DateTime) and not eta.value.startswith("1970"), e
    return progress


def test_progress_is_monotonic_and_reaches_one_exactly_once(slow_root):
    x = slow_root
    vm = x.VM.create({"name_label": "progress-vm"})
    _, mine = _task_events(x, lambda: x.Async.VM.start(vm, False))
    _assert_progress(mine, stages=5)          # it moved in steps while running


@pytest.mark.parametrize("disks", [0, 2])
def test_clone_progress(slow_root, disks):
    """A clone's stages: claiming the VM, each disk's snapshot, the records' commit (a
    stage of its own even without disks), the new VM's state."""
    x = slow_root
    vm = x.VM.create({"name_label": "clone-src"})
    for i in range(disks):
        new_vbd(x, vm, new_vdi(x, size=MIB), device="xvd" + "ab"[i])
    task, mine = _task_events(x, lambda: x.Async.VM.clone(vm, "a clone"))
    _assert_progress(mine, stages=3 + disks)
    clone = x.task.get_result(task)          # the new VM's ref
    assert x.VM.get_name_label(clone) == "a clone"
    assert len(x.VM.get_VBDs(clone)) == disks


def test_vdi_snapshot_progress(slow_root):
    x = slow_root
    vdi = new_vdi(x, size=MIB)
    _, mine = _task_events(x, lambda: x.Async.VDI.snapshot(vdi))
    _assert_progress(mine, stages=1)          # frozen, then the snapshot's overlay
    assert len(x.VDI.get_all_records()) >= 2


def test_sr_clone_progress(slow_daemon, slow_root):
    x = slow_root
    sr = x.SR.create({"name_label": unique("sr"),
                      "location": os.path.join(slow_daemon.dir, unique("sr"))})
    new_vdi(x, sr=sr, size=MIB)
    loc = os.path.join(slow_daemon.dir, unique("copy"))
    _, mine = _task_events(x, lambda: x.Async.SR.clone(sr, loc, "copy"))
    _assert_progress(mine, stages=2)          # copying the images, then the records
    assert len(x.SR.get_VDIs(x.SR.get_by_name_label("copy")[0])) == 1


def test_progress_polled_with_get_record(slow_root):
    x = slow_root
    vm = x.VM.create({"name_label": "poll-vm"})
    task = x.Async.VM.start(vm, False)
    seen = []
    while True:
        rec = x.task.get_record(task)
        seen.append((rec["progress"], rec["status"]))
        if rec["status"] in FINISHED:
            break
        assert rec["progress"] < 1.0
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)
    assert seen[-1] == (1.0, "success")
    assert any(0.0 < p < 1.0 for p, _ in seen)


# -- cancel ---------------------------------------------------------------------------------------

def _running_progress(x, task):
    # 0.05 is reported before the backend's work begins; only a figure above it says the
    # task is inside the work, where a cancel is honoured.
    wait_until(lambda: x.task.get_progress(task) > 0.05, STATE_WAIT, "task progress")


@pytest.mark.parametrize("setup, op, args, state", [
    ([], "start", [False], "Halted"),
    (["start"], "clean_shutdown", [], "Running"),
    (["start"], "suspend", [False], "Running"),
    (["start"], "pause", [], "Running"),
])
def test_cancel_of_a_long_operation(slow_root, setup, op, args, state):
    x = slow_root
    vm = x.VM.create({"name_label": "cancel-" + op})
    for step in setup:
        getattr(x.VM, step)(vm, *([False] if step == "start" else []))
    before = x.VM.get_record(vm)
    assert before["power_state"] == state
    task = getattr(x.Async.VM, op)(vm, *args)
    _running_progress(x, task)
    x.task.cancel(task)
    assert x.task.get_status_struct(task)["Progress"] in range(0, 101)
    rec = wait_task(x, task)
    assert rec["status"] == "cancelled"
    assert rec["error_info"] == ["TASK_CANCELLED", task]
    assert rec["result"] == ""
    assert rec["progress"] == 1.0
    assert x.Async.Task.GetStatus(task)["Result"] == {
        "Status": "Failure", "ErrorDescription": ["TASK_CANCELLED", task]}
    after = x.VM.get_record(vm)
    assert after["power_state"] == state
    assert after["resident_on"] == before["resident_on"]
    if state == "Halted":       # nothing is left claiming the VM
        x.VM.start(vm, False)
        assert x.VM.get_power_state(vm) == "Running"


def test_cancel_or_destroy_of_a_finished_task(slow_root):
    x = slow_root
    vm = x.VM.create({"name_label": "finished"})
    task = x.Async.VM.set_name_label(vm, "finished2")
    assert wait_task(x, task)["status"] == "success"
    assert failure(x.task.cancel, task)[0] == "OPERATION_NOT_ALLOWED"
    assert x.task.get_status(task)     # still there, unchanged
    assert x.task.get_record(task)["status"] == "success"
    x.task.destroy(task)
    assert task not in x.task.get_all()


def test_destroy_of_a_running_task_is_refused(slow_root):
    x = slow_root
    vm = x.VM.create({"name_label": "running"})
    task = x.Async.VM.start(vm, False)
    err = failure(x.task.destroy, task)
    assert err[0] == "OPERATION_NOT_ALLOWED"
    assert task in x.task.get_all()
    assert wait_task(x, task)["status"] == "success"
    assert x.VM.get_power_state(vm) == "Running"
    x.task.destroy(task)
    assert task not in x.task.get_all()


def test_cancel_of_a_cancelled_task_is_refused(slow_root):
    x = slow_root
    vm = x.VM.create({"name_label": "cancel-twice"})
    task = x.Async.VM.start(vm, False)
    _running_progress(x, task)
    x.task.cancel(task)
    assert wait_task(x, task)["status"] == "cancelled"
    assert failure(x.task.cancel, task)[0] == "OPERATION_NOT_ALLOWED"
    x.task.destroy(task)
    assert x.VM.get_power_state(vm) == "Halted"


def test_an_accepted_cancel_is_honoured(slow_root):
    x = slow_root
    for attempt in range(3):
        vm = x.VM.create({"name_label": "late-cancel"})
        watcher = Watcher(x, ["task"])
        task = x.Async.VM.start(vm, False)
        # The sim runs 10 steps of 0.1 s: checkpoint, sleep, report 0.09 * (step + 1).
        # 0.81 is reported after step 8; step 9's checkpoint follows at once, then 0.1 s
        # of work with no safe point left.
        watcher.collect(lambda evs: any(e["ref"] == task and e["operation"] == "mod" and
                                        e["snapshot"]["progress"] >= 0.8 for e in evs))
        try:
            x.task.cancel(task)
            accepted = True
        except XenAPI.Failure as e:
            assert e.details[0] == "OPERATION_NOT_ALLOWED"
            if "finished" in " ".join(e.details):
                continue        # too late to tell anything: the task had finished
            accepted = False
        rec = wait_task(x, task)
        if accepted:
            assert (rec["status"], x.VM.get_power_state(vm)) == ("cancelled", "Halted")
        else:
            assert (rec["status"], x.VM.get_power_state(vm)) == ("success", "Running")
        return
    pytest.skip("the cancel never arrived before the task finished")
