"""task (§2.5, §1.4.3): asynchronous calls; a user sees only their own tasks, root sees all."""

from .. import xmlrepr
from ..types import NULL_REF
from .base import ClassHandler


class TaskHandler(ClassHandler):
    cls_name = "task"
    hides_objects = True
    computed = {"session": "_session", "allowed_operations": "_allowed_operations"}

    def _session(self, ref, rec):
        # The ref is shown only to those who see the task: its user, and root, who may
        # do all a user may (docs/security.md).
        session = rec.get("session", NULL_REF)
        return session if self.store.get("session", session) is not None else NULL_REF

    def _allowed_operations(self, ref, rec):
        return ["Cancel"] if self.app.tasks.cancellable(ref) else []

    def visible(self, call, ref):
        rec = self.store.get("task", ref)   # None for an instant while a task is made
        return rec is not None and (call.is_root or rec.get("user") == call.user)

    def owner_of(self, ref, record):
        return "user:" + record.get("user", "")

    def get_status(self, call, task):
        """§2.5: the task as an XML string (its to_XML), ETA included."""
        self.require_visible(call, task)
        return xmlrepr.object_to_xml(self.cls, task, self.python_record(task))

    def get_status_struct(self, call, task):
        self.require_visible(call, task)
        return self.app.tasks.status_struct(task)

    def get_all_tasks(self, call):
        """The caller's tasks that are still executing."""
        return [t for t in self.app.tasks.running() if self.visible(call, t)]

    def create(self, call, label, description):
        return self.app.tasks.create(call, label, description)

    def cancel(self, call, task):
        self.require_visible(call, task)
        self.app.tasks.cancel(task)

    def delete(self, call, task):
        self.require_visible(call, task)
        self.app.tasks.destroy(task)
