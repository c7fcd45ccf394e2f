"""event (beyond the draft, as in the later Xen-API): register/unregister/next and from."""

from .base import ClassHandler


class EventHandler(ClassHandler):
    cls_name = "event"

    def register(self, call, classes):
        self.app.events.register(call.session.ref, classes)

    def unregister(self, call, classes):
        self.app.events.unregister(call.session.ref, classes)

    def next(self, call):
        return self.app.events.next(call)

    def event_from(self, call, classes, token, timeout):
        return self.app.events.event_from(call, classes, token, timeout)


# "from" is a Python keyword; the method table looks the message up by its name.
setattr(EventHandler, "from", EventHandler.event_from)
