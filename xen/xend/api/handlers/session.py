"""session (§2.4): login, logout; each caller sees only its own session (root sees all)."""

from .. import xmltime
from .base import ClassHandler


class SessionHandler(ClassHandler):
    cls_name = "session"
    hides_objects = True
    computed = {"last_active": "_last_active", "this_host": "_this_host"}

    def visible(self, call, ref):
        return call.is_root or ref == call.session.ref

    def owner_of(self, ref, record):
        return "session:" + ref

    def _last_active(self, ref, rec):
        return xmltime.stamp(self.app.sessions.last_active(ref))

    def _this_host(self, ref, rec):
        return self.app.host_ref   # one host: the daemon's own

    def login_with_password(self, call, uname, pwd, version="", originator=""):
        return self.app.sessions.login(uname, pwd, originator, call.peer, version)

    def logout(self, call):
        self.app.sessions.logout(call.session.ref)
