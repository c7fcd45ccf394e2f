"""task (§2.5): asynchronous calls; a user sees only their own tasks, root sees all."""

from .base import ClassHandler


class TaskHandler(ClassHandler):
    cls_name = "task"
    hides_objects = True

    def visible(self, call, ref):
        return call.is_root or self.store.get("task", ref).get("user") == call.user

    def get_status(self, call, task):
        from .. import xmlrepr
        self.require_visible(call, task)
        return xmlrepr.object_to_xml(self.cls, task, self.python_record(task))

    def get_all_tasks(self, call):
        return [t for t in self.all_refs(call)
                if self.store.get("task", t).get("status") in ("pending", "cancelling")]

    def cancel(self, call, task):
        self.require_visible(call, task)
        self.app.tasks.cancel(task)
