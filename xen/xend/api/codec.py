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

import re
import xmlrpc.client
from xml.parsers import expat

from . import marshal

MAX_DEPTH = 64   # nesting of arrays/structs accepted in a request

# Characters that XML 1.0 does not allow in a document, even as references: the
# C0 controls but tab, newline and carriage return (single bytes in UTF-8, never
# part of a longer sequence), and U+FFFE and U+FFFF.
_CONTROLS = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0e, 0x20))
_NOT_XML = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")
_REPLACEMENT = "\ufffd".encode("utf-8")


class WireError(Exception):
    """The request body is not a well-formed XML-RPC call."""


class _Refused(WireError):
    """Raised from inside the parser's callbacks to stop it at once."""


def decode_call(body):
    """Parse a methodCall; returns (method name, params tuple)."""
    if not isinstance(body, (bytes, bytearray)):
        raise WireError("request body must be bytes")
    target = xmlrpc.client.Unmarshaller(use_builtin_types=False)
    target.xml(None, None)   # expat hands over str already: nothing left to decode
    parser = expat.ParserCreate()
    depth = [0]

    def start(tag, attrs):
        if tag.rpartition(":")[2] in ("array", "struct"):   # the unmarshaller drops prefixes
            depth[0] += 1
            if depth[0] > MAX_DEPTH:
                raise _Refused("request nested too deeply")
        target.start(tag, attrs)

    def end(tag):
        if tag.rpartition(":")[2] in ("array", "struct"):
            depth[0] -= 1
        target.end(tag)

    def refuse_dtd(*_):
        raise _Refused("document type declarations are not accepted")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = target.data
    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.ExternalEntityRefHandler = refuse_dtd
    try:
        parser.Parse(bytes(body), True)
        params, method = target.close(), target.getmethodname()
    except WireError:
        raise
    except Exception as e:   # whatever fails on hostile bytes, they were not a call
        raise WireError("malformed XML-RPC request: %s" % e.__class__.__name__) from None
    if not isinstance(method, str) or not method:
        raise WireError("request has no methodName")
    return method, params


def encode_reply(value):
    """Serialise one reply value (the Status struct) as a methodResponse.

    Raises TypeError or OverflowError for a value XML-RPC cannot carry (a handler's
    bug: None, an int beyond 32 bits); the listener answers those INTERNAL_ERROR."""
    try:
        return _well_formed(marshal.response(value))
    except UnicodeEncodeError:
        # A lone surrogate (from a file name, say) cannot be UTF-8: the slow, rare path.
        return _well_formed(xmlrpc.client.dumps((value,), methodresponse=True)
                            .encode("utf-8", "replace"))


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
    serialised bytes changes only string contents. The test is a C-speed scan;
    the replacement runs only when there is something to replace."""
    if len(data.translate(None, _CONTROLS)) != len(data) or b"\xef\xbf\xbe" in data \
            or b"\xef\xbf\xbf" in data:
        data = _NOT_XML.sub(_REPLACEMENT, data)
    return data


def success(value):
    """The reply struct of a successful call (void sends "")."""
    return {"Status": "Success", "Value": "" if value is None else value}


def failure(description):
    """The reply struct of a failed call; ``description`` is [code, params...]."""
    return {"Status": "Failure", "ErrorDescription": list(description)}
