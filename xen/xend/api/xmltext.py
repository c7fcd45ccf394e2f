"""The text of a to_XML element (spec §2.15), both ways; pure Python, no lxml, so that
clients (xm) read to_XML with the same rules the server writes it with.

Every value is text:

  * int, float: decimal; bool: "true" / "false"; enums: their spec string;
    refs: the UUID ("" when null); datetime: ISO-8601.
  * Sets: the elements joined by ", " ("1, 2, 3, 4").
  * Maps: "(k, v)" pairs joined by ", " ("(1, 2), (2, 3)").
  * Inside a Set or Map element, the characters \\ , ( ) are escaped with a
    backslash (``\\,`` ``\\(`` ``\\)`` ``\\\\``), so the encoding round-trips:
    ``decode_set`` and ``decode_map`` invert it. Strings outside Sets/Maps are
    written as they are.
"""

from .types import Bool, Map, Set

_SPECIAL = "\\,()"


def escape_item(s):
    """Escape one Set element or Map key/value."""
    return "".join("\\" + c if c in _SPECIAL else c for c in s)


def _scalar(t, v):
    if t is Bool or isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def encode_value(t, v):
    """A field value as the text of its element."""
    if isinstance(t, Set):
        return ", ".join(escape_item(_scalar(t.item, x)) for x in v)
    if isinstance(t, Map):
        return ", ".join("(%s, %s)" % (escape_item(_scalar(t.key, k)),
                                       escape_item(_scalar(t.value, x)))
                         for k, x in v.items())
    return _scalar(t, v)


def _split(text, sep):
    """Split on unescaped ``sep``, keeping escapes; returns raw pieces."""
    out, cur, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if c == sep:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def _unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def _drop_sep_space(piece, first):
    # encode_value writes ", " between items: drop exactly that one space.
    return piece if first or not piece.startswith(" ") else piece[1:]


def decode_set(text):
    """Invert encode_value for a Set of strings."""
    if text == "":
        return []
    return [_unescape(_drop_sep_space(p, i == 0)) for i, p in enumerate(_split(text, ","))]


def decode_map(text):
    """Invert encode_value for a Map of strings to strings."""
    out = {}
    pairs = _split(text, ")")
    if pairs[-1] != "":
        raise ValueError("malformed map: %r" % text)
    for i, pair in enumerate(pairs[:-1]):
        pair = pair if i == 0 else pair[2:] if pair.startswith(", ") else None
        if pair is None or not pair.startswith("("):
            raise ValueError("malformed map: %r" % text)
        parts = _split(pair[1:], ",")
        if len(parts) != 2 or not parts[1].startswith(" "):
            raise ValueError("malformed map pair: %r" % pair)
        out[_unescape(parts[0])] = _unescape(parts[1][1:])
    return out
