"""The XML-RPC wire codec: bytes in, (method, params) out; a reply struct in, bytes out.

This module knows XML-RPC and nothing about the API. Two rules make it safe
for bytes from the network:

  * no document type declarations: XML-RPC never needs one, and refusing them
    refuses entity expansion and external entities outright;
  * parse failures are ``WireError``, which the listener answers with an
    XML-RPC fault (the request was not a call, so there is no API reply).
"""

import xmlrpc.client
from xml.parsers.expat import ExpatError

from . import marshal

MAX_DEPTH = 64   # nesting of arrays/structs accepted in a request


class WireError(Exception):
    """The request body is not a well-formed XML-RPC call."""


def decode_call(body):
    """Parse a methodCall; returns (method name, params tuple)."""
    if not isinstance(body, (bytes, bytearray)):
        raise WireError("request body must be bytes")
    head = bytes(body[:4096]).upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in bytes(body).upper():
        raise WireError("document type declarations are not accepted")
    if _depth(body) > MAX_DEPTH:
        raise WireError("request nested too deeply")
    try:
        params, method = xmlrpc.client.loads(bytes(body), use_builtin_types=False)
    except (ExpatError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            OverflowError, xmlrpc.client.ResponseError) as e:
        raise WireError("malformed XML-RPC request: %s" % e.__class__.__name__) from None
    if not isinstance(method, str) or not method:
        raise WireError("request has no methodName")
    return method, params


def _depth(body):
    """A cheap upper bound on array/struct nesting, checked before parsing."""
    depth = deepest = 0
    for token in bytes(body).split(b"<")[1:]:
        if token.startswith((b"array", b"struct")):
            depth += 1
            deepest = max(deepest, depth)
        elif token.startswith((b"/array", b"/struct")):
            depth -= 1
    return deepest


def encode_reply(value):
    """Serialise one reply value (the Status struct) as a methodResponse."""
    return marshal.response(value)


def encode_fault(code, message):
    """Serialise an XML-RPC fault, used only when the request was not a call."""
    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, message), methodresponse=True,
                               encoding="utf-8").encode("utf-8")


def success(value):
    """The reply struct of a successful call (void sends "")."""
    return {"Status": "Success", "Value": "" if value is None else value}


def failure(description):
    """The reply struct of a failed call; ``description`` is [code, params...]."""
    return {"Status": "Failure", "ErrorDescription": list(description)}
