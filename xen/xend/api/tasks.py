"""Asynchronous calls (spec §1.4.3): tasks, a bounded worker pool, and their collection.

Dispatch has already checked an ``Async.`` call as it would a synchronous one
when it hands it here; ``submit`` makes the task object and queues the call.
Task records live in the store as a volatile class, so they have getters,
records and events like every other object, and every change is an event.
A task belongs to the user who made it (§1.4.3 note 3), not to the session.
The workers take waiting tasks from the users in turn (FairQueue), and each user
may have only so many pending: one user's long queue never shuts out another's.
"""

import collections
import logging
import threading
import time
import xmlrpc.client

from ..backend.base import BackendError
from ..util import progress
from . import xmltime
from .codec import failure, result_text, success
from .dispatch import loggable
from .errors import ApiError
from .handlers.base import new_ref

log = logging.getLogger("xend.tasks")

PENDING, SUCCESS, FAILURE, CANCELLING, CANCELLED = (
    "pending", "success", "failure", "cancelling", "cancelled")
FINISHED = (SUCCESS, FAILURE, CANCELLED)


class FairQueue:
    """Jobs queued per user, taken one user at a time in turn (round-robin): a user
    with many jobs waiting gets one worker's turn, not all the workers until theirs
    are done."""

    def __init__(self):
        self._queues = collections.OrderedDict()   # user -> deque of jobs; in turn order
        self._cond = threading.Condition()
        self._closed = False

    def put(self, user, job):
        with self._cond:
            self._queues.setdefault(user, collections.deque()).append(job)
            self._cond.notify()

    def get(self):
        """The next job of the user whose turn it is, waiting for one; None once the
        queue is closed and empty."""
        with self._cond:
            while not self._queues and not self._closed:
                self._cond.wait()
            if not self._queues:
                return None
            user, jobs = self._queues.popitem(last=False)
            job = jobs.popleft()
            if jobs:
                self._queues[user] = jobs   # the user's next job waits for everyone's turn
            return job

    def close(self):
        """Let the workers end once the jobs queued by now are taken."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class Tasks:
    """Runs Async calls and keeps their task objects."""

    def __init__(self, app, workers=4, max_pending=200, max_pending_per_user=50,
                 max_age=3600.0, max_finished=1000):
        self.app = app
        self.store = app.store
        self.max_pending = max_pending
        self.max_pending_per_user = max_pending_per_user
        self.max_age = max_age
        self.max_finished = max_finished
        self._queue = FairQueue()
        self._trackers = {}      # task ref -> progress.Tracker, while it runs or waits
        self._pending = collections.Counter()   # user -> their tasks that run or wait
        self._user_of = {}       # task ref -> its user, while it runs or waits
        self._replies = {}       # task ref -> the finished call's Status struct
        self._started = {}       # task ref -> monotonic start time
        self._unclaimed = set()  # tasks made by task.create that no operation drives yet
        self._lock = threading.Lock()
        self._ended = threading.Condition(self._lock)   # notified as each task finishes
        # Started last: a worker may use everything above as soon as it runs.
        self._workers = [threading.Thread(target=self._work, name="task-%d" % i, daemon=True)
                         for i in range(workers)]
        for worker in self._workers:
            worker.start()

    # -- submitting ---------------------------------------------------------

    def submit(self, call, method, args):
        """Queue ``method.impl(call, *args)``; returns the new task's ref."""
        ref, tracker = self._new(call, "Async." + method.name)
        self._queue.put(call.user, (ref, tracker, call, method, args))
        return ref

    def _new(self, call, label, description=""):
        """A new pending task of ``call``'s user, made by its session and counted against
        the limits; (ref, its tracker)."""
        user = call.user
        with self._lock:
            if len(self._trackers) >= self.max_pending:
                raise ApiError("TOO_MANY_PENDING_TASKS")
            if self._pending[user] >= self.max_pending_per_user:
                raise ApiError("TOO_MANY_PENDING_TASKS_OF_USER", user,
                               str(self.max_pending_per_user))
            ref = new_ref()
            tracker = progress.Tracker(lambda f, ref=ref: self._progress(ref, f))
            self._trackers[ref] = tracker
            self._pending[user] += 1
            self._user_of[ref] = user
        now = xmltime.stamp(time.time())
        with self.store.transaction(local=True) as txn:
            txn.create("task", ref, {
                "name_label": label, "name_description": description,
                "status": PENDING, "progress": 0.0, "ETA": "", "created": now,
                "finished": "", "result": "", "error_info": [], "user": user,
                "type": "", "session": call.session.ref})
        return ref, tracker

    # -- tasks driven by the operation that names them ----------------------------

    def create(self, call, label, description):
        """task.create: a pending task of the caller's that no worker runs; the
        operation that names it (an HTTP transfer) reports on it (``drive``)."""
        ref, _ = self._new(call, label, description)
        self._unclaimed.add(ref)
        return ref

    def drive(self, call, label, ref=""):
        """The task an operation run outside the workers reports on: the caller's task
        ``ref`` from ``create``, not yet driven, or a new one labelled ``label``
        (``ref`` empty). Returns (ref, tracker); the operation runs under the tracker
        (progress.install) and ends with ``end``. HANDLE_INVALID [task, ref] for a ref
        that is not such a task of the caller's."""
        if not ref:
            ref, tracker = self._new(call, label)
        else:
            with self._lock:
                if ref not in self._unclaimed or self._user_of.get(ref) != call.user:
                    raise ApiError("HANDLE_INVALID", "task", ref)
                self._unclaimed.discard(ref)
                tracker = self._trackers[ref]
        self._started[ref] = time.monotonic()
        tracker.begin()
        return ref, tracker

    def end(self, ref, error=None):
        """End a driven task: success, or the ApiError ``error``'s failure."""
        if error is None:
            self._finish(ref, SUCCESS, success(""))
        else:
            self._finish(ref, FAILURE, failure(error.description))

    def _work(self):
        """A worker: run the queued tasks, the users' in turn, until the queue closes."""
        while (job := self._queue.get()) is not None:
            try:
                self._run(*job)
            except Exception:   # the task's end could not be stored: keep the worker
                log.exception("task %s: its end was not recorded", job[0])

    def _run(self, ref, tracker, call, method, args):
        self._started[ref] = time.monotonic()
        progress.install(tracker)
        try:
            tracker.begin()
            value = method.impl(call, *args)
            if method.result is not None:
                value = method.result.to_wire(value)
            self._finish(ref, SUCCESS, success(value),
                         method.result.spec_name() if method.result is not None else "")
        except progress.Cancelled:
            self._finish(ref, CANCELLED, failure(["TASK_CANCELLED", ref]))
        except (ApiError, BackendError) as e:
            err = ApiError.of(e)
            # As dispatch logs a synchronous call's failure: nobody may ever ask the task.
            log.info("Async.%s (task %s): %s", method.name, ref,
                     " ".join(loggable(err.description))[:500])
            self._finish(ref, FAILURE, failure(err.description))
        except Exception as e:   # a bug in the operation: log it, never send a traceback
            log.exception("task %s (%s) failed", ref, method.name)
            self._finish(ref, FAILURE, failure(["INTERNAL_ERROR", type(e).__name__]))
        finally:
            progress.install(None)

    def _progress(self, ref, fraction):
        started = self._started.get(ref, time.monotonic())
        elapsed = time.monotonic() - started
        eta = time.time() + elapsed * (1 - fraction) / fraction if fraction > 0 else 0
        # A backend thread may report after the task finished: never overwrite the end.
        self._update(ref, {"progress": round(fraction, 4), "ETA": xmltime.stamp(eta)},
                     only_from=(PENDING, CANCELLING))

    def _finish(self, ref, status, reply, result_type=""):
        """End the task with ``reply``; ``result_type``: the spec's name of the type of
        a successful call's result (task.type), "" for none."""
        self._replies[ref] = reply
        result = ""
        if reply["Status"] == "Success":
            result = result_text(reply["Value"])
        now = xmltime.stamp(time.time())
        self._update(ref, {"status": status, "progress": 1.0, "ETA": now, "finished": now,
                           "result": result, "error_info": reply.get("ErrorDescription", []),
                           "type": result_type})
        with self._lock:
            self._trackers.pop(ref, None)
            self._started.pop(ref, None)
            user = self._user_of.pop(ref)
            self._pending[user] -= 1
            if not self._pending[user]:
                del self._pending[user]     # kept only for users with tasks pending
            self._ended.notify_all()

    def _update(self, ref, changes, only_from=None):
        """Apply ``changes`` to the task, if it still exists and, when ``only_from`` is
        given, its status is one of those: checked and written in one transaction, so
        a conditional change never lands on top of _finish's."""
        with self.store.transaction(local=True) as txn:
            if not txn.exists(ref):
                return
            if only_from is None or txn.get("task", ref).get("status") in only_from:
                txn.update("task", ref, changes)

    # -- what clients ask of tasks ---------------------------------------------

    def cancel(self, ref):
        """Cancel a pending task; OPERATION_NOT_ALLOWED where it cannot be stopped now."""
        tracker = self._trackers.get(ref)
        if tracker is None:
            raise ApiError("OPERATION_NOT_ALLOWED", "task %s has already finished" % ref)
        if not tracker.request_cancel():
            raise ApiError("OPERATION_NOT_ALLOWED",
                           "task %s is in a stage that cannot be cancelled" % ref)
        with self._lock:
            unclaimed = ref in self._unclaimed
            self._unclaimed.discard(ref)
        if unclaimed:   # made by task.create and never used: nothing else will end it
            self._finish(ref, CANCELLED, failure(["TASK_CANCELLED", ref]))
            return
        # The worker may have finished since request_cancel: a finished task stays finished
        # (an unconditional write would leave it "cancelling" for ever).
        self._update(ref, {"status": CANCELLING}, only_from=(PENDING,))

    def cancellable(self, ref):
        """Whether task.cancel of ``ref`` would be honoured now (task.allowed_operations):
        a pending task, queued or in a stage that stops when asked, not yet asked."""
        tracker = self._trackers.get(ref)
        return bool(tracker and tracker.cancellable and not tracker.cancel_requested)

    def destroy(self, ref):
        """Forget a finished task, or one made by task.create that no operation has taken
        up (the later API lets a client destroy the task it made for its own use)."""
        with self._lock:
            if ref in self._unclaimed:
                self._unclaimed.discard(ref)
                self._trackers.pop(ref)
                user = self._user_of.pop(ref)
                self._pending[user] -= 1
                if not self._pending[user]:
                    del self._pending[user]
                self._ended.notify_all()
        if ref in self._trackers:
            raise ApiError("OPERATION_NOT_ALLOWED",
                           "task %s is still running; cancel it first" % ref)
        self._replies.pop(ref, None)
        with self.store.transaction(local=True) as txn:
            if txn.exists(ref):
                txn.delete("task", ref)

    def status_struct(self, ref):
        """§1.4.3's task_status: {Progress: 0-100, ETA, Result}."""
        rec = self.store.get("task", ref)
        done = rec["status"] in FINISHED
        eta = rec.get("ETA") or xmltime.stamp(time.time())   # no estimate yet: now
        return {"Progress": 100 if done else min(int(rec["progress"] * 100), 99),
                "ETA": xmlrpc.client.DateTime(eta.rstrip("Z")),
                "Result": self._replies.get(ref, "") if done else ""}

    def wait(self, ref, timeout):
        """Wait up to ``timeout`` seconds for the task ``ref`` to finish; whether it has
        (a ref that names no running task has). Its outcome is then its record's."""
        with self._ended:
            return self._ended.wait_for(lambda: ref not in self._trackers, timeout)

    def running(self):
        return [r for r in self._trackers]

    def collect(self):
        """Forget finished tasks older than max_age, and the oldest beyond max_finished."""
        finished = [(r, rec) for r, rec in self.store.records("task")
                    if rec.get("status") in FINISHED]
        cutoff = xmltime.stamp(time.time() - self.max_age)
        old = [r for r, rec in finished if rec.get("finished", "") < cutoff]
        excess = len(finished) - len(old) - self.max_finished
        if excess > 0:
            keep = [r for r, _ in finished if r not in set(old)]
            old += keep[:excess]
        for r in old:
            self.destroy(r)
        return len(old)

    def close(self):
        """Cancel what can be cancelled and wait for the rest to finish."""
        for ref in list(self._trackers):
            try:
                self.cancel(ref)
            except ApiError:
                pass
        self._queue.close()
        for worker in self._workers:
            worker.join()
