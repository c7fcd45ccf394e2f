"""to_XML and the DTD (spec §1.2, §2.15), both derived from the datamodel, built with lxml.

An object is one element named after its class, with one child element per
field, named by the field's wire name, in datamodel order. Every value is
text, as §2.15 asks:

  * int, float: decimal; bool: "true" / "false"; enums: their spec string;
    refs: the UUID ("" when null); datetime: ISO-8601.
  * Sets: the elements joined by ", " ("1, 2, 3, 4").
  * Maps: "(k, v)" pairs joined by ", " ("(1, 2), (2, 3)").
  * Inside a Set or Map element, the characters \\ , ( ) are escaped with a
    backslash (``\\,`` ``\\(`` ``\\)`` ``\\\\``), so the encoding round-trips:
    ``decode_set`` and ``decode_map`` invert it. Strings outside Sets/Maps are
    written as they are (XML escaping is lxml's).
"""

from lxml import etree

from . import datamodel
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


def object_element(cls, ref, record):
    """The lxml element of one object."""
    el = etree.Element(cls.name)
    for f in cls.fields:
        child = etree.SubElement(el, f.wire)
        child.text = ref if f.wire == "uuid" else encode_value(f.type, record[f.wire])
    return el


def object_to_xml(cls, ref, record):
    """to_XML: one object as an XML string."""
    return etree.tostring(object_element(cls, ref, record), encoding="unicode")


def dtd_text():
    """The DTD of every class's to_XML output, generated from the datamodel.

    Five class names are also the names of Ref fields of other classes (VBD.VM,
    VBD.VDI, VDI.SR, VIF.network, host_cpu.host). A DTD declares each element
    once, so those five take mixed content: text as a field, children as an
    object. Every other object element has its exact sequence of fields.
    """
    classes = [c for c in datamodel.CLASSES.values() if c.fields]
    fields = {}
    for cls in classes:
        for f in cls.fields:
            fields.setdefault(f.wire, []).append("%s.%s: %s" % (cls.name, f.name,
                                                                f.type.spec_name()))
    lines = ["<!-- Xen Management API %s: to_XML document type, generated from the "
             "datamodel. -->" % datamodel.API_VERSION]
    for cls in classes:
        children = [f.wire for f in cls.fields]
        if cls.name in fields:
            lines.append("<!ELEMENT %s (#PCDATA | %s)*>" % (cls.name, " | ".join(children)))
        else:
            lines.append("<!ELEMENT %s (%s)>" % (cls.name, ", ".join(children)))
    for wire, uses in fields.items():
        lines.append("<!-- %s -->" % "; ".join(uses).replace("--", "- -"))
        if wire not in datamodel.CLASSES:
            lines.append("<!ELEMENT %s (#PCDATA)>" % wire)
    return "\n".join(lines) + "\n"


_DTD = None


def dtd():
    """The DTD as an lxml object (built once)."""
    global _DTD
    if _DTD is None:
        import io
        _DTD = etree.DTD(io.StringIO(dtd_text()))
    return _DTD


def validate(xml_text):
    """True if ``xml_text`` is valid against the DTD; raises ValueError with the reason if not."""
    doc = etree.fromstring(xml_text.encode("utf-8"),
                           etree.XMLParser(resolve_entities=False, no_network=True))
    d = dtd()
    if not d.validate(doc):
        raise ValueError(str(d.error_log.filter_from_errors()))
    return True
