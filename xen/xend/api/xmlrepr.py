"""to_XML and the DTD (spec §1.2, §2.15), both derived from the datamodel, built with lxml.

An object is one element named after its class, with one child element per
field, named by the field's wire name, in datamodel order; each element's text
is its value as xmltext.py writes it (XML escaping is lxml's).
"""

from lxml import etree

from . import datamodel
from .xmltext import encode_value


def object_element(cls, ref, record):
    """The lxml element of one object."""
    el = etree.Element(cls.name)
    for f in datamodel.draft_fields(cls):
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
        for f in datamodel.draft_fields(cls):
            fields.setdefault(f.wire, []).append("%s.%s: %s" % (cls.name, f.name,
                                                                f.type.spec_name()))
    lines = ["<!-- Xen Management API %s: to_XML document type, generated from the "
             "datamodel. -->" % datamodel.API_VERSION]
    for cls in classes:
        children = [f.wire for f in datamodel.draft_fields(cls)]
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
