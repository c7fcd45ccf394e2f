"""Tasks (xen/xend/api/tasks.py) in process: a cancel racing the worker's end, made to happen;
the users' queued tasks taken in turn, and each user's pending cap.

The Tasks object runs on a memory-only store with one worker; the operation is a plain
function that waits inside a cancellable region until the test lets it go.
"""

import threading
import types

import pytest
from harness import STATE_WAIT, wait_until

from xen.xend.api.errors import ApiError
from xen.xend.api.tasks import CANCELLED, CANCELLING, FINISHED, Tasks
from xen.xend.state.store import Store
from xen.xend.util import progress

CALL = types.SimpleNamespace(user="root", is_root=True, session=types.SimpleNamespace(ref="s"))


@pytest.fixture
def tasks():
    t = Tasks(types.SimpleNamespace(store=Store(None, ["task"])), workers=1, max_finished=0)
    yield t
    t.close()


@pytest.fixture
def blocked(tasks):
    """A submitted task parked in a cancellable region: (ref, release event)."""
    entered, release = threading.Event(), threading.Event()

    def impl(call):
        with progress.cancellable():    # its end is the safe point that honours a cancel
            entered.set()
            release.wait(20)

    method = types.SimpleNamespace(name="thing.wait", impl=impl, result=None)
    ref = tasks.submit(CALL, method, [])
    assert entered.wait(20)
    yield ref, release
    release.set()


def _status(tasks, ref):
    return tasks.store.get("task", ref)["status"]


def test_a_cancel_shows_cancelling_until_the_safe_point(tasks, blocked):
    ref, release = blocked
    tasks.cancel(ref)
    assert _status(tasks, ref) == CANCELLING
    assert tasks.status_struct(ref)["Progress"] < 100
    release.set()
    wait_until(lambda: _status(tasks, ref) == CANCELLED, STATE_WAIT, "the task to end cancelled")


def test_a_worker_finishing_inside_cancel_leaves_the_task_finished(tasks, blocked, monkeypatch):
    """The worker ends between request_cancel and cancel's status write: that write must
    not turn the finished task back into "cancelling" (which would never end)."""
    ref, release = blocked
    tracker = tasks._trackers[ref]
    accept = tracker.request_cancel

    def accept_then_let_the_worker_finish():
        accepted = accept()
        release.set()
        wait_until(lambda: ref not in tasks._trackers, STATE_WAIT, "the worker's _finish")
        return accepted
    monkeypatch.setattr(tracker, "request_cancel", accept_then_let_the_worker_finish)

    tasks.cancel(ref)
    assert _status(tasks, ref) == CANCELLED
    status = tasks.status_struct(ref)
    assert status["Progress"] == 100
    assert status["Result"] == {"Status": "Failure", "ErrorDescription": ["TASK_CANCELLED", ref]}
    assert tasks.collect() == 1          # finished, so collected (max_finished=0)
    assert tasks.store.get("task", ref) is None


def test_a_late_progress_report_never_rewrites_a_finished_task(tasks, blocked):
    ref, release = blocked
    report = tasks._trackers[ref].report    # what a backend thread holds (progress.reporter)
    release.set()
    wait_until(lambda: ref not in tasks._trackers, STATE_WAIT, "the task to finish")
    report(0.5)
    rec = tasks.store.get("task", ref)
    assert (rec["status"], rec["progress"]) == ("success", 1.0)


def _as(user):
    return types.SimpleNamespace(user=user, is_root=user == "root",
                                 session=types.SimpleNamespace(ref="s-" + user))


def _recording(ran):
    """A method whose every call appends its caller's user to ``ran``."""
    return types.SimpleNamespace(name="thing.note", result=None,
                                 impl=lambda call: ran.append(call.user))


def _all_finished(tasks, refs):
    wait_until(lambda: all(_status(tasks, r) in FINISHED for r in refs), STATE_WAIT,
               "the tasks to finish")


def test_the_worker_takes_the_users_waiting_tasks_in_turn(tasks, blocked):
    """alice queued three tasks before bob's one, behind a task that holds the only
    worker: bob's runs after alice's first, not after all of hers."""
    ref, release = blocked
    ran = []
    refs = [tasks.submit(_as(user), _recording(ran), [])
            for user in ("alice", "alice", "alice", "bob")]
    release.set()
    _all_finished(tasks, refs)
    assert ran == ["alice", "bob", "alice", "alice"]


def test_a_user_at_their_pending_cap_is_refused_and_others_are_not(tasks, blocked):
    ref, release = blocked                     # root's first pending task
    tasks.max_pending_per_user = 2
    ran = []
    second = tasks.submit(CALL, _recording(ran), [])
    with pytest.raises(ApiError) as refused:
        tasks.submit(CALL, _recording(ran), [])
    assert refused.value.description == ["TOO_MANY_PENDING_TASKS_OF_USER", "root", "2"]
    alices = tasks.submit(_as("alice"), _recording(ran), [])
    release.set()
    _all_finished(tasks, [ref, second, alices])
    again = tasks.submit(CALL, _recording(ran), [])   # root's tasks are done: room again
    _all_finished(tasks, [again])
    assert sorted(ran) == ["alice", "root", "root"]
