"""How the datamodel is declared: the vocabulary of datamodel.py and model/*.py.

``Field``, ``Param``, ``Message`` and ``Class`` are plain data; ``Renamed`` says how a
field is another name of stored values; ``Binding`` ties a Ref field to a Set field.
The reading guide is datamodel.py's docstring.
"""

import dataclasses
from typing import Optional

from ..types import Bool, DateTime, Float, Int, Map, Ref, Set, String

# The revisions a session can speak; login's version picks one (revision_of).
REVISIONS = ("0.2", "1.0")



def revision_of(version, default="0.2"):
    """The revision a session speaks, from login's ``version`` argument: "" is
    ``default`` (config api_version_default), "0.2" and earlier the draft, "1.0" and any
    later version 1.0. None for a version that is not dotted numbers."""
    if version == "":
        return default
    try:
        numbers = tuple(int(x) for x in version.split("."))
    except ValueError:
        return None
    return "1.0" if numbers >= (1,) else "0.2"


RO_RUN = "RO_run"

RO_INS = "RO_ins"

RW = "RW"


# --------------------------------------------------------------------------
# Declarations.

_NO_DEFAULT = object()


# The key, in a stored record and never on the wire (no wire name starts with "_"),
# of the host_path fields whose value root named: those are opened as they are; a
# path another user named is opened only under that user's roots. It travels with
# the record (a copy keeps it) and a write by another user takes the field out.
ROOT_NAMED = "_root_named"



@dataclasses.dataclass
class Field:
    name: str                       # as printed in the spec, e.g. "name/label"
    type: object
    qual: str                       # RO_RUN | RO_INS | RW
    desc: str
    required: bool = False          # must be given to the constructor
    default: object = _NO_DEFAULT   # constructor default; the type's empty value if unset
    extension: bool = False         # in neither revision (the later Xen-API's, or the project's)
    since: str = "0.2"              # the revision that first declares it: "0.2" or "1.0"
    rev: Optional[str] = None       # only sessions of this revision see it (a disagreement)
    same_as: Optional["Renamed"] = None   # another name of stored values (never stored)
    indexed: bool = False           # the store keeps a value -> refs index of it
    lookup: bool = False            # <class>.get_by_<wire> finds objects by it (so indexed)
    # Names a file on the host that the hypervisor opens for the guest: checked whenever
    # it is written, under the roots of users other than root (ROOT_NAMED).
    host_path: bool = False
    # What setting it does beyond storing the value, in words (for the reference); the
    # class handler's set_<wire>(call, wire, ref, value) does the whole set.
    on_set: str = ""
    # The field's name in RPC names and records: "name/label" -> "name_label".
    wire: str = dataclasses.field(init=False)

    def __post_init__(self):
        self.wire = self.name.replace("/", "_")
        self.indexed = self.indexed or self.lookup

    def default_value(self):
        if self.default is _NO_DEFAULT:
            return self.type.default()
        return self.default() if callable(self.default) else self.default



@dataclasses.dataclass
class Param:
    name: str
    type: object
    desc: str = ""
    nullable: bool = False            # a Ref parameter that may be the null ref
    optional: bool = False            # may be left out; only trailing parameters are



@dataclasses.dataclass
class Message:
    """An RPC beyond the field accessors and class RPCs of §1.1-§1.2."""
    name: str
    params: list                      # [Param], without the session
    result: Optional[object]          # a type, or None for void
    desc: str
    session: bool = True              # needs a session (only login does not)
    lifecycle: Optional[str] = None   # VM lifecycle operation checked before the call
    root_only: bool = False
    extension: bool = False
    since: str = "0.2"
    rev: Optional[str] = None         # only sessions of this revision see it (a disagreement)



@dataclasses.dataclass(frozen=True)
class Renamed:
    """How a field is another name of stored values: ``sources`` (wire names of the
    class's fields, or of the owner's for a class with an owner) give the value through
    ``read(*values)`` and take a written one through ``write(value, record) -> {source:
    value}``; both default to the identity of a single source. The conversions live in
    renames.py."""
    sources: tuple
    read: Optional[object] = None
    write: Optional[object] = None



def seen_in(item, rev):
    """Whether a Field or Message is part of revision ``rev``."""
    return item.rev is None or item.rev == rev



@dataclasses.dataclass
class Class:
    name: str
    desc: str
    fields: list
    messages: list = dataclasses.field(default_factory=list)
    creatable: bool = True            # has a constructor usable by clients
    deletable: bool = True
    list_rpc: bool = False            # has the spec's "list" RPC (§2.6.2, §2.7.2, ...)
    lifecycle: bool = False           # its delete is the lifecycle table's "delete" operation
    objects: bool = True              # has objects, so gets the generic RPCs of §1.1-§1.2
    asynchronous: bool = True         # its RPCs have Async. forms (§1.4.3: not session, task)
    # Its objects are the host's own (the machine, its bridges, its storage): only root
    # creates, changes or deletes them; every user reads them.
    root_writes: bool = False
    # Its objects survive a restart in the persistent store; False for the daemon's own
    # runtime objects (sessions, tasks), which live in memory only.
    stored: bool = True
    extension: bool = False
    since: str = "0.2"
    # The class whose every object has exactly one of this class, a view of its record
    # (handlers/derived.py): never stored, never made or deleted by clients.
    owner: Optional[str] = None

    def field(self, wire, rev="0.2"):
        """The field ``wire`` as revision ``rev`` declares it, or None."""
        return self._fields_by_wire[rev].get(wire)

    def fields_for(self, rev):
        """The fields a session of revision ``rev`` sees, in declaration order."""
        return self._fields[rev]

    def messages_for(self, rev):
        return [m for m in self.messages if seen_in(m, rev)]

    def __post_init__(self):
        if self.since != "0.2":     # every field of a class 1.0 added is 1.0's
            for f in self.fields:
                f.since = self.since
        self._fields = {r: [f for f in self.fields if seen_in(f, r)] for r in REVISIONS}
        self._fields_by_wire = {r: {f.wire: f for f in fs} for r, fs in self._fields.items()}



# --------------------------------------------------------------------------
# Bound fields (§2.2). Each pair is (one side: a Ref field, many side: a Set
# field). Only the Ref side is stored; the Set side is the store's reverse
# index of it, so the two can never disagree.
#
# on_delete says what deleting the *target* of the Ref does to the objects
# pointing at it:
#   "refuse"  - the delete fails with OPERATION_NOT_ALLOWED naming the holders
#   "cascade" - the holders are deleted in the same transaction
#   "clear"   - the holders' Ref becomes null

@dataclasses.dataclass(frozen=True)
class Binding:
    ref_class: str       # class holding the Ref field
    ref_field: str       # its wire name
    set_class: str       # class holding the Set field
    set_field: str       # its wire name
    on_delete: str       # what deleting the Set side's object does (see above)
    relationship: str    # as printed in §2.2



def in_record(cls, f, rev):
    """Whether field ``f`` of ``cls`` is in the records of sessions of revision ``rev``: a
    draft session's records hold the draft's names (and extensions), not those 1.0 added
    to a draft class; a 1.0 session's hold every name it can read."""
    return rev != "0.2" or f.since == "0.2" or cls.since != "0.2"



def draft_fields(cls):
    """The fields of ``cls`` the draft's to_XML and DTD hold: a draft session's record."""
    return [f for f in cls.fields_for("0.2") if in_record(cls, f, "0.2")]



def uuid_field():
    return Field("uuid", String, RO_RUN, "unique identifier/object reference")



def name_fields():
    return [Field("name/label", String, RW, "a human-readable name", lookup=True),
            Field("name/description", String, RW,
                  "a notes field containing human-readable description")]



def device_fields(cls):
    """The fields Xen-API 1.0 gives both kinds of VM device (VBD, VIF): whether and how
    the device is attached to the resident guest, and its QoS settings."""
    return [
        Field("currently_attached", Bool, RO_RUN,
              "true while the device is attached to the VM's resident guest (a VM.start "
              "attaches every device; %s.unplug detaches one)" % cls, since="1.0"),
        Field("status_code", Int, RO_RUN, "error/success code of the last attach-operation "
              "(0: success)", since="1.0"),
        Field("status_detail", String, RO_RUN, "what went wrong in the last "
              "attach-operation (\"\" after a success)", since="1.0"),
        Field("runtime_properties", Map(String, String), RO_RUN,
              "the backend's live facts of the attached device (docs/vm-mapping.md); "
              "empty while it is not attached", since="1.0"),
        Field("qos/algorithm_type", String, RW, "QoS algorithm to use: \"\" (none) or one "
              "of qos/supported_algorithms", since="1.0"),
        Field("qos/algorithm_params", Map(String, String), RW,
              "parameters for the chosen QoS algorithm", since="1.0"),
        Field("qos/supported_algorithms", Set(String), RO_RUN,
              "the QoS algorithms the backend can apply to this %s" % cls, since="1.0"),
    ]



def device_messages(cls):
    """VBD.plug/unplug and VIF.plug/unplug (Xen-API 1.0)."""
    this = Param("self", Ref(cls), "the %s" % cls)
    return [
        Message("plug", [this], None, "Hot-plug the %s into its VM's resident guest (Running "
                "or Paused), where it is not attached (currently_attached false)" % cls,
                since="1.0"),
        Message("unplug", [this], None, "Hot-unplug the %s from its VM's running guest, "
                "keeping the record: the guest is without it until %s.plug or the VM's "
                "next start" % (cls, cls), since="1.0"),
    ]



def last_updated_field():
    return Field("last_updated", DateTime, RO_RUN, "Time at which this information was "
                 "last updated: the daemon's last sample")



def io_fields(read, write):
    """A device's io/read_kbs and io/write_kbs, the owner's fields ``read`` and ``write``."""
    return [Field("io/read_kbs", Float, RO_RUN, "Read bandwidth (KiB/s)",
                  same_as=Renamed((read,))),
            Field("io/write_kbs", Float, RO_RUN, "Write bandwidth (KiB/s)",
                  same_as=Renamed((write,)))]
