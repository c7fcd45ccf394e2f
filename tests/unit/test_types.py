"""The type algebra (xen/xend/api/types.py): wire checks and wire forms."""

import pytest

from xen.xend.api import datamodel
from xen.xend.api.handlers.devices import device_number
from xen.xend.api.types import (
    INT64_MAX,
    INT64_MIN,
    NULL_REF,
    Bool,
    Enum,
    Float,
    Int,
    Map,
    Ref,
    Set,
    String,
    TypeMismatch,
    is_collection,
)

# -- Int -----------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (0, 0), (5, 5), (-5, -5), (2 ** 40, 2 ** 40),
    ("0", 0), ("42", 42), ("-42", -42), (str(2 ** 40), 2 ** 40),
    (INT64_MAX, INT64_MAX), (INT64_MIN, INT64_MIN),
    (str(INT64_MAX), INT64_MAX), (str(INT64_MIN), INT64_MIN),
])
def test_int_accepts_ints_and_decimal_strings(value, expected):
    got = Int.from_wire(value)
    assert got == expected and type(got) is int


@pytest.mark.parametrize("value", [True, False, 1.0, 2.5, float("nan"), None, [], {}, b"1",
                                   "", "abc", "1.5", "0x10", "1e3", "+-1", "-", "1 2"])
def test_int_refuses_non_ints(value):
    with pytest.raises(TypeMismatch) as e:
        Int.from_wire(value)
    assert not e.value.bad_value


@pytest.mark.parametrize("value", [INT64_MAX + 1, INT64_MIN - 1, 2 ** 64, str(INT64_MAX + 1),
                                   str(INT64_MIN - 1)])
def test_int_refuses_overflow_as_a_bad_value(value):
    with pytest.raises(TypeMismatch) as e:
        Int.from_wire(value)
    assert e.value.bad_value


@pytest.mark.parametrize("value", ["\u00b2", "--5", "1\u00b2", "\u0663", "-", "5-"])
def test_int_refuses_odd_digit_strings_with_type_mismatch(value):
    """int() takes superscripts and other scripts' digits, or fails with ValueError:
    only ASCII decimals are Ints on this wire (this used to answer INTERNAL_ERROR)."""
    with pytest.raises(TypeMismatch):
        Int.from_wire(value)


@pytest.mark.parametrize("value", [0, 1, -1, 2 ** 40, INT64_MAX, INT64_MIN])
def test_int_to_wire_is_a_decimal_string(value):
    w = Int.to_wire(value)
    assert w == str(value) and isinstance(w, str)
    assert Int.from_wire(w) == value


def test_int_default_and_name():
    assert Int.default() == 0
    assert Int.spec_name() == "int"


# -- other scalars -------------------------------------------------------------------

def test_string():
    assert String.from_wire("abc") == "abc"
    assert String.from_wire("") == ""
    for bad in (1, None, True, ["a"], b"a"):
        with pytest.raises(TypeMismatch):
            String.from_wire(bad)
    assert String.default() == ""


def test_bool():
    assert Bool.from_wire(True) is True and Bool.from_wire(False) is False
    for bad in (0, 1, "true", "false", None, 1.0):
        with pytest.raises(TypeMismatch):
            Bool.from_wire(bad)
    assert Bool.default() is False


def test_float():
    assert Float.from_wire(1.5) == 1.5
    assert Float.from_wire(2) == 2.0 and isinstance(Float.from_wire(2), float)
    for bad in (True, "1.5", None):
        with pytest.raises(TypeMismatch) as e:
            Float.from_wire(bad)
        assert not e.value.bad_value
    for bad in (float("nan"), float("inf"), float("-inf"), 10 ** 400, -10 ** 400):
        with pytest.raises(TypeMismatch) as e:
            Float.from_wire(bad)
        assert e.value.bad_value
    assert isinstance(Float.to_wire(3), float)


def test_enum():
    e = datamodel.ENUMS["vm_power_state"]
    assert e.from_wire("Halted") == "Halted"
    with pytest.raises(TypeMismatch) as exc:
        e.from_wire("halted")          # case matters: spelled exactly as the spec
    assert exc.value.bad_value
    with pytest.raises(TypeMismatch) as exc:
        e.from_wire(1)
    assert not exc.value.bad_value
    assert Enum("x", [("a", "A"), ("b", "B")]).default() == "a"


# -- Ref ---------------------------------------------------------------------------

@pytest.mark.parametrize("alias", ["", "OpaqueRef:NULL"])
def test_ref_null_aliases_become_the_null_ref(alias):
    assert Ref("VM").from_wire(alias) == NULL_REF == ""


def test_ref_keeps_other_strings_and_refuses_non_strings():
    r = "6a5c143c-9b9b-4392-b305-2c927bf4bb6f"
    assert Ref("VM").from_wire(r) == r
    for bad in (None, 1, True, [r]):
        with pytest.raises(TypeMismatch):
            Ref("VM").from_wire(bad)
    assert Ref("VM").default() == ""
    assert Ref("VM").spec_name() == "VM ref"


# -- Set ---------------------------------------------------------------------------

def test_set_deduplicates_keeping_first_order():
    assert Set(String).from_wire(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]
    assert Set(String).from_wire(("x", "x")) == ["x"]


def test_set_dedups_after_normalising_items():
    assert Set(Int).from_wire([1, "1", "01", 2]) == [1, 2]
    assert Set(Ref("VM")).from_wire(["", "OpaqueRef:NULL"]) == [""]


def test_set_checks_every_item():
    with pytest.raises(TypeMismatch):
        Set(String).from_wire(["a", 1])
    with pytest.raises(TypeMismatch) as e:
        Set(datamodel.ENUMS["cpu_feature"]).from_wire(["FPU", "NOPE"])
    assert e.value.bad_value
    for bad in ("abc", {"a": 1}, None):
        with pytest.raises(TypeMismatch):
            Set(String).from_wire(bad)


def test_set_to_wire_converts_items():
    assert Set(Int).to_wire([1, 2 ** 40]) == ["1", str(2 ** 40)]
    assert Set(String).default() == []
    assert Set(Ref("VIF")).spec_name() == "(VIF ref) Set"


# -- Map ---------------------------------------------------------------------------

def test_map_with_int_keys_accepts_decimal_string_keys():
    m = Map(Int, Float)
    got = m.from_wire({"0": 0.5, "1": 1, "17": 0.25})
    assert got == {"0": 0.5, "1": 1.0, "17": 0.25}
    assert m.to_wire(got) == {"0": 0.5, "1": 1.0, "17": 0.25}


def test_map_with_int_keys_normalises_key_spelling():
    m = Map(Int, Float)
    assert m.from_wire({"007": 1.0}) == {"7": 1.0}
    assert m.to_wire(m.from_wire({"03": 1.0})) == {"3": 1.0}


def test_map_with_int_keys_refuses_non_numeric_keys_and_bad_values():
    m = Map(Int, Float)
    with pytest.raises(TypeMismatch):
        m.from_wire({"cpu0": 0.5})
    with pytest.raises(TypeMismatch):
        m.from_wire({"0": "half"})
    with pytest.raises(TypeMismatch) as e:
        m.from_wire({str(2 ** 64): 0.5})
    assert e.value.bad_value


def test_map_wire_keys_are_strings():
    m = Map(Int, Float)
    assert all(isinstance(k, str) for k in m.to_wire({0: 1.0, 5: 2.0}))
    assert Map(String, String).from_wire({"a": "b"}) == {"a": "b"}
    for bad in ([("a", "b")], "a", None):
        with pytest.raises(TypeMismatch):
            Map(String, String).from_wire(bad)
    assert Map(String, String).default() == {}
    assert Map(Int, Float).spec_name() == "(int -> float) Map"


def test_is_collection():
    assert is_collection(Set(String)) and is_collection(Map(String, String))
    for t in (String, Int, Bool, Float, Ref("VM"), datamodel.ENUMS["vbd_mode"]):
        assert not is_collection(t)


def test_an_empty_struct_is_the_empty_set_and_a_struct_with_members_no_set():
    """libxen of Xen 3.1 sends an empty string set as <struct/> (event.register)."""
    assert Set(String).from_wire({}) == []
    with pytest.raises(TypeMismatch):
        Set(String).from_wire({"a": "b"})


@pytest.mark.parametrize("device, number", [("eth0", 0), ("eth12", 12), ("xvda", 51712),
                                            ("xvdb", 51728), ("hda", 768), ("hdb", 832),
                                            ("hdc", 5632), ("hdd", 5696), ("sda", 2048),
                                            ("sdb", 2064), ("vda", None), ("xvdaa", None),
                                            ("eth", None), ("", None)])
def test_a_devices_handle_is_the_number_the_guest_knows_it_by(device, number):
    assert device_number(device) == number


def test_an_enum_takes_the_other_spellings_it_declares_as_its_values():
    """xm of Xen 3.1 sends a VBD's type as its create.dtd spells it."""
    assert datamodel.vbd_type.from_wire("disk") == "Disk"
    assert datamodel.vbd_type.from_wire("cdrom") == "CD"
    with pytest.raises(TypeMismatch):
        datamodel.vbd_type.from_wire("floppy")
