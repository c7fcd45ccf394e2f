"""The XML-RPC wire codec: bytes in, (method, params) out; a reply struct in, bytes out.

This module knows XML-RPC and nothing about the API. Its rules make it safe
for bytes from the network:

  * no document type declarations, entity declarations or external entities:
    XML-RPC never needs them, and refusing them refuses entity expansion
    ("billion laughs") and external entities outright. The refusal is made by
    the parser itself as it meets them, so it holds whatever the document's
    encoding (a byte search for "<!DOCTYPE" would miss one in UTF-16);
  * arrays and structs nest at most MAX_DEPTH deep, counted as they are parsed,
    so no later step recurses without bound over a request;
  * every parse failure is ``WireError``, which the listener answers with an
    XML-RPC fault (the request was not a call, so there is no API reply);
  * replies are always well-formed XML: characters XML 1.0 cannot carry (control
    characters, lone surrogates) never reach the client as such.
"""

import base64
import decimal
import re
import xmlrpc.client
from xml.parsers import expat

from . import marshal
from .marshal import Abandon, Members  # noqa: F401 (the codec's API: lazy structs)

MAX_DEPTH = 64   # nesting of arrays/structs accepted in a request

# Characters that XML 1.0 does not allow in a document, even as references: the
# C0 controls but tab, newline and carriage return (single bytes in UTF-8, never
# part of a longer sequence), and U+FFFE and U+FFFF (EF BF BE, EF BF BF).
_NOT_XML = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")
_REPLACEMENT = "\ufffd".encode("utf-8")
# Every byte but those that begin a character XML does not allow: what a quick scan
# deletes, so that anything left means a closer look.
_SUSPECT = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0e, 0x20)) + b"\xef"
_INNOCENT = bytes(b for b in range(256) if b not in _SUSPECT)


class WireError(Exception):
    """The request body is not a well-formed XML-RPC call."""


class _Refused(WireError):
    """Raised from inside the parser's callbacks to stop it at once."""


def _boolean(text):
    if text == "0":
        return False
    if text == "1":
        return True
    raise ValueError("bad boolean value")


def _base64(text):
    return xmlrpc.client.Binary(base64.decodebytes(text.encode("ascii")))


# What XML-RPC allows in an integer and a double. Python's int() and float() accept
# more (digit separators "1_0", any script's digits, surrounding whitespace), which
# would make the daemon read numbers no other XML-RPC peer reads. Doubles keep the
# exponents and the nan/inf spellings xmlrpc.client writes (repr of a float): the
# types layer refuses nan and inf as values, with an error that says so.
_DOUBLE = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                     r"|(?i:inf|infinity|nan))")


def _integer(text):
    # [+-]?[0-9]+, tested without a regular expression: integers are common in calls
    # the fast path leaves to expat, and this is twice as fast. isascii() keeps out the
    # digits of other scripts, which isdigit() alone takes.
    if text.isascii() and (text.isdigit() or text[:1] in ("+", "-") and text[1:].isdigit()):
        try:
            return int(text)
        except ValueError:   # longer than int() converts (sys.get_int_max_str_digits)
            raise WireError("integer of %d digits is too long to read" % len(text)) from None
    raise WireError("not an XML-RPC integer: %r" % text[:40])


def _number(convert):
    def read(text):
        if _DOUBLE.fullmatch(text) is None:
            raise WireError("not an XML-RPC double: %r" % text[:40])
        return convert(text)
    return read


# The typed values of XML-RPC (and xmlrpc.client's extensions), by element: the
# function that makes the value from the element's text.
_SCALARS = {
    "string": str, "name": str,   # a struct member's name is a string value too
    "int": _integer, "i4": _integer, "i8": _integer, "i1": _integer, "i2": _integer,
    "biginteger": _integer,
    "double": _number(float), "float": _number(float), "bigdecimal": _number(decimal.Decimal),
    "boolean": _boolean, "base64": _base64, "dateTime.iso8601": xmlrpc.client.DateTime,
}
# Elements that may appear inside a <value>; any other one there is an error.
_IN_VALUE = frozenset(_SCALARS) | {"nil", "array", "struct", "value", "params", "fault"}
# The call's head, by element: the element opened just before it. The methodCall is
# the root (nothing before it), its methodName its first child.
_HEAD = {"methodCall": "", "methodName": "methodCall"}


class _CallReader:
    """Turns expat's events for one methodCall into its method name and params.

    Values are built bottom-up on one stack: a scalar's element pushes its value,
    an array or struct replaces everything pushed since it opened with itself.
    Elements are known by their local name (a namespace prefix is ignored).

    The method name is taken only from the one place XML-RPC puts it: a
    <methodName> holding only text, the first child of the root <methodCall>.
    A name anywhere else (in a value, a second one) would let a body show one
    method to a reader (a proxy, a log) and have another one run."""

    __slots__ = ("values", "marks", "text", "last", "method", "fault")

    def __init__(self):
        self.values = []       # finished values, innermost last
        self.marks = []        # where each open array/struct's values begin in ``values``
        self.text = []         # character data of the element being read
        # The element opened last; None once a value has ended, "" before the root.
        # It is "value" inside a <value> with no type element (yet): a string. It also
        # tells whether a methodCall or a methodName opens where XML-RPC puts it, so
        # placing them costs the other elements no bookkeeping of their own.
        self.last = ""
        self.method = None
        self.fault = False

    def start(self, tag, attrs):
        if ":" in tag:
            tag = tag.rpartition(":")[2]
        if tag == "array" or tag == "struct":
            self.marks.append(len(self.values))
            if len(self.marks) > MAX_DEPTH:
                raise _Refused("request nested too deeply")
        elif self.last == "value" and tag not in _IN_VALUE:
            raise WireError("unknown element in a value")
        elif tag in _HEAD and self.last != _HEAD[tag]:
            raise WireError("%s is not where XML-RPC puts it" % tag)
        self.text = []
        self.last = tag

    def data(self, text):
        self.text.append(text)

    def end(self, tag):
        if ":" in tag:
            tag = tag.rpartition(":")[2]
        convert = _SCALARS.get(tag)
        if convert is not None:
            self.values.append(convert("".join(self.text)))
        elif tag == "value":
            if self.last == "value":   # no type element: a string (XML-RPC spec)
                self.values.append("".join(self.text))
                self.last = None   # the next element is the value's sibling
        elif tag == "array":
            mark = self.marks.pop()
            self.values[mark:] = [self.values[mark:]]
            self.last = None
        elif tag == "struct":
            mark = self.marks.pop()
            items = self.values[mark:]
            if len(items) % 2:
                raise WireError("a struct member lacks its name or value")
            self.values[mark:] = [dict(zip(items[::2], items[1::2]))]
            self.last = None
        elif tag == "nil":
            self.values.append(None)
            self.last = None
        elif tag == "methodName":
            if self.last != "methodName":   # an element opened inside it
                raise WireError("methodName holds only text")
            self.method = "".join(self.text)
        elif tag == "fault":
            self.fault = True


# A call exactly as xmlrpc.client writes one whose params are strings and booleans,
# which is what the XenAPI SDK sends for nearly every call: a session, refs, names,
# flags. Its strings hold no markup, references, CRs or characters XML refuses (C0
# controls here; U+FFFE and U+FFFF and invalid UTF-8 are checked after the match).
_PLAIN_CALL = re.compile(
    rb"<\?xml version='1\.0'\?>\n<methodCall>\n<methodName>([A-Za-z0-9_.]{1,200})"
    rb"</methodName>\n<params>\n((?:<param>\n<value><(?:string>[^<>&\r\x00-\x08\x0b\x0c"
    rb"\x0e-\x1f]*</string|boolean>[01]</boolean)></value>\n</param>\n)*)</params>\n"
    rb"</methodCall>\n")
_PLAIN_PARAM = re.compile(rb"<value><(?:string>([^<]*)</string|boolean>([01])</boolean)>")


def _decode_plain(body):
    """(method, params) of a call in the plain form above, read without expat (whose
    calls into Python for each element cost more than the rest of such a call's
    decoding); None for any other body, which expat reads. The result is what expat
    would make of the same bytes (tests/unit/test_codec.py checks it)."""
    match = _PLAIN_CALL.fullmatch(body)
    if match is None or b"\xef\xbf" in body:   # U+FFFE, U+FFFF: let expat judge
        return None
    try:
        params = tuple(flag == b"1" if flag else text.decode("utf-8")
                       for text, flag in _PLAIN_PARAM.findall(match.group(2)))
    except UnicodeDecodeError:
        return None
    return match.group(1).decode("ascii"), params


def decode_call(body):
    """Parse a methodCall; returns (method name, params tuple)."""
    if not isinstance(body, (bytes, bytearray)):
        raise WireError("request body must be bytes")
    plain = _decode_plain(body)
    return plain if plain is not None else _decode_xml(body)


def _decode_xml(body):
    """(method, params) of any methodCall, read with expat; WireError if it is none."""
    reader = _CallReader()
    parser = expat.ParserCreate()
    parser.buffer_text = True   # an element's text in one event, not one per line or entity

    def refuse_dtd(*_):
        raise _Refused("document type declarations are not accepted")

    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.data
    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.ExternalEntityRefHandler = refuse_dtd
    try:
        parser.Parse(body, True)
    except WireError:
        raise
    except Exception as e:   # whatever fails on hostile bytes, they were not a call
        raise WireError("malformed XML-RPC request: %s" % e.__class__.__name__) from None
    if reader.fault:
        raise WireError("a fault is not a call")
    if not isinstance(reader.method, str) or not reader.method:
        raise WireError("request has no methodName")
    return reader.method, tuple(reader.values)


def encode_reply(value, sink=None, typed=False):
    """Serialise one reply value (the Status struct) as a methodResponse, as bytes; with
    ``typed``, its strings in ``<string>`` elements (for clients of Xen-API 1.0).

    With a ``sink``, a large reply is handed over in pieces as it is written:
    ``sink(piece)`` for each but the last, which is returned; the pieces joined are
    the reply. Raises TypeError or OverflowError for a value XML-RPC cannot carry (a
    handler's bug: None, an int beyond 32 bits), and ``Abandon`` where a ``Members``
    struct gave up, possibly after some pieces went to the sink."""
    if sink is not None:
        return _well_formed(marshal.response(value, lambda piece: sink(_well_formed(piece)),
                                             typed))
    pieces = []
    # In pieces even here: checking and joining a few hundred kilobytes at a time is
    # faster than one pass over tens of megabytes.
    last = marshal.response(value, lambda piece: pieces.append(_well_formed(piece)), typed)
    pieces.append(_well_formed(last))
    return b"".join(pieces)


def encode_fault(code, message):
    """Serialise an XML-RPC fault, used only when the request was not a call."""
    return _well_formed(xmlrpc.client.dumps(xmlrpc.client.Fault(code, message),
                                            methodresponse=True, encoding="utf-8")
                        .encode("utf-8", "replace"))


def _well_formed(data):
    """``data`` with every character XML cannot carry replaced by U+FFFD.

    The marshaller escapes only ``& < >``: a control character in some string (a
    backend's message, a file name) would make the whole reply unreadable for the
    client. Markup never holds such characters, so replacing them in the
    serialised bytes changes only string contents. The test is a C-speed scan
    (any other text with EF bytes gets a second look); the replacement runs only
    when there is something to replace."""
    if data.translate(None, _INNOCENT) and _NOT_XML.search(data):
        data = _NOT_XML.sub(_REPLACEMENT, data)
    return data


def result_text(value):
    """A call's value as task.result holds it: a string as it is, anything else as its
    XML-RPC <params> document (``result_value`` reads it back)."""
    return value if isinstance(value, str) else xmlrpc.client.dumps((value,))


def result_value(text):
    """The wire value task.result's ``text`` holds (``result_text``'s inverse)."""
    return xmlrpc.client.loads(text)[0][0] if text.startswith("<params>") else text


def success(value):
    """The reply struct of a successful call (void sends "")."""
    return {"Status": "Success", "Value": "" if value is None else value}


def failure(description):
    """The reply struct of a failed call; ``description`` is [code, params...]."""
    return {"Status": "Failure", "ErrorDescription": list(description)}
