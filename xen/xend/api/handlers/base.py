"""The generic behaviour every class gets from the datamodel (spec §1.1, §1.2).

``ClassHandler`` implements get/set/add_to/remove_from for fields, the
constructor, delete, the lookups and records, once, for any class: a class
declared in the datamodel with no behaviour of its own needs nothing else. A
class with behaviour of its own subclasses it and overrides the hooks:

  * ``computed``: fields worked out at read time (name -> method name); an RO_ins
    one is kept as given at creation, and its method reads it from the record;
  * ``validate(txn, ref, old, new)``: refuse a write before it is committed;
  * ``before_delete(call, txn, ref)``: refuse or prepare a delete;
  * ``visible(call, ref)``: hide objects the caller may not see (sessions, tasks);
  * ``may_write(call, ref)``: refuse writes the caller may not make.

How a field is kept follows from the datamodel alone: ``uuid`` is the ref;
the Set side of a bound pair is the store's reverse index of its Ref side;
fields named in ``computed`` are worked out on read; an RO_run Ref to a class
this class owns (VM.metrics) names the owned object (handlers/derived.py); every
other field is a stored value. Every write checks the class's ``host_path`` fields, as the
writer may name them (check_host_paths); a field declared with ``on_set`` is
set by the subclass's ``set_<wire>`` (methods.py), which does its effect around
``set_field``.
"""

import uuid as uuidlib

from .. import datamodel
from ..errors import ApiError
from ..types import NULL_REF, Map, Ref, Type
from ..values import check_path, check_value

# The key of the record of a local SR or a network naming the host it is on (its files,
# its bridge and NIC are that host's alone), and the key of the host record of a pool's
# master; keys starting with "_" are never on the wire.
HOST_KEY = "_host"
MASTER_KEY = "_pool_master"


def _computed_key(computed, f):
    """A field's key in ``computed``: (wire name, revision) for a field one revision
    declares differently, where the handler names one; else the wire name."""
    return (f.wire, f.rev) if (f.wire, f.rev) in computed else f.wire


def unrename(field, value, record):
    """A value written through the renamed ``field`` as {source: value}, ``record``
    being the stored record it goes into."""
    how = field.same_as
    return how.write(value, record) if how.write else {how.sources[0]: value}


def _added(field, current, item):
    """A Set or Map value with ``item`` (an element, or a key and value) added."""
    if isinstance(field.type, Map):
        new = dict(current)
        new[item[0]] = item[1]
        return new
    return list(current) + ([item[0]] if item[0] not in current else [])


def _removed(field, current, item):
    """A Set or Map value without ``item`` (an element or a key)."""
    if isinstance(field.type, Map):
        return {k: v for k, v in current.items() if k != item}
    return [x for x in current if x != item]


def new_ref():
    """A fresh object reference (refs are UUIDs, DESIGN.md)."""
    return str(uuidlib.uuid4())


def _conversion(t, name):
    """Type ``t``'s conversion ``name`` (to_wire, to_json) for a record's plan; None
    where it leaves the value as it is (the record then takes the value unconverted)."""
    if name == "to_json" and type(t).to_json is Type.to_json:
        name = "to_wire"   # derived from to_wire: the same conversion, or none
    return None if getattr(type(t), name) is getattr(Type, name) else getattr(t, name)


class ClassHandler:
    """Generic RPCs of one class; see the module docstring for the hooks."""

    cls_name = None
    # wire name -> name of a method (ref, record) -> value; (wire, rev) for a field that
    # one revision declares differently
    computed = {}
    hides_objects = False    # True where visible() filters get_all

    def __init__(self, app, cls_name=None):
        """The handler of ``cls_name``; a subclass names its class in ``cls_name`` instead,
        and a class without behaviour of its own is served by this class alone."""
        if cls_name is not None:
            self.cls_name = cls_name
        self.app = app
        self.store = app.store
        self.cls = datamodel.CLASSES[self.cls_name]
        # Per revision: the fields a session sees, one step each, and the record's steps.
        # wire_record runs for every object of get_all_records and every event: one
        # precomputed step per field, with no conversion where the wire form is the value.
        self._layouts = {}
        self._steps = {}
        self._plans = {}
        for rev in datamodel.REVISIONS:
            fields = self.cls.fields_for(rev)
            self._layouts[rev] = [(f, self._source(f)) for f in fields]
            self._steps[rev] = {f.wire: (f.wire, src, self._plan_arg(f, src),
                                         _conversion(f.type, "to_wire"),
                                         _conversion(f.type, "to_json"))
                                for f, src in self._layouts[rev]}
            self._plans[rev] = [self._steps[rev][f.wire] for f in fields
                                if datamodel.in_record(self.cls, f, rev)]
        self._host_paths = [f.wire for f in self.cls.fields if f.host_path]

    def _plan_arg(self, f, src):
        if src == "stored":
            # Shared between records: safe, as collections are copied by their to_wire.
            return f.default_value()
        if src == "bound":
            return datamodel.binding_of_set(self.cls.name, f.wire)
        if src == "computed":
            return getattr(self, self.computed[_computed_key(self.computed, f)])
        if src == "renamed":
            return f.same_as
        if src == "owned":
            return lambda ref, rec: self.app.handlers[f.type.cls].ref_of(ref)
        return None

    def _source(self, f):
        if f.wire == "uuid":
            return "uuid"
        if f.same_as is not None:
            return "renamed"
        if datamodel.binding_of_set(self.cls.name, f.wire):
            return "bound"
        if _computed_key(self.computed, f) in self.computed:
            return "computed"
        if self._owns(f):
            return "owned"
        return "stored"

    def _owns(self, f):
        """Whether ``f`` names the object of a class this class owns: an RO_run Ref
        to a class with this class as its owner (VM.metrics, host.metrics, ...)."""
        target = datamodel.CLASSES.get(f.type.cls) if isinstance(f.type, Ref) else None
        return f.qual == datamodel.RO_RUN and target is not None and \
            target.owner == self.cls.name

    # -- hooks -------------------------------------------------------------

    def validate(self, txn, ref, old, new):
        """Refuse a create (old is None) or update by raising ApiError; may normalise
        ``new`` in place (a generated MAC, a lower-cased address)."""

    def before_delete(self, call, txn, ref):
        """Refuse or prepare the delete of ``ref`` by raising ApiError."""

    def visible(self, call, ref):
        return True

    def owner_of(self, ref, record):
        """Who may see ``ref``'s events, for classes that hide objects: "user:NAME" or
        "session:REF"; None where everyone may."""
        return None

    def may_write(self, call, ref):
        """Raise PERMISSION_DENIED where ``call``'s user may not change ``ref``
        (datamodel: a class whose writes are root's)."""
        if self.cls.root_writes and not call.is_root:
            raise ApiError("PERMISSION_DENIED", "only root may create, change or delete "
                           "%s objects" % self.cls.name)

    def may_change(self, call, old, new):
        """Raise PERMISSION_DENIED where ``call``'s user may not turn record ``old`` (None:
        a new one) into ``new``: for values of a field that only root may give (``call``
        None: the daemon itself, which may)."""

    # -- reads ---------------------------------------------------------------

    def stored_record(self, ref):
        """The stored record of ``ref``, or None if there is no such object."""
        return self.store.get(self.cls.name, ref)

    def read(self, ref, wire, rev="0.2"):
        """The value of one field of ``ref``, as a Python value."""
        rec = self.stored_record(ref)
        if rec is None:
            raise ApiError("HANDLE_INVALID", self.cls.name, ref)
        return self._value(self._steps[rev][wire], ref, rec)

    def _value(self, step, ref, rec):
        """One field's Python value, by the step the plan made for it."""
        wire, src, arg, _, _ = step
        if src == "stored":
            return rec.get(wire, arg)
        if src == "uuid":
            return ref
        if src == "bound":
            return self.store.referrers(arg.ref_class, arg.ref_field, ref)
        if src == "renamed":
            values = [self.source_value(w, ref, rec) for w in arg.sources]
            return arg.read(*values) if arg.read else values[0]
        return arg(ref, rec)

    def source_value(self, wire, ref, rec):
        """The value of the draft's field ``wire``, which a renamed field reads."""
        return self._value(self._steps["0.2"][wire], ref, rec)

    def wire_record(self, ref, rec=None, rev="0.2", json=False):
        """The whole record of ``ref`` (whose stored record is ``rec``, if the caller
        holds it) in wire form (``json``: JSON-RPC's), as a session of revision ``rev``
        sees it."""
        rec = rec if rec is not None else self.stored_record(ref)
        if rec is None:
            raise ApiError("HANDLE_INVALID", self.cls.name, ref)
        out = {}
        form = 4 if json else 3
        for step in self._plans[rev]:
            v = self._value(step, ref, rec)
            convert = step[form]
            out[step[0]] = convert(v) if convert is not None else v
        return out

    def json_of_draft(self, record):
        """A draft record in XML-RPC's wire form (an event's snapshot, made at its commit)
        in JSON-RPC's: for an object deleted since, whose record cannot be made again."""
        types = {f.wire: f.type for f in datamodel.draft_fields(self.cls)}
        return {k: types[k].to_json(types[k].from_wire(v)) if k in types else v
                for k, v in record.items()}

    def python_record(self, ref):
        """The draft's record of ``ref`` as Python values (for to_XML)."""
        return {f.wire: self.read(ref, f.wire) for f in datamodel.draft_fields(self.cls)}

    def all_refs(self, call):
        refs = self.store.refs(self.cls.name)
        if self.hides_objects:
            refs = [r for r in refs if self.visible(call, r)]
        return refs

    def visible_records(self, call):
        """(ref, stored record) of every object the caller may see, one snapshot."""
        pairs = self.store.records(self.cls.name)
        if self.hides_objects:
            pairs = [(r, rec) for r, rec in pairs if self.visible(call, r)]
        return pairs

    def require_visible(self, call, ref):
        if self.hides_objects and not self.visible(call, ref):
            raise ApiError("HANDLE_INVALID", self.cls.name, ref)

    # -- generic RPCs: reads ---------------------------------------------------

    def get_field(self, call, wire, ref):
        self.require_visible(call, ref)
        return self.read(ref, wire, call.revision)

    def get_all(self, call):
        return self.all_refs(call)

    def get_by_uuid(self, call, uuid):
        if self.store.class_of(uuid) != self.cls.name or (
                self.hides_objects and not self.visible(call, uuid)):
            raise ApiError("UUID_INVALID", self.cls.name, uuid)
        return uuid

    def get_by_field(self, call, wire, value):
        refs = self.store.lookup(self.cls.name, wire, value)
        if self.hides_objects:
            refs = [r for r in refs if self.visible(call, r)]
        return refs

    def get_record(self, call, ref):
        self.require_visible(call, ref)
        return self.wire_record(ref, rev=call.revision, json=call.json)

    def get_all_records(self, call):
        """(ref, record) pairs of every object the caller may see, each record built when
        it is asked for: dispatch hands them to the reply as it is written, so the first
        records reach the client before the last are built. Which objects, and their
        stored fields, are one snapshot taken now; bound and computed fields are read as
        each record is built (as for any record, a moment later than the snapshot)."""
        rev, json = call.revision, call.json
        return ((ref, self.wire_record(ref, rec, rev, json))
                for ref, rec in self.visible_records(call))

    def to_xml(self, call, ref):
        from .. import xmlrepr
        self.require_visible(call, ref)
        return xmlrepr.object_to_xml(self.cls, ref, self.python_record(ref))

    # -- generic RPCs: writes ----------------------------------------------------

    def set_field(self, call, wire, ref, value):
        self.may_write(call, ref)
        with self.store.transaction() as txn:
            self.update(txn, ref, {wire: value}, call)

    def set_renamed(self, call, wire, ref, value):
        """set_<wire> of a renamed field: a write of its sources; a single source set by
        its own setter (on_set) is set that way, with what that does."""
        field = self.cls.field(wire, call.revision)
        old = self.store.get(self.cls.name, ref)
        if old is None:
            raise ApiError("HANDLE_INVALID", self.cls.name, ref)
        self.set_sources(call, ref, unrename(field, value, old))

    def set_sources(self, call, ref, changes):
        """A write of the stored fields ``changes`` (wire name -> value) of ``ref``, as a
        renamed field makes it: a single one set by its own setter (on_set) is set that
        way, with what that does."""
        if len(changes) == 1:
            (source, converted), = changes.items()
            if self.cls.field(source).on_set:
                return getattr(self, "set_" + source)(call, source, ref, converted)
        self.may_write(call, ref)
        with self.store.transaction() as txn:
            self.update(txn, ref, changes, call)

    def add_to(self, call, wire, ref, *item):
        """add_to_<wire>: a Set element (idempotent) or a Map pair (overwrites the key)."""
        field = self.cls.field(wire, call.revision)
        if field.same_as is not None:
            return self.set_renamed(call, wire, ref, _added(field, self.read(
                ref, wire, call.revision), item))
        self.may_write(call, ref)
        with self.store.transaction() as txn:
            b = datamodel.binding_of_set(self.cls.name, wire)
            if b:
                # Adding x to the Set side is pointing x's Ref field at us.
                self.app.handlers[b.ref_class].update(txn, item[0], {b.ref_field: ref})
                return
            current = txn.get(self.cls.name, ref).get(wire, field.default_value())
            self.update(txn, ref, {wire: _added(field, current, item)})

    def remove_from(self, call, wire, ref, item):
        """remove_from_<wire>: absent elements and keys are ignored."""
        field = self.cls.field(wire, call.revision)
        if field.same_as is not None:
            return self.set_renamed(call, wire, ref, _removed(field, self.read(
                ref, wire, call.revision), item))
        self.may_write(call, ref)
        with self.store.transaction() as txn:
            b = datamodel.binding_of_set(self.cls.name, wire)
            if b:
                holder = txn.get(b.ref_class, item)
                if holder is None or holder.get(b.ref_field) != ref:
                    return
                self.app.handlers[b.ref_class].update(txn, item, {b.ref_field: NULL_REF})
                return
            current = txn.get(self.cls.name, ref).get(wire, field.default_value())
            self.update(txn, ref, {wire: _removed(field, current, item)})

    def update(self, txn, ref, changes, call=None):
        """Apply ``changes`` (wire name -> Python value) to ``ref`` inside ``txn``;
        ``call``: the API call whose user makes them (None: the daemon itself)."""
        old = txn.get(self.cls.name, ref)
        if old is None:
            raise ApiError("HANDLE_INVALID", self.cls.name, ref)
        for wire, value in changes.items():
            field = self.cls.field(wire)
            if field.required and isinstance(field.type, Ref) and value == NULL_REF:
                raise ApiError("OPERATION_NOT_ALLOWED",
                               "%s.%s is required; delete the %s or point it at another %s"
                               % (self.cls.name, wire, self.cls.name, field.type.cls))
        new = dict(old)
        new.update(changes)
        self.may_change(call, old, new)
        self.check_host_paths(old, new, call)
        self.validate(txn, ref, old, new)
        txn.update(self.cls.name, ref, new)

    def check_host_paths(self, old, new, call):
        """Check each host_path field a write changes, normalising it in ``new``, and
        record in ``new[ROOT_NAMED]`` whether root named it.

        Files the hypervisor will open must be absolute and plain. Root (``call`` of
        root) may name any such file; another user only a regular file under
        app.guest_file_roots(), reached without symbolic links (values.check_path).
        A write by the daemon itself (``call`` None: a copy of a record) keeps who
        named each path, and checks it as that user's."""
        if not self._host_paths:
            return
        named = set(new.get(datamodel.ROOT_NAMED, ()))
        for wire in self._host_paths:
            value = new.get(wire, "")
            if value == (old or {}).get(wire, ""):
                continue
            if call is not None:
                named.discard(wire)
                if call.is_root and value:
                    named.add(wire)
            if wire in named:
                new[wire] = check_path(value, wire)
            else:
                new[wire] = check_path(value, wire, self.app.guest_file_roots(),
                                       guest_file=True)
        # Kept even when empty: the store merges an update into the old record's keys.
        new[datamodel.ROOT_NAMED] = sorted(named)

    def create(self, call, record):
        """The constructor (§1.2): a record of RW and RO_ins fields; returns the new ref."""
        if not self.cls.creatable:
            raise ApiError("OPERATION_NOT_ALLOWED",
                           "%s objects are made by the daemon, not by clients" % self.cls.name)
        self.may_write(call, None)
        stored, bound = self.record_from_wire(record, call.revision)
        ref = new_ref()
        with self.store.transaction() as txn:
            self.insert(txn, ref, stored, bound, call=call)
        return ref

    def record_from_wire(self, record, rev="0.2"):
        """Check a constructor record, as a session of revision ``rev`` names its fields;
        returns (stored fields, bound Set fields).

        RO_run fields in it are ignored (clients pass a whole record they read back, as
        xend accepted); a key the class does not have is FIELD_UNKNOWN. A value given
        under both a draft name and its renamed one: the session's revision's name wins."""
        if not isinstance(record, dict):
            raise ApiError("FIELD_TYPE_ERROR", "record")
        for key in record:
            if self.cls.field(key, rev) is None:
                raise ApiError("FIELD_UNKNOWN", "%s" % key)
        stored, bound, renamed = {}, {}, []
        for f, src in self._layouts[rev]:
            if f.qual == datamodel.RO_RUN:
                if src == "stored":
                    stored[f.wire] = f.default_value()
                continue
            if f.wire in record:
                value = check_value(f.type, record[f.wire], f.wire, self.app.objects,
                                    allow_null=not f.required)
            elif f.required:
                raise ApiError("FIELD_MISSING", f.wire)
            elif src == "renamed":
                continue
            else:
                value = f.default_value()
            if src == "renamed":
                renamed.append((f, value))
                continue
            if src == "bound" and value and not self._members_settable(f.wire):
                raise ApiError("FIELD_READ_ONLY", f.wire)
            (bound if src == "bound" else stored)[f.wire] = value
        renamed = {w: v for f, value in renamed for w, v in unrename(f, value, stored).items()}
        draft_given = {w: stored[w] for w in renamed if w in record and w in stored}
        stored.update(renamed)
        if rev == "0.2":
            stored.update(draft_given)
        for f in self.cls.fields_for("0.2"):
            # A draft field only the other revision's name stands for, not given.
            if f.wire not in stored and self._steps["0.2"][f.wire][1] == "stored":
                stored[f.wire] = f.default_value()
        return stored, bound

    def _members_settable(self, wire):
        """Whether a Set side may be given at creation: only where its members' Ref
        field is RW (VDI.children follows VDI.parent, which only snapshots set)."""
        b = datamodel.binding_of_set(self.cls.name, wire)
        return datamodel.CLASSES[b.ref_class].field(b.ref_field).qual == datamodel.RW

    def insert(self, txn, ref, stored, bound=None, private=None, call=None):
        """Create ``ref`` inside ``txn``; ``bound`` Set fields re-point their members.
        ``call``: the API call whose user makes it (None: the daemon itself)."""
        self.may_change(call, None, stored)
        self.check_host_paths(None, stored, call)
        self.validate(txn, ref, None, stored)
        txn.create(self.cls.name, ref, stored, private)
        for wire, members in (bound or {}).items():
            b = datamodel.binding_of_set(self.cls.name, wire)
            for m in members:
                self.app.handlers[b.ref_class].update(txn, m, {b.ref_field: ref})

    def delete(self, call, ref, first=None):
        """delete/destroy (§1.2), with the bound-field rules of the datamodel;
        ``first(txn)``, if given, runs in the same transaction before (a crashdump's
        record goes with its VDI)."""
        if not self.cls.deletable:
            raise ApiError("OPERATION_NOT_ALLOWED",
                           "%s objects are the daemon's own and cannot be deleted"
                           % self.cls.name)
        self.may_write(call, ref)
        with self.store.transaction() as txn:
            if first is not None:
                first(txn)
            self.remove(call, txn, ref)

    def remove(self, call, txn, ref):
        """Delete ``ref`` inside ``txn``: refuse, cascade or clear what points at it."""
        self.before_delete(call, txn, ref)
        for b in datamodel.BINDINGS:
            if b.set_class != self.cls.name:
                continue
            holders = txn.referrers(b.ref_class, b.ref_field, ref)
            if b.ref_class == self.cls.name:
                holders = [h for h in holders if h != ref]
            if not holders:
                continue
            if b.on_delete == "refuse":
                raise ApiError("OBJECT_IN_USE", self.cls.name, ref, b.ref_class,
                               ",".join(holders))
            for h in holders:
                if b.on_delete == "cascade":
                    self.app.handlers[b.ref_class].remove(call, txn, h)
                else:
                    txn.update(b.ref_class, h, {b.ref_field: NULL_REF})
        txn.delete(self.cls.name, ref)

