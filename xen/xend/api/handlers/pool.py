"""pool (the later Xen-API's, beyond 1.0): the hosts on one store, and its master.

Clients of the later API look for the one pool and its master before anything else.
The pool is a view of its master's host record (handlers/derived.py): the host that made
the pool (the first on a pool's database; a single host itself, a pool of one), whose
record carries MASTER_KEY, so every member shows the same one pool. suspend_image_SR
and crash_dump_SR are the master's fields under the pool's names; the pool's own values
(its name, description, default SR and other_config) are kept in the master's record
under keys of their own, which no record of the host shows (keys starting with "_" are
never on the wire).
"""

from .. import membership
from ..errors import ApiError
from ..types import NULL_REF
from .base import MASTER_KEY, _added, _removed
from .derived import DerivedHandler

# The pool's own fields -> their keys in the host's record.
OWN_KEYS = {"name_label": "_pool_name_label", "name_description": "_pool_name_description",
            "default_SR": "_pool_default_SR", "other_config": "_pool_other_config"}


class PoolHandler(DerivedHandler):
    cls_name = "pool"
    computed = {"master": "_master", "name_label": "_name_label",
                "name_description": "_name_description", "default_SR": "_default_sr",
                "other_config": "_other_config"}

    def has_object(self, owner_ref, owner_record):
        """Only the master's host record has the pool."""
        return bool(owner_record.get(MASTER_KEY))

    def _master(self, ref, rec):
        return self.owner_ref(ref)

    @staticmethod
    def _name_label(ref, rec):
        return rec.get(OWN_KEYS["name_label"], "")

    @staticmethod
    def _name_description(ref, rec):
        return rec.get(OWN_KEYS["name_description"], "")

    def _default_sr(self, ref, rec):
        return self.app.handlers["SR"].default_sr() or NULL_REF

    @staticmethod
    def _other_config(ref, rec):
        return dict(rec.get(OWN_KEYS["other_config"], {}))

    def default_sr_named(self):
        """The SR root named as the pool's default_SR, while it exists; None otherwise."""
        sr = self.owner.stored_record(self.app.master_ref).get(OWN_KEYS["default_SR"])
        return sr if sr and self.store.get("SR", sr) is not None else None

    # -- membership (api/membership.py) ----------------------------------------------

    def join(self, call, master_address, master_username, master_password):
        """This standalone host into the master's pool; the daemon restarts on the
        pool's database once the reply is out."""
        app = self.app
        if app.config["database"]:
            raise ApiError("POOL_JOINING_HOST_MUST_BE_STANDALONE", app.host_ref)
        for key in ("pool_database", "database_password_file"):
            if not app.config[key]:
                raise ApiError("POOL_JOINING_HOST_NOT_CONFIGURED", key)
        pool = membership.master_pool(master_address, master_username, master_password,
                                      app.config["pool_ca_file"])
        membership.join(app, self, pool)
        app.become_member()

    def eject(self, call, host):
        membership.eject(self.app, host)

    # -- writes: the pool's own values, in the host's record --------------------------

    def set_field(self, call, wire, ref, value):
        if self.stored_record(ref) is None:
            raise ApiError("HANDLE_INVALID", self.cls.name, ref)
        self.may_write(call, ref)
        with self.store.transaction() as txn:
            txn.update(self.cls.owner, self.owner_ref(ref), {OWN_KEYS[wire]: value})

    def add_to(self, call, wire, ref, *item):
        field = self.cls.field(wire)
        if field.same_as is not None:
            return super().add_to(call, wire, ref, *item)
        self.set_field(call, wire, ref, _added(field, self.read(ref, wire), item))

    def remove_from(self, call, wire, ref, item):
        field = self.cls.field(wire)
        if field.same_as is not None:
            return super().remove_from(call, wire, ref, item)
        self.set_field(call, wire, ref, _removed(field, self.read(ref, wire), item))
