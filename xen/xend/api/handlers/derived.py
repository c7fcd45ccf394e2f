"""Classes with an owner (datamodel ``Class.owner``): VM_metrics and the like.

Xen-API 1.0 keeps some of an object's figures in a companion object (a VM's in its
VM_metrics, a host's in its host_metrics). Each such object exists exactly while its
owner does and shows the owner's values under its own names, so it is never stored:
it is a view of the owner's record. Its ref is the owner's UUID with its bits
flipped by a fixed mask of the class (``ref_of``), which is its own inverse
(``owner_ref``): nothing has to be kept to go from one to the other, and the ref is
the same after a restart.
"""

import hashlib
import uuid as uuidlib

from ..errors import ApiError
from .base import ClassHandler

# The UUID's version and variant bits: left as the owner's, so a ref looks like one.
_KEEP = (0xF << 76) | (0x3 << 62)


def _mask(cls_name):
    digest = hashlib.sha256(b"xend derived class " + cls_name.encode()).digest()
    return int.from_bytes(digest[:16], "big") & ~_KEEP


class DerivedHandler(ClassHandler):
    """The generic RPCs of a class with an owner, read through the owner's handler.
    Subclasses name fields ``computed`` as any handler does (a method (ref, owner's
    record) -> value) and may narrow which owners have an object (``has_object``)."""

    def __init__(self, app, cls_name=None):
        super().__init__(app, cls_name)
        self._bits = _mask(self.cls.name)

    @property
    def owner(self):
        return self.app.handlers[self.cls.owner]

    def ref_of(self, owner_ref):
        """The ref of the object ``owner_ref`` has."""
        return str(uuidlib.UUID(int=uuidlib.UUID(owner_ref).int ^ self._bits))

    def owner_ref(self, ref):
        """The owner's ref of ``ref`` (whether or not there is such an owner); None for a
        ref that is no UUID."""
        try:
            return str(uuidlib.UUID(int=uuidlib.UUID(ref).int ^ self._bits))
        except (ValueError, TypeError, AttributeError):
            return None

    def has_object(self, owner_ref, owner_record):
        """Whether that owner has an object of this class (every owner, unless a subclass
        narrows it)."""
        return True

    # -- the base class's reads, through the owner ----------------------------------

    def stored_record(self, ref):
        owner = self.owner_ref(ref)
        rec = self.owner.stored_record(owner) if owner else None
        return rec if rec is not None and self.has_object(owner, rec) else None

    def exists(self, ref):
        return self.stored_record(ref) is not None

    def source_value(self, wire, ref, rec):
        return self.owner.source_value(wire, self.owner_ref(ref), rec)

    def visible_records(self, call):
        return [(self.ref_of(o), rec) for o, rec in self.owner.visible_records(call)
                if self.has_object(o, rec)]

    def all_refs(self, call):
        return [ref for ref, _ in self.visible_records(call)]

    def require_visible(self, call, ref):
        if not self.exists(ref):
            raise ApiError("HANDLE_INVALID", self.cls.name, ref)
        self.owner.require_visible(call, self.owner_ref(ref))

    def get_by_uuid(self, call, uuid):
        owner = self.owner_ref(uuid)
        if not self.exists(uuid) or (self.owner.hides_objects and
                                     not self.owner.visible(call, owner)):
            raise ApiError("UUID_INVALID", self.cls.name, uuid)
        return uuid
