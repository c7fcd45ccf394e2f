"""Which calls another member of the pool carries out (docs/pool.md, "Host-to-host
calls"): a call that acts on a guest is made by the daemon of the host the guest is
resident on, since only that host's backend has the guest.

The calls are derived from the datamodel, never listed by hand:

* every VM lifecycle operation (a message with ``lifecycle``: its first parameter is
  the VM) on a VM ``resident_on`` another member (pause, shutdowns, reboots, suspend,
  live changes, debugging, save, migrate, ...; a halted VM is resident nowhere, so its
  start, clone or delete runs where it is called);
* on a device class (one with a ``VM`` field and messages whose names are changes
  ``lifecycle.STILL`` governs in a guest: VBD and VIF), those messages (``VBD.plug``,
  ``VBD.unplug``, ``VBD.media_change``, ``VIF.plug``, ``VIF.unplug``) and its
  ``create``, ``delete`` and ``destroy`` (which plug into and out of a resident guest),
  for a device of such a VM.

``resident_host`` answers where; dispatch (api/dispatch.py) then binds the call to the
pool channel's ``forward`` instead of its implementation, so that an ``Async.`` call's
task stays on the host the client called and its worker forwards the sync call.
"""

import time

from ..util import progress
from . import datamodel, lifecycle
from .codec import result_value
from .errors import ApiError


def _guest_changes(cls):
    """The messages of class ``cls`` that change its VM's guest: those ``lifecycle.STILL``
    governs, with create and delete, on a device class; none on any other class."""
    changes = {m.name for m in cls.messages if m.name in lifecycle.STILL}
    return changes | {"create", "delete", "destroy"} if changes and cls.field("VM") else set()


# Class name -> the messages forwarded for a device of a guest resident elsewhere.
_DEVICE_CHANGES = {name: _guest_changes(cls) for name, cls in datamodel.CLASSES.items()}


def _acts_on_guest(method):
    """Whether ``method`` acts on a guest: a VM lifecycle operation, or a change of one
    of its devices (the module's docstring)."""
    return bool(method.lifecycle and method.cls == "VM"
                or method.name.partition(".")[2] in _DEVICE_CHANGES.get(method.cls, ()))


def may_forward(app, method):
    """Whether ``method`` may be carried out by another member: then the member called
    reads the database's latest commits before checking it (the VM's power state and
    ``resident_on``, its handles), since the client may have just changed the guest
    through another member."""
    return app.pool_channel is not None and _acts_on_guest(method)


def resident_host(app, method, args):
    """The other member that must carry out the call ``method`` on ``args`` (checked
    values), or None when it runs here (on a host alone, always)."""
    if not args or not may_forward(app, method):
        return None
    if method.cls == "VM":
        vm = args[0]
    else:
        record = args[0] if isinstance(args[0], dict) else app.store.get(method.cls, args[0])
        vm = (record or {}).get("VM")
    host = (app.store.get("VM", vm) or {}).get("resident_on") if vm else None
    return host if host and host != app.host_ref else None


def forwarded(app, host, method):
    """An implementation of ``method`` that carries the call out on ``host`` as the
    caller (its user and API revision), through the pool channel; run by a task's
    worker (an ``Async.`` call), as a task of ``host``'s that this one mirrors
    (``RemoteTask``)."""
    def impl(call, *args):
        tracker = progress.current()
        if tracker is None:
            value = app.pool_channel.forward(host, method, args, call.user, call.revision)
        else:
            value = RemoteTask(app, host, call).run(method, args, tracker)
        # What the other member committed is read here at once: the caller's next call
        # on this host sees the change its Success announced.
        app.store.catch_up()
        return value
    return impl


class RemoteTask:
    """An ``Async.`` call carried out on another member as a task of its own there:
    the task here follows its progress and ends as it ends, and a cancel asked here is
    asked of it (its answer is the cancel's: the member running the operation alone
    knows whether it can stop now). Both tasks are the caller's."""

    # How often the other member's task is asked how far it is.
    POLL = 0.25

    def __init__(self, app, host, call):
        self.app, self.host, self.call = app, host, call

    def _call(self, name, *args, asynchronous=False, revision=None):
        revision = revision or self.call.revision
        method = self.app.dispatcher.resolve(name, revision)
        return self.app.pool_channel.forward(self.host, method, list(args), self.call.user,
                                             revision, asynchronous)

    def _task(self, name, ref):
        # In 1.0's words, whatever the caller speaks: its task record says whether a
        # cancel would be honoured now (allowed_operations).
        return self._call("task." + name, ref, revision="1.0")

    def _cancel(self, ref):
        """Ask the other member's task ``ref`` to stop; whether it accepted."""
        try:
            self._task("cancel", ref)
        except ApiError as e:
            if e.description[0] != "OPERATION_NOT_ALLOWED":
                raise
            return False
        return True

    def run(self, method, args, tracker):
        """Start ``method`` on ``args`` as a task on the other member and follow it
        under ``tracker`` (this task's); its value, or its failure (Cancelled when it
        was cancelled)."""
        ref = self._call(method.name, *args, asynchronous=True)
        tracker.elsewhere(lambda: self._cancel(ref))
        try:
            while True:
                rec = self._task("get_record", ref)
                if rec["status"] not in ("pending", "cancelling"):
                    break
                # 1.0 counts progress in percent.
                tracker.mirror(rec["progress"] / 100.0, "Cancel" in rec["allowed_operations"])
                time.sleep(self.POLL)
        finally:
            tracker.elsewhere(None)
        try:
            self._task("destroy", ref)
        except ApiError:
            pass        # collected there in time, as any task
        if rec["status"] == "cancelled":
            raise progress.Cancelled()
        if rec["status"] != "success":
            raise ApiError(*rec["error_info"])
        return None if method.result is None else \
            method.result.from_wire(result_value(rec["result"]))
