"""The method table: every RPC name the server answers, derived from the datamodel.

For each class: get_<f> for every field; set_<f> for RW fields that are not
Sets or Maps; add_to_<f>/remove_from_<f> for RW Sets and Maps; create; delete
(and destroy); get_all; get_by_uuid; get_by_<f> for every lookup field
(name_label, short_name); get_record; get_all_records; to_XML; list where the
spec gives one; and the extra messages
declared in the datamodel, implemented by the class handler's method of the
same name or, for a VM lifecycle operation the handler leaves to the domain
owner (state/domains.py), by the owner's method of that name. A field declared
with ``on_set`` is set by the handler's set_<f>. A declared message or setter
without an implementation stops the daemon at start, so the datamodel and the
handlers cannot drift apart.
"""

import dataclasses
from typing import Callable, Optional

from ..state.domains import Domains
from . import datamodel
from .datamodel import Param
from .types import Map, Ref, Set, String, Struct, is_collection


@dataclasses.dataclass
class Method:
    name: str                       # "VM.get_name_label"
    cls: str
    params: list                    # [Param] after the session
    result: Optional[object]        # a type (to_wire applied), or None for void
    impl: Callable                  # impl(call, *checked_args) -> Python value
    session: bool = True
    lifecycle: Optional[str] = None  # VM lifecycle operation: first param is the VM
    root_only: bool = False
    desc: str = ""
    # Worked out once, not at every call dispatch checks.
    arity: int = dataclasses.field(init=False)       # the most parameters accepted
    min_params: int = dataclasses.field(init=False)  # the fewest: those not optional

    def __post_init__(self):
        self.arity = len(self.params)
        self.min_params = sum(not p.optional for p in self.params)


def _this(cls):
    return Param("self", Ref(cls), "reference to the object")


def build(handlers, rev="0.2"):
    """All methods a session of revision ``rev`` may call, keyed by wire name, for the
    given class handlers."""
    table = {}

    def add(m):
        # A message the datamodel declares wins over a generated accessor of the same
        # name: task.get_status is the spec's XML status (§2.5), not the field getter.
        if m.name not in table:
            table[m.name] = m

    for cls in datamodel.CLASSES.values():
        h = handlers[cls.name]
        n = cls.name
        for msg in cls.messages_for(rev):
            impl = _implementation(h, n, msg.name, msg.lifecycle)
            add(Method("%s.%s" % (n, msg.name), n, list(msg.params), msg.result, impl,
                       session=msg.session, lifecycle=msg.lifecycle, root_only=msg.root_only,
                       desc=msg.desc))
        if not cls.objects:
            continue
        fields = cls.fields_for(rev)
        for f in fields:
            add(Method("%s.get_%s" % (n, f.wire), n, [_this(n)], f.type,
                       _bind(h.get_field, f.wire),
                       desc="Get the %s field of the given %s." % (f.name, n)))
            if f.qual != datamodel.RW:
                continue
            # Sets and Maps are set whole too (as in 1.0), but for the Set side of a bound
            # pair, which is changed through its members.
            if not datamodel.binding_of_set(n, f.wire):
                setter = (h.set_renamed if f.same_as else
                          _implementation(h, n, "set_" + f.wire) if f.on_set else h.set_field)
                add(Method("%s.set_%s" % (n, f.wire), n,
                           [_this(n), Param(f.wire, f.type, nullable=not f.required)],
                           None, _bind(setter, f.wire),
                           desc="Set the %s field of the given %s." % (f.name, n)))
            if not is_collection(f.type):
                continue
            if isinstance(f.type, Set):
                for verb, impl in (("add_to", h.add_to), ("remove_from", h.remove_from)):
                    add(Method("%s.%s_%s" % (n, verb, f.wire), n,
                               [_this(n), Param(f.wire, f.type.item)], None,
                               _bind(impl, f.wire),
                               desc="%s the %s set of the given %s."
                               % ("Add an element to" if verb == "add_to"
                                  else "Remove an element from", f.name, n)))
            else:  # Map
                add(Method("%s.add_to_%s" % (n, f.wire), n,
                           [_this(n), Param("key", f.type.key), Param("value", f.type.value)],
                           None, _bind(h.add_to, f.wire),
                           desc="Add a key/value pair to the %s map of the given %s."
                           % (f.name, n)))
                add(Method("%s.remove_from_%s" % (n, f.wire), n,
                           [_this(n), Param("key", f.type.key)], None,
                           _bind(h.remove_from, f.wire),
                           desc="Remove a key from the %s map of the given %s." % (f.name, n)))

        record = Struct("%s record" % n)
        if not cls.owner:   # objects that come and go with their owner have neither
            add(Method(n + ".create", n, [Param("args", record, "the new object's fields")],
                       Ref(n), h.create, desc="Create a new %s." % n))
            for verb in ("delete", "destroy"):
                add(Method("%s.%s" % (n, verb), n, [_this(n)], None, h.delete,
                           lifecycle="delete" if cls.lifecycle else None,
                           desc="Delete the given %s." % n))
        add(Method(n + ".get_all", n, [], Set(Ref(n)), h.get_all,
                   desc="All %s objects." % n))
        if cls.list_rpc:
            add(Method(n + ".list", n, [], Set(Ref(n)), h.get_all,
                       desc="Return a list of all the %s objects known to the system." % n))
        add(Method(n + ".get_by_uuid", n, [Param("uuid", String)], Ref(n), h.get_by_uuid,
                   desc="The %s with the given UUID." % n))
        for f in fields:
            if f.lookup:
                add(Method("%s.get_by_%s" % (n, f.wire), n, [Param("label", String)],
                           Set(Ref(n)), _bind(h.get_by_field, f.wire),
                           desc="The %s objects whose %s is the given string." % (n, f.wire)))
        add(Method(n + ".get_record", n, [_this(n)], record, h.get_record,
                   desc="All fields of the given %s." % n))
        add(Method(n + ".get_all_records", n, [], Map(Ref(n), record), h.get_all_records,
                   desc="Every %s, keyed by reference." % n))
        add(Method(n + ".to_XML", n, [_this(n)], String, h.to_xml,
                   desc="The given %s as an XML string (§2.15)." % n))
    return table


def _implementation(handler, cls, name, lifecycle=None):
    """The handler's method ``name``, which the datamodel says ``cls`` has; for a
    ``lifecycle`` operation the handler does not implement, the domain owner's."""
    impl = getattr(handler, name, None)
    if impl is None and lifecycle and hasattr(Domains, name):
        impl = _domain_operation(handler.app, name)
    if impl is None:
        raise RuntimeError("datamodel declares %s.%s but %s has no %s()"
                           % (cls, name, type(handler).__name__, name))
    return impl


def _domain_operation(app, name):
    """Lifecycle message ``name`` as the domain owner's method of that name, given the
    call's arguments (the VM first). Looked up per call: the owner is made after the
    method table."""
    def impl(call, *args):
        return getattr(app.domains, name)(*args)
    return impl


def _bind(fn, wire):
    """fn with the field's wire name bound after ``call``: impl(call, *a) -> fn(call, wire, *a)."""
    def impl(call, *args):
        return fn(call, wire, *args)
    impl.__name__ = "%s[%s]" % (fn.__name__, wire)
    return impl
