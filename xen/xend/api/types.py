"""The API's type algebra (spec §2.3) and the conversions it implies.

Every field and parameter in the datamodel has one of these types. A type knows
four things: how to check and normalise a value arriving on the wire
(``from_wire``, for XML-RPC and JSON-RPC alike), how to present a stored value on
the wire (``to_wire`` for XML-RPC, ``to_json`` for JSON-RPC), and its name as
printed in the spec (``spec_name``). Nothing else in the server converts values
by hand.

Wire rules (DESIGN.md): 64-bit Int travels as a decimal string over XML-RPC
(its <int> is 32-bit) and as a number over JSON-RPC, and either form is accepted
on input; a DateTime is an XML-RPC dateTime, or an ISO 8601 string in JSON; a
null Ref is "" and "OpaqueRef:NULL" is accepted for it; enums are the spec's
strings. ``to_json`` is ``to_wire`` but for the types where the two differ: Int,
DateTime, Float (JSON has no NaN or infinities) and the collections holding them.
"""

import datetime
import re
import xmlrpc.client

INT64_MIN = -(2 ** 63)
INT64_MAX = 2 ** 63 - 1
NULL_REF = ""
NULL_REF_ALIASES = ("", "OpaqueRef:NULL")
EPOCH = "19700101T00:00:00Z"
_DECIMAL = re.compile(r"\A-?[0-9]{1,20}\Z")   # ASCII digits only: int() also takes "²"
_STAMP = re.compile(r"[0-9]{8}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z?\Z")
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z?\Z")


class TypeMismatch(Exception):
    """A value does not have the expected type; ``bad_value`` says it is the right type
    but outside the allowed values (an enum member, an int range)."""

    def __init__(self, bad_value=False, value=None):
        super().__init__(value)
        self.bad_value = bad_value
        self.value = value


class Type:
    """Base of all types."""

    def from_wire(self, v):
        raise NotImplementedError

    def to_wire(self, v):
        return v

    def to_json(self, v):
        return self.to_wire(v)

    def default(self):
        raise NotImplementedError

    def spec_name(self):
        raise NotImplementedError

    def __repr__(self):
        return self.spec_name()


class _String(Type):
    def from_wire(self, v):
        if not isinstance(v, str):
            raise TypeMismatch()
        return v

    def default(self):
        return ""

    def spec_name(self):
        return "string"


class _Int(Type):
    def from_wire(self, v):
        if isinstance(v, bool):
            raise TypeMismatch()
        if isinstance(v, str):
            if not _DECIMAL.match(v):
                raise TypeMismatch()
            v = int(v)
        if not isinstance(v, int):
            raise TypeMismatch()
        if not INT64_MIN <= v <= INT64_MAX:
            raise TypeMismatch(bad_value=True, value=v)
        return v

    def to_wire(self, v):
        return str(v)

    def to_json(self, v):
        return v

    def default(self):
        return 0

    def spec_name(self):
        return "int"


class _Float(Type):
    def from_wire(self, v):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeMismatch()
        try:
            f = float(v)
        except OverflowError:   # an int beyond the largest double: a number, out of range
            raise TypeMismatch(bad_value=True, value=v) from None
        if f != f or f in (float("inf"), float("-inf")):
            raise TypeMismatch(bad_value=True, value=f)
        return f

    def to_wire(self, v):
        return float(v)

    def to_json(self, v):
        f = float(v)
        # JSON has no literal for these: the strings the later Xen-API's JSON-RPC sends.
        return f if f - f == 0.0 else "NaN" if f != f else "+Inf" if f > 0 else "-Inf"

    def default(self):
        return 0.0

    def spec_name(self):
        return "float"


class _Bool(Type):
    def from_wire(self, v):
        if not isinstance(v, bool):
            raise TypeMismatch()
        return v

    def default(self):
        return False

    def spec_name(self):
        return "bool"


class _DateTime(Type):
    """Stored as an ISO-8601 UTC string; sent as XML-RPC dateTime.iso8601."""

    def from_wire(self, v):
        if hasattr(v, "value") and isinstance(getattr(v, "value"), str):  # xmlrpc DateTime
            v = v.value
        if isinstance(v, datetime.datetime):
            return v.strftime("%Y%m%dT%H:%M:%SZ")
        if not isinstance(v, str):
            raise TypeMismatch()
        if _ISO.match(v):   # JSON-RPC's form: read as the same time's XML-RPC dateTime
            return v[:10].replace("-", "") + v[10:19]
        return v

    def to_wire(self, v):
        # Unset times go out as the epoch: typed clients cannot parse "" as a DateTime.
        return xmlrpc.client.DateTime((v or EPOCH).rstrip("Z"))

    def to_json(self, v):
        # "YYYYMMDDTHH:MM:SS[Z]" (as stored; a client's XML-RPC dateTime has no Z) ->
        # "YYYY-MM-DDTHH:MM:SSZ"; a value stored in another form goes as it is.
        v = v or EPOCH
        if _STAMP.match(v) is None:
            return v
        return "%s-%s-%s%sZ" % (v[:4], v[4:6], v[6:8], v[8:17])

    def default(self):
        return ""

    def spec_name(self):
        return "datetime"


String = _String()
Int = _Int()
Float = _Float()
Bool = _Bool()
DateTime = _DateTime()


class Enum(Type):
    """An enumeration of §2.3.3; ``values`` maps each value to its description, and
    ``spellings`` other spellings clients send to the value they mean."""

    def __init__(self, name, values, spellings=()):
        self.name = name
        self.values = dict(values)
        self.spellings = dict(spellings)

    def from_wire(self, v):
        if not isinstance(v, str):
            raise TypeMismatch()
        if v not in self.values:
            if v in self.spellings:
                return self.spellings[v]
            raise TypeMismatch(bad_value=True, value=v)
        return v

    def default(self):
        return next(iter(self.values))

    def spec_name(self):
        return self.name


class Ref(Type):
    """A reference to an object of class ``cls``: its UUID, or "" for none.

    from_wire only normalises; whether the object exists is dispatch's check,
    because only it can see the store.
    """

    def __init__(self, cls):
        self.cls = cls

    def from_wire(self, v):
        if not isinstance(v, str):
            raise TypeMismatch()
        return NULL_REF if v in NULL_REF_ALIASES else v

    def default(self):
        return NULL_REF

    def spec_name(self):
        return "%s ref" % self.cls


class Set(Type):
    """An unordered collection without duplicates, an XML-RPC array on the wire."""

    def __init__(self, item):
        self.item = item

    def from_wire(self, v):
        if isinstance(v, dict) and not v:
            return []    # libxen of Xen 3.1 sends an empty set as an empty struct
        if not isinstance(v, (list, tuple)):
            raise TypeMismatch()
        out = []
        for x in v:
            x = self.item.from_wire(x)
            if x not in out:
                out.append(x)
        return out

    def to_wire(self, v):
        return [self.item.to_wire(x) for x in v]

    def to_json(self, v):
        return [self.item.to_json(x) for x in v]

    def default(self):
        return []

    def spec_name(self):
        return "(%s) Set" % self.item.spec_name()


class Map(Type):
    """A table of keys to values, an XML-RPC struct (keys always strings) on the wire."""

    def __init__(self, key, value):
        self.key = key
        self.value = value

    def from_wire(self, v):
        if not isinstance(v, dict):
            raise TypeMismatch()
        return {self.key_from_wire(k): self.value.from_wire(x) for k, x in v.items()}

    def key_from_wire(self, k):
        # Struct member names are strings on the wire, whatever the key type.
        if self.key is Int and isinstance(k, str):
            return str(Int.from_wire(k))
        return self.key.from_wire(k)

    def to_wire(self, v):
        # A dict, or (key, value) pairs: get_all_records makes its records one by one.
        items = v.items() if type(v) is dict else v
        return {str(k): self.value.to_wire(x) for k, x in items}

    def to_json(self, v):
        items = v.items() if type(v) is dict else v
        return {str(k): self.value.to_json(x) for k, x in items}

    def wire_pairs(self, pairs, json=False):
        """The (key, value) pairs of a map in wire form (``json``: JSON-RPC's), each made
        when it is asked for (a map written to the wire as it is made); the same as
        to_wire's (to_json's), in order."""
        convert = self.value.to_json if json else self.value.to_wire
        for k, x in pairs:
            yield str(k), convert(x)

    def default(self):
        return {}

    def spec_name(self):
        return "(%s -> %s) Map" % (self.key.spec_name(), self.value.spec_name())


def is_collection(t):
    """True for Set and Map: the types that get add_to/remove_from instead of set."""
    return isinstance(t, (Set, Map))


class Struct(Type):
    """A result the handler has already put in wire form (records, record maps)."""

    def __init__(self, desc):
        self.desc = desc

    def from_wire(self, v):
        if not isinstance(v, dict):
            raise TypeMismatch()
        return v

    def default(self):
        return {}

    def spec_name(self):
        return self.desc
