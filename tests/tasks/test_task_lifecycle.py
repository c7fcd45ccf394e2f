"""Async calls and their tasks (§1.4.3, §2.5; docs/api.md "Asynchronous calls and tasks").

Through the XenAPI SDK against a real daemon with the sim backend. The default
daemon's operations are instantaneous; ``slow_daemon`` makes each one take 1 s.
"""

import os
import xmlrpc.client

import pytest
from harness import failure, wait_until
from taskutil import wait_task


def _new_vm(x, name="vm"):
    return x.VM.create({"name_label": name})


# -- to success -----------------------------------------------------------------------------------

def test_async_start_returns_a_task_that_succeeds(daemon, root):
    vm = _new_vm(root, "async-ok")
    task = root.Async.VM.start(vm, False)
    assert isinstance(task, str) and task
    assert task in root.task.get_all()

    rec = wait_task(root, task)
    assert rec["status"] == "success"
    assert rec["result"] == ""              # VM.start is void
    assert rec["error_info"] == []
    assert rec["progress"] == 1.0
    assert rec["name_label"] == "Async.VM.start"
    assert rec["user"] == "root"
    assert rec["uuid"] == task
    assert isinstance(rec["created"], xmlrpc.client.DateTime)
    assert isinstance(rec["finished"], xmlrpc.client.DateTime)
    assert rec["finished"].value >= rec["created"].value
    assert root.VM.get_power_state(vm) == "Running"
    assert root.VM.get_resident_on(vm) in root.host.get_all()
    wait_until(lambda: task not in root.task.get_all_tasks(), 30,
               "the finished task to leave get_all_tasks")

    # §1.4.3: at Progress 100, Result is the finished call's whole Status struct.
    status = root.Async.Task.GetStatus(task)
    assert status["Progress"] == 100
    assert status["Result"] == {"Status": "Success", "Value": ""}
    root.VM.hard_shutdown(vm)


def test_async_call_with_a_result_puts_it_in_the_task(daemon, root):
    vm = _new_vm(root, "to-clone")
    task = root.Async.VM.clone(vm, "the-clone")
    rec = wait_task(root, task)
    assert rec["status"] == "success", rec
    clone = rec["result"]
    assert root.VM.get_name_label(clone) == "the-clone"
    assert root.Async.Task.GetStatus(task)["Result"] == {"Status": "Success", "Value": clone}


# -- failing at once: no task ---------------------------------------------------------------------

def test_async_start_of_a_running_vm_fails_at_once_without_a_task(daemon, root):
    vm = _new_vm(root, "already-running")
    root.VM.start(vm, False)
    before = set(root.task.get_all())
    assert failure(root.Async.VM.start, vm, False) == [
        "VM_BAD_POWER_STATE", vm, "Halted", "Running"]
    assert set(root.task.get_all()) == before
    assert root.VM.get_power_state(vm) == "Running"
    root.VM.hard_shutdown(vm)


@pytest.mark.parametrize("method, args, code", [
    ("VM.start", ["11111111-1111-1111-1111-111111111111", False], "HANDLE_INVALID"),
    ("VM.start", [], "MESSAGE_PARAMETER_COUNT_MISMATCH"),
    ("VM.set_name_label", ["__VM__", 42], "FIELD_TYPE_ERROR"),
    ("VM.set_user_version", ["__VM__", "99999999999999999999"], "INVALID_VALUE"),
    ("VM.destroy", ["__TASK__"], "HANDLE_INVALID"),
    ("VM.no_such_call", ["__VM__"], "MESSAGE_METHOD_UNKNOWN"),
    ("VM.set_power_state", ["__VM__", "Running"], "FIELD_READ_ONLY"),
])
def test_async_call_failing_dispatch_checks_fails_like_sync_and_makes_no_task(
        daemon, root, method, args, code):
    vm = _new_vm(root, "checked")
    done = root.Async.VM.set_name_label(vm, "checked")      # a finished task to refer to
    wait_task(root, done)
    subst = {"__VM__": vm, "__TASK__": done}
    args = [subst.get(a, a) if isinstance(a, str) else a for a in args]
    before = set(root.task.get_all())

    def rpc(name):
        fn = root
        for part in name.split("."):
            fn = getattr(fn, part)
        return fn

    sync_err = failure(rpc(method), *args)
    assert sync_err[0] == code, sync_err
    async_err = failure(rpc("Async." + method), *args)
    if code == "MESSAGE_METHOD_UNKNOWN":
        assert async_err == ["MESSAGE_METHOD_UNKNOWN", "Async." + method]
    else:
        assert async_err == sync_err
    assert set(root.task.get_all()) == before
    assert root.VM.get_name_label(vm) == "checked"


@pytest.mark.parametrize("method, args", [
    ("Async.task.get_record", ["__TASK__"]),
    ("Async.task.cancel", ["__TASK__"]),
    ("Async.session.logout", []),
    ("Async.event.register", [["vm"]]),
])
def test_session_task_and_event_calls_have_no_async_form(daemon, root, method, args):
    vm = _new_vm(root, "no-async")
    done = root.Async.VM.set_name_label(vm, "no-async")
    wait_task(root, done)
    args = [done if a == "__TASK__" else a for a in args]
    before = set(root.task.get_all())
    fn = root
    for part in method.split("."):
        fn = getattr(fn, part)
    assert failure(fn, *args) == ["MESSAGE_METHOD_UNKNOWN", method]
    assert set(root.task.get_all()) == before
    root.session.get_uuid(root.session.get_all()[0])   # the session is still fine


# -- failing while running ------------------------------------------------------------------------

def test_resume_without_state_file_fails_in_the_task(daemon, root):
    vm = _new_vm(root, "lost-state")
    root.VM.start(vm, False)
    root.VM.suspend(vm, False)
    assert root.VM.get_power_state(vm) == "Suspended"
    path = os.path.join(daemon.state_dir, "vms", vm, "suspend.state")
    assert os.path.exists(path)
    os.unlink(path)

    task = root.Async.VM.resume(vm, False)       # dispatch cannot know: a task is made
    rec = wait_task(root, task)
    assert rec["status"] == "failure"
    assert rec["error_info"] == ["VM_STATE_FILE_MISSING", path]
    assert rec["result"] == ""
    assert rec["progress"] == 1.0
    assert root.VM.get_power_state(vm) == "Suspended"
    status = root.Async.Task.GetStatus(task)
    assert status["Progress"] == 100
    assert status["Result"] == {"Status": "Failure",
                                "ErrorDescription": ["VM_STATE_FILE_MISSING", path]}
    root.VM.hard_shutdown(vm)


def test_failure_of_a_second_operation_on_a_busy_vm(slow_daemon, slow_root):
    x = slow_root
    vm = _new_vm(x, "busy")
    first = x.Async.VM.start(vm, False)
    second = x.Async.VM.start(vm, False)       # Halted at dispatch: accepted
    recs = {t: wait_task(x, t) for t in (first, second)}
    assert recs[first]["status"] == "success"
    assert recs[second]["status"] == "failure"
    assert recs[second]["error_info"] == ["OTHER_OPERATION_IN_PROGRESS", "VM", vm]
    assert x.VM.get_power_state(vm) == "Running"
    x.VM.hard_shutdown(vm)


def test_two_vms_started_at_once_cannot_both_get_a_disk_only_one_may_write(
        slow_daemon, slow_root):
    """Both are Halted when the calls arrive; the second start to look at the disk sees
    that the first, still starting, holds it: VDI_IN_USE, not the hypervisor's failure."""
    x = slow_root
    vdi = x.VDI.create({"name_label": "one writer", "SR": x.SR.get_all()[0],
                        "virtual_size": "2048", "sharable": False, "read_only": False})
    vms = [_new_vm(x, "writer") for _ in range(2)]
    for vm in vms:
        x.VBD.create({"VM": vm, "VDI": vdi, "device": "xvda", "mode": "RW",
                      "driver": "paravirtualised"})
    tasks = [x.Async.VM.start(vm, False) for vm in vms]
    recs = [wait_task(x, t) for t in tasks]
    assert sorted(r["status"] for r in recs) == ["failure", "success"], recs
    failed = next(r for r in recs if r["status"] == "failure")
    assert failed["error_info"] == ["VDI_IN_USE", vdi, "attach"]
    assert sorted(x.VM.get_power_state(vm) for vm in vms) == ["Halted", "Running"]
    for vm in vms:
        if x.VM.get_power_state(vm) == "Running":
            x.VM.hard_shutdown(vm)


# -- destroy --------------------------------------------------------------------------------------

def test_destroy_of_a_finished_task_removes_it(daemon, root):
    vm = _new_vm(root, "destroy-me")
    task = root.Async.VM.set_name_label(vm, "renamed")
    wait_task(root, task)
    assert root.VM.get_name_label(vm) == "renamed"
    root.task.destroy(task)
    assert task not in root.task.get_all()
    assert task not in root.task.get_all_records()
    assert failure(root.task.get_record, task)[:1] == ["HANDLE_INVALID"]
    assert failure(root.task.get_status, task)[:1] == ["HANDLE_INVALID"]
    assert failure(root.Async.Task.GetStatus, task)[:1] == ["HANDLE_INVALID"]
    assert failure(root.task.destroy, task)[:1] == ["HANDLE_INVALID"]


def test_task_objects_are_made_by_the_daemon(daemon, root):
    # task.create takes a label and a description (the later API's), never a record.
    assert failure(root.task.create, {"name_label": "mine"})[0] == \
        "MESSAGE_PARAMETER_COUNT_MISMATCH"
    vm = _new_vm(root, "ro-fields")
    task = root.Async.VM.set_name_label(vm, "x")
    wait_task(root, task)
    assert failure(root.task.set_status, task, "pending")[0] == "FIELD_READ_ONLY"
    assert root.task.get_status_struct(task)["Progress"] == 100


def test_a_created_task_waits_for_its_operation_and_can_be_cancelled(daemon, root):
    """task.create: a pending task that nothing runs until an operation names it (an
    HTTP disk transfer's task_id); cancelled unused, it ends cancelled."""
    task = root.task.create("upload", "a disk image")
    rec = root.task.get_record(task)
    assert (rec["status"], rec["name_label"], rec["name_description"]) == \
        ("pending", "upload", "a disk image")
    assert task in root.task.get_all_tasks()
    root.task.cancel(task)
    assert root.task.get_record(task)["status"] == "cancelled"
    root.task.destroy(task)


def test_a_created_task_nothing_took_up_may_be_destroyed_pending(daemon, root):
    """The later API's clients destroy the task they made for their own use, pending or
    not (the SDK's export example does)."""
    task = root.task.create("export", "mine")
    assert root.task.get_status(task).startswith("<task>")     # pending, made
    root.task.destroy(task)
    assert task not in root.task.get_all()
    assert failure(root.task.get_record, task)[0] == "HANDLE_INVALID"
