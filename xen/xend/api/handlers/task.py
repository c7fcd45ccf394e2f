"""task (§2.5, §1.4.3): asynchronous calls; a user sees only their own tasks, root sees all."""

from .. import xmlrepr
from .base import ClassHandler


class TaskHandler(ClassHandler):
    cls_name = "task"
    hides_objects = True

    def visible(self, call, ref):
        return call.is_root or self.store.get("task", ref).get("user") == call.user

    def owner_of(self, record):
        return record.get("user")

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

    def cancel(self, call, task):
        self.require_visible(call, task)
        self.app.tasks.cancel(task)

    def delete(self, call, task):
        self.require_visible(call, task)
        self.app.tasks.destroy(task)
