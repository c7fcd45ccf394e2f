"""A failed Async call is logged like a failed synchronous one: one info line with its
error code and parameters, session refs blanked (xen/xend/api/tasks.py)."""

import logging
import types

import pytest
from harness import STATE_WAIT, wait_until

from xen.xend.api.errors import ApiError
from xen.xend.api.tasks import FAILURE, Tasks
from xen.xend.backend.base import BackendError
from xen.xend.state.store import Store

CALL = types.SimpleNamespace(user="root", is_root=True, session=types.SimpleNamespace(ref="s"))


@pytest.fixture
def tasks():
    t = Tasks(types.SimpleNamespace(store=Store(None, ["task"])), workers=1)
    yield t
    t.close()


def _fail_with(tasks, error):
    def impl(call):
        raise error
    ref = tasks.submit(CALL, types.SimpleNamespace(name="VM.start", impl=impl, result=None), [])
    wait_until(lambda: tasks.store.get("task", ref)["status"] == FAILURE,
               STATE_WAIT, "the task to fail")
    return ref


def _lines(caplog):
    return [r.getMessage() for r in caplog.records
            if r.name == "xend.tasks" and r.levelno == logging.INFO]


def test_a_failed_task_is_logged_at_info_with_its_code(tasks, caplog):
    caplog.set_level(logging.INFO, logger="xend.tasks")
    ref = _fail_with(tasks, BackendError("VALUE_NOT_SUPPORTED", "kernel/kernel", "/no/k",
                                         "no such file on the host"))
    assert _lines(caplog) == ["Async.VM.start (task %s): VALUE_NOT_SUPPORTED kernel/kernel "
                              "/no/k no such file on the host" % ref]


def test_a_session_in_a_task_error_is_not_logged(tasks, caplog):
    caplog.set_level(logging.INFO, logger="xend.tasks")
    _fail_with(tasks, ApiError("SESSION_INVALID", "OpaqueRef:secret-session"))
    (line,) = _lines(caplog)
    assert "secret-session" not in line and "SESSION_INVALID (session)" in line
