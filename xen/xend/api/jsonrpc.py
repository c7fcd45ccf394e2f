"""The JSON-RPC wire codec: bytes in, a ``Request`` out; a reply struct in, bytes out.

This module knows JSON-RPC (1.0 and 2.0) and nothing about the API, as codec.py knows
XML-RPC. Its rules make it safe for bytes from the network:

  * the body is strict UTF-8 and strict JSON (RFC 8259): no NaN or Infinity literals,
    no lone surrogates in ``\\u`` escapes (they could not be stored or sent back),
    integers of at most MAX_INT_DIGITS digits (Python's int() of a long string costs
    time quadratic in its length), no duplicate keys in an object (which one a reader
    takes differs between parsers: a proxy or a log could see another call than the
    one run);
  * arrays and objects nest at most codec.MAX_DEPTH deep, as XML-RPC's do;
  * a body that is not a request is ``ProtocolError``, answered with a JSON-RPC error
    (-32700: not JSON; -32600: not a request object, a batch included);
  * a reply is written in pieces through a sink, as marshal.py writes XML-RPC's: a
    ``Members`` struct (records made as they are written) is written member by member
    with json's C encoder, the first pieces leaving before the last members exist.

The reply mirrors the request's envelope: 2.0 ``{"jsonrpc":"2.0","result":V,"id":X}``,
1.0 ``{"result":V,"error":null,"id":X}``. A Failure is the error
``{"code":1,"message":CODE,"data":[params...]}``.
"""

import json

from .codec import MAX_DEPTH
from .marshal import PIECE_BYTES, Members

MAX_INT_DIGITS = 40    # a 64-bit Int has 20; anything longer is no Int of the API

PARSE_ERROR = -32700       # not JSON, not UTF-8
INVALID_REQUEST = -32600   # JSON, but not a request object
API_FAILURE = 1            # a Status Failure: message is its code, data its params

CONTENT_TYPE = "application/json"


class ProtocolError(Exception):
    """The body is not a JSON-RPC request; ``code`` is the JSON-RPC error to answer, and
    ``envelope`` and ``id`` what could be read of the request (for the reply's form)."""

    def __init__(self, code, message, envelope="2.0", id=None):
        super().__init__(message)
        self.code = code
        self.envelope = envelope
        self.id = id


class Request:
    """One call: ``envelope`` "2.0" or "1.0", ``method``, ``params`` (a tuple), ``id``;
    ``notification`` when the client wants no reply."""

    __slots__ = ("envelope", "method", "params", "id", "notification")

    def __init__(self, envelope, method, params, id, notification):
        self.envelope = envelope
        self.method = method
        self.params = params
        self.id = id
        self.notification = notification


def _refuse_constant(name):
    raise ValueError("%s is not JSON" % name)


def _integer(text):
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError("integer of %d digits is too long to read" % len(text))
    return int(text)


def _object(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("an object holds a key twice")
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_int=_integer,
                            parse_constant=_refuse_constant)


def _check(value):
    """ProtocolError unless ``value`` nests at most MAX_DEPTH deep and its strings (keys
    included) are all Unicode scalar values; iterative, so any depth is safe to test."""
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        t = type(v)
        if t is str:
            if not v.isascii():
                _scalar_values(v)
        elif t is list or t is dict:
            if depth > MAX_DEPTH:   # the request object is 0: params' values as XML-RPC's
                raise ProtocolError(INVALID_REQUEST, "request nested too deeply")
            if t is dict:
                for k in v:
                    if not k.isascii():
                        _scalar_values(k)
                v = v.values()
            stack.extend((x, depth + 1) for x in v)


def _scalar_values(s):
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError(PARSE_ERROR, "a string holds a lone surrogate") from None


def _readable_id(obj):
    """The request's id, where the body is a request object with a valid one: a refusal
    then names it."""
    v = obj.get("id")
    return v if type(v) in (str, int, float) or v is None else None


def decode_request(body):
    """The ``Request`` of a JSON-RPC body; ProtocolError if it is none."""
    if not isinstance(body, (bytes, bytearray)):
        raise ProtocolError(PARSE_ERROR, "request body must be bytes")
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(PARSE_ERROR, "request body is not UTF-8") from None
    try:
        obj = _DECODER.decode(text)
    except RecursionError:   # nested beyond what the parser recurses into
        raise ProtocolError(INVALID_REQUEST, "request nested too deeply") from None
    except ValueError as e:   # json.JSONDecodeError, or one of the hooks above
        raise ProtocolError(PARSE_ERROR, "not JSON: %s" % str(e)[:120]) from None
    if type(obj) is list:
        raise ProtocolError(INVALID_REQUEST, "batches are not supported")
    if type(obj) is not dict:
        raise ProtocolError(INVALID_REQUEST, "a request is a JSON object")
    envelope = "2.0" if "jsonrpc" in obj else "1.0"
    _check(obj)
    id = _readable_id(obj)
    if envelope == "2.0" and obj["jsonrpc"] != "2.0":
        raise ProtocolError(INVALID_REQUEST, 'jsonrpc must be "2.0"', envelope, id)
    if "id" in obj and obj["id"] is not id:
        raise ProtocolError(INVALID_REQUEST, "id must be a string, a number or null",
                            envelope)
    if envelope == "1.0" and "id" not in obj:
        raise ProtocolError(INVALID_REQUEST, "a JSON-RPC 1.0 request has an id", envelope)
    method = obj.get("method")
    if type(method) is not str or not method:
        raise ProtocolError(INVALID_REQUEST, "method must be a non-empty string", envelope, id)
    params = obj.get("params", [])
    if type(params) is not list:
        raise ProtocolError(INVALID_REQUEST, "params must be an array", envelope, id)
    # 2.0: no id member; 1.0: a null id (each version's spelling of a notification).
    notification = "id" not in obj if envelope == "2.0" else id is None
    return Request(envelope, method, tuple(params), id, notification)


# -- replies ---------------------------------------------------------------------------

_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                          check_circular=False).encode


def _envelope(envelope, id):
    """The reply's text around its result or error: (before, between, after), where
    ``between`` separates a result from the error member of 1.0."""
    if envelope == "2.0":
        return '{"jsonrpc":"2.0",', "", ',"id":%s}' % _dumps(id)
    return "{", ',"error":null', ',"id":%s}' % _dumps(id)


def encode_reply(reply, envelope, id, sink=None):
    """The JSON-RPC reply to a request of ``envelope`` and ``id`` carrying ``reply`` (a
    Status struct), as UTF-8 bytes. With a ``sink``, a large reply is handed over in
    pieces as it is written (as codec.encode_reply's): ``sink(piece)`` for each but the
    last, which is returned. Raises TypeError or ValueError for a value JSON cannot
    carry (a handler's bug), and ``Abandon`` where a ``Members`` struct gave up."""
    if reply["Status"] != "Success":
        description = reply["ErrorDescription"]
        return _error_reply({"code": API_FAILURE, "message": description[0],
                             "data": description[1:]}, envelope, id)
    before, between, after = _envelope(envelope, id)
    out = _Pieces(sink)
    out.append('%s"result":' % before)
    value = reply["Value"]
    if type(value) is Members:
        _members(value, out)
    else:
        out.append(_dumps(value))
    out.append(between + after)
    return _encode("".join(out))


def encode_error(code, message, envelope="2.0", id=None):
    """The JSON-RPC error reply for a body that is not a request."""
    return _error_reply({"code": code, "message": message}, envelope, id)


def _error_reply(error, envelope, id):
    """The reply carrying the error object ``error`` (1.0's with a null result)."""
    before, _, after = _envelope(envelope, id)
    return _encode('%s%s"error":%s%s' % (before, "" if envelope == "2.0" else '"result":null,',
                                         _dumps(error), after))


class _Pieces(list):
    """The reply's text; with a ``sink``, handed over in UTF-8 pieces of about
    PIECE_BYTES as it grows."""

    __slots__ = ("sink", "size")

    def __init__(self, sink):
        super().__init__()
        self.sink = sink
        self.size = 0

    def add(self, text):
        self.append(text)
        self.size += len(text)
        if self.sink is not None and self.size >= PIECE_BYTES:
            self.sink(_encode("".join(self)))
            self.clear()
            self.size = 0


def _members(struct, out):
    """A ``Members`` struct as a JSON object, each member's value encoded whole by the
    C encoder as it is made."""
    add = out.add
    dumps = _dumps
    add("{")
    first = True
    for k, v in struct.pairs:
        if type(k) is not str:
            raise TypeError("object member names must be strings")
        add(("%s:%s" if first else ",%s:%s") % (dumps(k), dumps(v)))
        first = False
    add("}")


def _encode(text):
    # A lone surrogate (from a file name, say) cannot be UTF-8: it becomes "?".
    return text.encode("utf-8", "replace")
