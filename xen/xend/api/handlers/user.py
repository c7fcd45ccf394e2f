"""user (§2.14): accounts that may log in; only root creates, deletes or sets passwords."""

from ..errors import ApiError
from ..sessions import ROOT, hash_password
from .base import ClassHandler


class UserHandler(ClassHandler):
    cls_name = "user"

    def may_write(self, call, ref):
        # A user may change their own full name; everything else is root's.
        if call.is_root:
            return
        if ref is not None and call.method == "user.set_fullname" and \
                self.store.get("user", ref).get("short_name") == call.user:
            return
        raise ApiError("PERMISSION_DENIED", "only root may change users")

    def validate(self, txn, ref, old, new):
        if old is None:
            name = new["short_name"]
            if not name or len(name) > 64 or not name.isprintable() or ":" in name:
                raise ApiError("INVALID_VALUE", "short_name", name)
            if self.store.lookup("user", "short_name", name):
                raise ApiError("INVALID_VALUE", "short_name",
                               "%s (a user with that name exists)" % name)

    def before_delete(self, call, txn, ref):
        if self.store.get("user", ref).get("short_name") == ROOT:
            raise ApiError("OPERATION_NOT_ALLOWED", "the root user cannot be deleted")

    def delete(self, call, ref):
        rec = self.store.get("user", ref)
        if rec is None:   # deleted meanwhile by another call
            raise ApiError("HANDLE_INVALID", "user", ref)
        name = rec.get("short_name")
        super().delete(call, ref)
        self.app.sessions.revoke_user(name)

    def set_password(self, call, ref, password):
        if not password:
            raise ApiError("INVALID_VALUE", "password", "(empty)")
        with self.store.transaction() as txn:
            private = dict(txn.private(ref))
            private["password"] = hash_password(password)
            txn.set_private("user", ref, private)
