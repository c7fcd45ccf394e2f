"""to_XML and the DTD (xen/xend/api/xmlrepr.py, spec §2.15)."""

import io
import random
import re

import pytest
from lxml import etree

from xen.xend.api import datamodel, xmlrepr, xmltext
from xen.xend.api.types import Bool, DateTime, Enum, Float, Int, Map, Ref, Set, String

REF = "0b9c3f0e-4c8a-4b43-9c1f-6a0d0f6a1e11"
OTHER = "7d2e1a55-2f0b-4c8e-b7a4-31c2c9d1c0aa"


def object_classes():
    return [c for c in datamodel.CLASSES.values() if getattr(c, "objects", True)]


def is_field_name(cls):
    """Whether some class has a field whose element has this class's name (VBD.VM, ...)."""
    return any(f.wire == cls.name for _, f in datamodel.all_fields())


def classes_strict():
    """The object classes whose DTD declaration fixes their children's order and count.

    The classes whose name is also a field's element name (VBD.VM, VDI.SR, ...) take
    mixed content in the DTD, since a DTD declares each element once (docs/api.md);
    test_dtd_mixed_classes_still_refuse_foreign_children covers what it still checks."""
    return [pytest.param(c, id=c.name) for c in object_classes() if not is_field_name(c)]


def classes_mixed():
    return [pytest.param(c, id=c.name) for c in object_classes() if is_field_name(c)]


def parse_dtd(text):
    """The DTD as lxml sees it.

    Classes without fields (the ``event`` extension) produce ``<!ELEMENT event ()>``,
    which is not valid DTD syntax (see test_generated_dtd_parses); those declarations
    are dropped here so that the declarations of the object classes can still be
    checked."""
    try:
        return etree.DTD(io.StringIO(text))
    except etree.DTDParseError:
        return etree.DTD(io.StringIO(re.sub(r"<!ELEMENT \S+ \(\)>", "", text)))


def sample(t, i=0):
    """A non-default value of type ``t``."""
    if isinstance(t, Set):
        return [sample(t.item, 0), sample(t.item, 1)]
    if isinstance(t, Map):
        return {str(sample(t.key, 0)): sample(t.value, 0), str(sample(t.key, 1)): sample(
            t.value, 1)}
    if isinstance(t, Enum):
        return list(t.values)[-1 - i]
    if isinstance(t, Ref):
        return [REF, OTHER][i]
    if t is Int:
        return [2 ** 40, -3][i]
    if t is Float:
        return [0.5, 1.25][i]
    if t is Bool:
        return [True, False][i]
    if t is DateTime:
        return "20260101T12:00:00Z"
    return ["a, (tricky) \\ <value> & \"q\"", "plain"][i]


def record(cls, filled=True):
    return {f.wire: sample(f.type) if filled else f.default_value()
            for f in datamodel.draft_fields(cls)}


# -- Set / Map encoding round trips ------------------------------------------------------

SPECIAL_ITEMS = [
    ["a,b", "(c)", "d\\e"],
    [",", "(", ")", "\\"],
    ["\\,", "\\(", "x\\"],
    ["trailing\\", " leading space", "trailing space "],
    ["", "x"],
    ["a, b", "c"],
    ["((()))", ")(", "\\\\"],
]


@pytest.mark.parametrize("items", SPECIAL_ITEMS)
def test_set_round_trip_with_special_characters(items):
    text = xmltext.encode_value(Set(String), items)
    assert xmltext.decode_set(text) == items


def test_set_encoding_is_the_spec_format():
    assert xmltext.encode_value(Set(Int), [1, 2, 3, 4]) == "1, 2, 3, 4"
    assert xmltext.encode_value(Set(String), []) == ""
    assert xmltext.decode_set("") == []
    assert xmltext.encode_value(Set(String), ["a,b"]) == "a\\,b"


MAP_CASES = [
    {"a,b": "(c)", "d\\e": "f)"},
    {",": "(", ")": "\\", "k": ""},
    {"(1, 2)": "x, y", "": "empty key"},
    {"x\\": "\\y", " sp": "sp "},
    {},
]


@pytest.mark.parametrize("m", MAP_CASES)
def test_map_round_trip_with_special_characters(m):
    text = xmltext.encode_value(Map(String, String), m)
    assert xmltext.decode_map(text) == m


def test_map_encoding_is_the_spec_format():
    assert xmltext.encode_value(Map(Int, Int), {1: 2, 2: 3, 3: 4}) == "(1, 2), (2, 3), (3, 4)"
    assert xmltext.encode_value(Map(String, String), {"a": "(b)"}) == "(a, \\(b\\))"


def test_random_round_trips():
    rnd = random.Random(20060622)
    alphabet = ",()\\ ab"
    for _ in range(3000):
        words = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 6)))
                 for _ in range(rnd.randint(0, 4))]
        items = list(dict.fromkeys(words))
        if items == [""]:
            continue   # the one-element set {""} is spelled "" like the empty set
        assert xmltext.decode_set(xmltext.encode_value(Set(String), items)) == items
        m = {w: w[::-1] + "," for w in items}
        assert xmltext.decode_map(xmltext.encode_value(Map(String, String), m)) == m


def test_decode_map_refuses_malformed_text():
    for bad in ("(a)", "(a, b)(c, d)", "(a,b)"):
        with pytest.raises(ValueError):
            xmltext.decode_map(bad)


def test_scalar_encodings():
    assert xmltext.encode_value(Bool, True) == "true"
    assert xmltext.encode_value(Bool, False) == "false"
    assert xmltext.encode_value(Int, 2 ** 40) == str(2 ** 40)
    assert xmltext.encode_value(Set(Bool), [True, False]) == "true, false"
    assert xmltext.encode_value(Ref("VM"), "") == ""


# -- to_XML ---------------------------------------------------------------------------

@pytest.mark.parametrize("cls", object_classes(), ids=lambda c: c.name)
def test_object_to_xml_has_one_child_per_field_in_order(cls):
    rec = record(cls)
    doc = etree.fromstring(xmlrepr.object_to_xml(cls, REF, rec))
    assert doc.tag == cls.name
    assert [c.tag for c in doc] == [f.wire for f in datamodel.draft_fields(cls)]
    for child, f in zip(doc, datamodel.draft_fields(cls)):
        want = REF if f.wire == "uuid" else xmltext.encode_value(f.type, rec[f.wire])
        assert (child.text or "") == want, f.wire


def test_to_xml_strings_are_xml_escaped_and_read_back():
    cls = datamodel.CLASSES["user"]
    xml = xmlrepr.object_to_xml(cls, REF, {"uuid": REF, "short_name": "a<b>&\"c\"",
                                           "fullname": "]]> x"})
    doc = etree.fromstring(xml)
    assert doc.findtext("short_name") == "a<b>&\"c\""
    assert doc.findtext("fullname") == "]]> x"


# -- the DTD --------------------------------------------------------------------------

def test_generated_dtd_parses():
    """(It used to declare '<!ELEMENT event ()>' for the field-less event class.)"""
    etree.DTD(io.StringIO(xmlrepr.dtd_text()))
    assert xmlrepr.validate(xmlrepr.object_to_xml(
        datamodel.CLASSES["user"], REF, record(datamodel.CLASSES["user"])))


@pytest.mark.parametrize("cls", classes_strict())
def test_dtd_declares_the_class_with_its_fields_in_order(cls):
    decl = "<!ELEMENT %s (%s)>" % (cls.name, ", ".join(f.wire for f in datamodel.draft_fields(cls)))
    assert decl in xmlrepr.dtd_text()


def test_dtd_declares_every_field_element():
    text = xmlrepr.dtd_text()
    for cls, f in ((c, f) for c in datamodel.CLASSES.values() for f in datamodel.draft_fields(c)):
        if f.wire not in datamodel.CLASSES:
            assert "<!ELEMENT %s (#PCDATA)>" % f.wire in text, f.wire
        else:
            assert re.search(r"<!ELEMENT %s \(#PCDATA[ |)]" % f.wire, text), f.wire


@pytest.mark.parametrize("filled", [True, False], ids=["values", "defaults"])
@pytest.mark.parametrize("cls", object_classes(), ids=lambda c: c.name)
def test_dtd_validates_to_xml_of_every_class(cls, filled):
    dtd = parse_dtd(xmlrepr.dtd_text())
    doc = etree.fromstring(xmlrepr.object_to_xml(cls, REF, record(cls, filled)))
    assert dtd.validate(doc), dtd.error_log.filter_from_errors()


@pytest.mark.parametrize("cls", classes_strict())
def test_dtd_rejects_a_document_with_a_missing_child(cls):
    dtd = parse_dtd(xmlrepr.dtd_text())
    doc = etree.fromstring(xmlrepr.object_to_xml(cls, REF, record(cls)))
    doc.remove(doc[len(doc) // 2])
    assert not dtd.validate(doc)


def test_dtd_declares_each_element_name_once():
    names = re.findall(r"<!ELEMENT (\S+) ", xmlrepr.dtd_text())
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


@pytest.mark.parametrize("cls", classes_strict())
def test_dtd_rejects_reordered_repeated_unknown_and_nested_children(cls):
    dtd = parse_dtd(xmlrepr.dtd_text())

    def doc():
        return etree.fromstring(xmlrepr.object_to_xml(cls, REF, record(cls)))
    assert dtd.validate(doc())
    swapped = doc()
    b = swapped[2]
    swapped.remove(b)
    swapped.insert(1, b)
    assert not dtd.validate(swapped)
    repeated = doc()
    etree.SubElement(repeated, repeated[-1].tag).text = "x"
    assert not dtd.validate(repeated)
    extra = doc()
    etree.SubElement(extra, "bogus").text = "x"
    assert not dtd.validate(extra)
    nested = doc()
    plain = next(e for e in nested if e.tag not in datamodel.CLASSES)
    etree.SubElement(plain, "uuid").text = "x"
    assert not dtd.validate(nested)
    stray_text = doc()
    stray_text.text = "stray"
    assert not dtd.validate(stray_text)


@pytest.mark.parametrize("cls", classes_mixed())
def test_dtd_mixed_classes_still_refuse_foreign_children(cls):
    dtd = parse_dtd(xmlrepr.dtd_text())
    extra = etree.fromstring(xmlrepr.object_to_xml(cls, REF, record(cls)))
    assert dtd.validate(extra)
    etree.SubElement(extra, "bogus").text = "x"
    assert not dtd.validate(extra)
    nested = etree.fromstring(xmlrepr.object_to_xml(cls, REF, record(cls)))
    plain = next(e for e in nested if e.tag not in datamodel.CLASSES)
    etree.SubElement(plain, "uuid").text = "x"
    assert not dtd.validate(nested)


def test_dtd_rejects_a_document_of_an_undeclared_class():
    dtd = parse_dtd(xmlrepr.dtd_text())
    assert not dtd.validate(etree.fromstring("<VMGroup><uuid>x</uuid></VMGroup>"))


def test_validate_reports_the_reason(monkeypatch):
    monkeypatch.setattr(xmlrepr, "_DTD", parse_dtd(xmlrepr.dtd_text()))
    cls = datamodel.CLASSES["SR"]
    xml = xmlrepr.object_to_xml(cls, REF, record(cls))
    assert xmlrepr.validate(xml) is True
    broken = xml.replace("<location>", "<locaton>").replace("</location>", "</locaton>")
    with pytest.raises(ValueError):
        xmlrepr.validate(broken)
