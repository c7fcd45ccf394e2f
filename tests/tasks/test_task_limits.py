"""The task pool's limits, its fairness between users and the collection of finished tasks
(docs/api.md; config.py: task_workers, max_pending_tasks, max_pending_tasks_per_user,
task_max_age, task_max_finished)."""

import signal
import threading
import time

import pytest
import XenAPI
from harness import Daemon, Watcher, failure, make_user, wait_until
from taskutil import wait_no_running_tasks, wait_task


@pytest.fixture(scope="module")
def pool():
    """Two pending tasks at most, run one at a time, each VM operation taking 1 s."""
    d = Daemon(extra_config="max_pending_tasks = 2\ntask_workers = 1\n"
                            "sim_op_seconds = 1.0\n").start()
    s = d.sdk_unix()
    yield d, s.xenapi
    d.cleanup(signal.SIGKILL)


def test_third_pending_task_is_refused_and_nothing_starts(pool):
    _, x = pool
    vms = [x.VM.create({"name_label": "pending-%d" % i}) for i in range(3)]
    watcher = Watcher(x, ["vm/" + vms[2], "task"])
    t1 = x.Async.VM.start(vms[0], False)
    t2 = x.Async.VM.start(vms[1], False)
    # one worker: t2 waits behind t1
    rec2 = x.task.get_record(t2)
    assert rec2["status"] == "pending" and rec2["progress"] == 0.0
    assert failure(x.Async.VM.start, vms[2], False) == ["TOO_MANY_PENDING_TASKS"]
    assert set(x.task.get_all()) == {t1, t2}
    assert set(x.task.get_all_tasks()) == {t1, t2}
    # synchronous calls are not limited
    x.VM.set_name_label(vms[2], "still-halted")
    assert x.VM.get_name_label(vms[2]) == "still-halted"

    assert wait_task(x, t1)["status"] == "success"
    assert wait_task(x, t2)["status"] == "success"
    assert x.VM.get_power_state(vms[0]) == "Running"
    assert x.VM.get_power_state(vms[1]) == "Running"
    assert x.VM.get_power_state(vms[2]) == "Halted"
    events = watcher.drain(0.3)
    assert {e["ref"] for e in events} == {t1, t2, vms[2]}
    assert [e["operation"] for e in events if e["ref"] == vms[2]] == ["mod"]   # the rename
    # capacity comes back once they are finished
    wait_no_running_tasks(x)
    t3 = x.Async.VM.start(vms[2], False)
    assert wait_task(x, t3)["status"] == "success"


def test_concurrent_async_calls_beyond_the_limit(pool):
    d, x = pool
    wait_no_running_tasks(x)
    vms = [x.VM.create({"name_label": "race-%d" % i}) for i in range(3)]
    sessions = [d.sdk_unix() for _ in vms]      # the SDK Session is not thread-safe
    barrier = threading.Barrier(len(vms))
    outcome = {}

    def fire(i):
        barrier.wait()
        try:
            outcome[i] = ("task", sessions[i].xenapi.Async.VM.start(vms[i], False))
        except XenAPI.Failure as e:
            outcome[i] = ("failure", e.details)

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(len(vms))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        kinds = sorted(k for k, _ in outcome.values())
        assert kinds == ["failure", "task", "task"], outcome
        refused = [i for i, (k, _) in outcome.items() if k == "failure"][0]
        assert outcome[refused][1] == ["TOO_MANY_PENDING_TASKS"]
        for i, (k, t) in outcome.items():
            if k == "task":
                assert wait_task(x, t)["status"] == "success"
                assert x.VM.get_power_state(vms[i]) == "Running"
        assert x.VM.get_power_state(vms[refused]) == "Halted"
    finally:
        for s in sessions:
            s.xenapi.session.logout()


def test_cancel_of_a_queued_task(pool):
    _, x = pool
    wait_no_running_tasks(x)
    v1 = x.VM.create({"name_label": "runs"})
    v2 = x.VM.create({"name_label": "queued"})
    t1 = x.Async.VM.start(v1, False)
    t2 = x.Async.VM.start(v2, False)
    assert x.task.get_record(t2)["progress"] == 0.0
    x.task.cancel(t2)
    assert x.task.get_record(t2)["status"] in ("cancelling", "cancelled")
    rec2 = wait_task(x, t2)
    assert rec2["status"] == "cancelled"
    assert rec2["error_info"] == ["TASK_CANCELLED", t2]
    assert wait_task(x, t1)["status"] == "success"
    assert x.VM.get_power_state(v1) == "Running"
    assert x.VM.get_power_state(v2) == "Halted"


def test_a_user_at_their_pending_cap_neither_blocks_nor_delays_another(make_daemon):
    """alice fills her share of the queue (max_pending_tasks_per_user) and is refused
    more; bob is not, and the one worker runs bob's task before alice's last."""
    d = make_daemon(extra_config="max_pending_tasks_per_user = 3\ntask_workers = 1\n"
                                 "sim_op_seconds = 0.5\n")
    x = {}
    for name in ("alice", "bob"):
        make_user(d.api, name, name + "-pw")
        x[name] = d.sdk_tcp(name, name + "-pw").xenapi
    vms = {name: [x[name].VM.create({"name_label": "%s-%d" % (name, i)}) for i in range(4)]
           for name in x}
    watcher = Watcher(d.api, ["task"])
    alices = [x["alice"].Async.VM.start(vms["alice"][0], False)]
    wait_until(lambda: x["alice"].task.get_progress(alices[0]) > 0, 30,
               "alice's first task to hold the worker")
    alices += [x["alice"].Async.VM.start(vm, False) for vm in vms["alice"][1:3]]
    assert failure(x["alice"].Async.VM.start, vms["alice"][3], False) == [
        "TOO_MANY_PENDING_TASKS_OF_USER", "alice", "3"]
    bobs = x["bob"].Async.VM.start(vms["bob"][0], False)

    def succeeded(events):
        return [e["ref"] for e in events
                if e["operation"] == "mod" and e["snapshot"]["status"] == "success"]
    events = watcher.collect(lambda evs: len(succeeded(evs)) == 4)
    assert succeeded(events) == [alices[0], alices[1], bobs, alices[2]]
    assert x["alice"].VM.get_power_state(vms["alice"][3]) == "Halted"


# -- collection -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def collecting():
    d = Daemon(extra_config="task_max_age = 1.0\nsampler_interval = 0.2\n"
                            "sim_op_seconds = 2.0\n").start()
    s = d.sdk_unix()
    yield d, s.xenapi
    d.cleanup(signal.SIGKILL)


def test_finished_tasks_are_collected_after_task_max_age(collecting):
    _, x = collecting
    vm = x.VM.create({"name_label": "collect-me"})
    watcher = Watcher(x, ["task"])
    tasks = [x.Async.VM.set_name_label(vm, "n%d" % i) for i in range(3)]
    for t in tasks:
        assert wait_task(x, t)["status"] == "success"
    wait_until(lambda: not set(tasks) & set(x.task.get_all()), 15,
               "finished tasks to be collected")
    for t in tasks:
        assert failure(x.task.get_record, t) == ["HANDLE_INVALID", "task", t]
    events = watcher.collect(lambda evs: {t for t in tasks} <= {
        e["ref"] for e in evs if e["operation"] == "del"})
    assert all("snapshot" not in e for e in events if e["operation"] == "del")


def test_a_running_task_is_not_collected(collecting):
    _, x = collecting
    vm = x.VM.create({"name_label": "long-runner"})
    task = x.Async.VM.start(vm, False)       # 2 s, longer than task_max_age
    time.sleep(1.5)                          # several sampler rounds past max age
    assert task in x.task.get_all()
    assert x.task.get_record(task)["status"] == "pending"
    assert wait_task(x, task)["status"] == "success"
    wait_until(lambda: task not in x.task.get_all(), 15, "collection")


def test_finished_tasks_beyond_task_max_finished_are_collected_oldest_first():
    d = Daemon(extra_config="task_max_finished = 2\nsampler_interval = 0.2\n").start()
    try:
        x = d.sdk_unix().xenapi
        vm = x.VM.create({"name_label": "many"})
        tasks = []
        for i in range(5):
            tasks.append(x.Async.VM.set_name_label(vm, "m%d" % i))
            wait_task(x, tasks[-1])
        wait_until(lambda: len(x.task.get_all()) <= 2, 15, "collection")
        time.sleep(0.5)                      # a few more rounds change nothing
        assert x.task.get_all() == tasks[-2:]
    finally:
        d.cleanup(signal.SIGKILL)
