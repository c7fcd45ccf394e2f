"""The datamodel against the spec's own tables (§2.1-§2.14) and the error codes the
server raises anywhere in xen/."""

import ast
import os
import re
import string

import pytest
from spec_tables import (
    RO_INS,
    RO_RUN,
    RW,
    SPEC_BINDINGS,
    SPEC_CLASSES,
    SPEC_ENUMS,
    SPEC_FIELDS,
    SPEC_LIST_CLASSES,
    SPEC_MESSAGES,
)

from xen.xend.api import datamodel
from xen.xend.api.errors import ApiError
from xen.xend.api.types import Enum, Ref, Set, is_collection

XEN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "xen")


def spec_classes():
    """The datamodel's classes of the draft: neither beyond both revisions nor 1.0's."""
    return {n: c for n, c in datamodel.CLASSES.items()
            if not c.extension and c.since == "0.2"}


def draft_fields(cls):
    """The draft's declarations of a class's fields."""
    return [f for f in cls.fields_for("0.2") if not f.extension and f.since == "0.2"]


def norm_type(t):
    return t.spec_name().replace("\u2192", "->")


# -- classes ---------------------------------------------------------------------

def test_exactly_the_eleven_classes_of_2_1():
    assert sorted(spec_classes()) == sorted(SPEC_CLASSES)
    assert len(spec_classes()) == 11


def test_class_keys_match_class_names():
    for name, cls in datamodel.CLASSES.items():
        assert cls.name == name


def test_extension_classes_are_marked_and_new():
    for name, cls in datamodel.CLASSES.items():
        if name not in SPEC_CLASSES:
            assert cls.extension or cls.since == "1.0", \
                "%s: not in §2.1, not an extension, not 1.0's" % name


# -- fields ----------------------------------------------------------------------

@pytest.mark.parametrize("cls_name", [c for c in SPEC_CLASSES])
def test_every_spec_field_present_with_qualifier_and_type(cls_name):
    cls = datamodel.CLASSES[cls_name]
    by_name = {f.name: f for f in cls.fields_for("0.2")}
    for name, qual, typ in SPEC_FIELDS[cls_name]:
        assert name in by_name, "%s.%s missing" % (cls_name, name)
        f = by_name[name]
        assert f.qual == qual, "%s.%s: %s, spec says %s" % (cls_name, name, f.qual, qual)
        assert norm_type(f.type) == typ, "%s.%s: %s, spec says %s" % (
            cls_name, name, norm_type(f.type), typ)
        assert not f.extension, "%s.%s is in the spec, not an extension" % (cls_name, name)


@pytest.mark.parametrize("cls_name", [c for c in SPEC_CLASSES])
def test_no_field_beyond_the_spec_unless_marked_extension(cls_name):
    cls = datamodel.CLASSES[cls_name]
    spec_names = {n for n, _, _ in SPEC_FIELDS[cls_name]}
    # session and task have "no fields" in the spec; their uuid is their ref.
    allowed = spec_names | ({"uuid"} if cls_name in ("session", "task") else set())
    extra = [f.name for f in draft_fields(cls) if f.name not in allowed]
    assert extra == []


@pytest.mark.parametrize("cls_name", ["VM", "VDI", "VBD", "SR"])
def test_draft_fields_exactly_the_spec_table_in_order(cls_name):
    got = [(f.name, f.qual, norm_type(f.type)) for f in draft_fields(datamodel.CLASSES[cls_name])]
    assert got == SPEC_FIELDS[cls_name]


def test_qualifier_constants():
    assert (datamodel.RO_RUN, datamodel.RO_INS, datamodel.RW) == (RO_RUN, RO_INS, RW)
    for _, f in datamodel.all_fields():
        assert f.qual in (RO_RUN, RO_INS, RW)


def test_wire_names_replace_slashes():
    vm = datamodel.CLASSES["VM"]
    assert vm.field("name_label").name == "name/label"
    assert vm.field("name_description").name == "name/description"
    assert vm.field("memory_static_max").name == "memory/static_max"
    assert vm.field("VCPUs_features_force_on").name == "VCPUs/features/force_on"
    assert vm.field("name/label") is None
    for cls, f in datamodel.all_fields():
        assert f.wire == f.name.replace("/", "_")
        assert "/" not in f.wire
        assert cls.field(f.wire, f.rev or "0.2") is f


def test_wire_names_unique_within_each_class_and_revision():
    for cls in datamodel.CLASSES.values():
        for rev in datamodel.REVISIONS:
            wires = [f.wire for f in cls.fields_for(rev)]
            assert len(wires) == len(set(wires)), (cls.name, rev)


def test_a_name_declared_for_one_revision_has_a_meaning_in_the_other():
    """A field or message one revision declares differently: the other revision
    declares it too (or, for a message, has a field whose getter it is)."""
    for cls in datamodel.CLASSES.values():
        for item in cls.fields + cls.messages:
            if not item.rev:
                continue
            name = getattr(item, "wire", item.name)
            for rev in datamodel.REVISIONS:
                names = {f.wire for f in cls.fields_for(rev)} | {
                    m.name for m in cls.messages_for(rev)} | {
                    "get_" + f.wire for f in cls.fields_for(rev)}
                assert name in names, (cls.name, name, rev)


def test_every_object_class_has_a_uuid_field():
    for cls in datamodel.CLASSES.values():
        if getattr(cls, "objects", True):
            f = cls.field("uuid")
            assert f is not None and f.qual == RO_RUN, cls.name


def test_required_fields_are_constructor_fields():
    for cls, f in datamodel.all_fields():
        if f.required:
            assert f.qual in (RW, RO_INS), "%s.%s" % (cls.name, f.name)


def test_defaults_are_valid_values_of_their_type():
    for cls, f in datamodel.all_fields():
        v = f.default_value()
        if isinstance(f.type, Enum):
            assert v in f.type.values, "%s.%s default %r" % (cls.name, f.name, v)
        # every default survives its own type's input check
        wire_v = f.type.to_wire(v)
        if not isinstance(f.type, Ref) or v:
            if f.type.spec_name() != "datetime":
                assert f.type.from_wire(wire_v) == v, "%s.%s" % (cls.name, f.name)


def test_vm_memory_defaults_respect_the_ordering():
    vm = datamodel.CLASSES["VM"]
    smin, dmin, dmax, smax = (vm.field(w).default_value() for w in (
        "memory_static_min", "memory_dynamic_min", "memory_dynamic_max", "memory_static_max"))
    assert 0 <= smin <= dmin <= dmax <= smax


# -- enums -------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SPEC_ENUMS))
def test_enum_values_spelled_exactly(name):
    assert name in datamodel.ENUMS
    assert list(datamodel.ENUMS[name].values) == SPEC_ENUMS[name]


def test_enum_descriptions_present():
    for name in SPEC_ENUMS:
        for value, desc in datamodel.ENUMS[name].values.items():
            assert isinstance(desc, str) and desc, (name, value)


def test_enum_field_types_are_the_declared_enum_objects():
    for cls, f in datamodel.all_fields():
        t = f.type.item if isinstance(f.type, Set) else f.type
        if isinstance(t, Enum):
            assert datamodel.ENUMS[t.name] is t, "%s.%s" % (cls.name, f.name)


def test_spec_power_state_descriptions():
    assert datamodel.ENUMS["vm_power_state"].values["ShuttingDown"] == "Shutting Down"
    assert datamodel.ENUMS["cpu_feature"].values["3DNOW"] == "3DNow!"


# -- bound fields (§2.2) -------------------------------------------------------------

def test_the_eight_bound_pairs_of_2_2():
    got = {}
    draft = [b for b in datamodel.BINDINGS
             if not datamodel.CLASSES[b.ref_class].extension
             and not datamodel.CLASSES[b.set_class].field(b.set_field).extension]
    for b in draft:
        pair = frozenset(["%s.%s" % (b.ref_class, b.ref_field), "%s.%s" % (b.set_class,
                                                                           b.set_field)])
        got[pair] = b.relationship
    want = {frozenset([a, c]): rel for a, c, rel in SPEC_BINDINGS}
    assert len(draft) == 8
    assert got == want


def test_bound_pairs_are_a_ref_and_a_set_of_refs_pointing_at_each_other():
    for b in datamodel.BINDINGS:
        rf = datamodel.CLASSES[b.ref_class].field(b.ref_field)
        sf = datamodel.CLASSES[b.set_class].field(b.set_field)
        assert isinstance(rf.type, Ref) and rf.type.cls == b.set_class, b
        assert isinstance(sf.type, Set) and isinstance(sf.type.item, Ref), b
        assert sf.type.item.cls == b.ref_class, b
        assert datamodel.binding_of_ref(b.ref_class, b.ref_field) == b
        assert datamodel.binding_of_set(b.set_class, b.set_field) == b


def test_bound_pair_lookup_misses():
    assert datamodel.binding_of_set("VM", "name_label") is None
    assert datamodel.binding_of_ref("VM", "VBDs") is None


@pytest.mark.parametrize("ref_side, set_side, on_delete", [
    ("VDI.SR", "SR.VDIs", "refuse"),            # deleting an SR with VDIs
    ("VBD.VDI", "VDI.VBDs", "refuse"),          # deleting a VDI with VBDs
    ("VDI.parent", "VDI.children", "refuse"),   # deleting a VDI with children
    ("VIF.network", "network.VIFs", "refuse"),  # deleting a network with VIFs
    ("VBD.VM", "VM.VBDs", "cascade"),           # deleting a VM deletes its VBDs
    ("VIF.VM", "VM.VIFs", "cascade"),           # ... and its VIFs
])
def test_delete_rules(ref_side, set_side, on_delete):
    rc, rf = ref_side.split(".")
    b = datamodel.binding_of_ref(rc, rf)
    assert "%s.%s" % (b.set_class, b.set_field) == set_side
    assert b.on_delete == on_delete


# -- messages ------------------------------------------------------------------------

@pytest.mark.parametrize("cls_name", SPEC_CLASSES)
def test_additional_rpcs_of_the_spec_declared(cls_name):
    cls = datamodel.CLASSES[cls_name]
    by_name = {m.name: m for m in cls.messages_for("0.2")}
    for name, params in SPEC_MESSAGES[cls_name].items():
        assert name in by_name, "%s.%s missing" % (cls_name, name)
        got = [p.name for p in by_name[name].params]
        assert got[:len(params)] == params, "%s.%s params %s" % (cls_name, name, got)
    for m in cls.messages:
        assert m.extension or m.since == "1.0" or m.name in SPEC_MESSAGES[cls_name], \
            "%s.%s" % (cls_name, m.name)


def test_list_rpc_only_where_the_spec_gives_one():
    for name, cls in spec_classes().items():
        assert cls.list_rpc == (name in SPEC_LIST_CLASSES), name


def test_vm_operations_name_their_lifecycle_operation():
    vm = datamodel.CLASSES["VM"]
    for m in vm.messages:
        if m.name in SPEC_MESSAGES["VM"]:
            assert m.lifecycle == m.name
            assert m.params[0].type.cls == "VM"


def test_only_login_needs_no_session():
    for cls in datamodel.CLASSES.values():
        for m in cls.messages:
            assert m.session == (not (cls.name == "session" and m.name == "login_with_password")), \
                "%s.%s" % (cls.name, m.name)


def test_creatable_and_deletable_flags():
    c = datamodel.CLASSES
    for name in ("host", "host_cpu", "session", "task"):
        assert not c[name].creatable, name
    for name in ("VM", "network", "VIF", "SR", "VDI", "VBD", "user"):
        assert c[name].creatable and c[name].deletable, name
    assert not c["host"].deletable and not c["host_cpu"].deletable


def test_stored_classes():
    stored = {c.name for c in datamodel.CLASSES.values() if c.stored}
    # A running guest's consoles keep their refs and other_config across a restart.
    assert stored == set(SPEC_CLASSES) - {"session", "task"} | {"console"}


# -- error codes -----------------------------------------------------------------------

DESIGN_ERRORS = {
    "SESSION_AUTHENTICATION_FAILED": 2, "SESSION_INVALID": 1, "HANDLE_INVALID": 2,
    "UUID_INVALID": 2, "MESSAGE_METHOD_UNKNOWN": 1, "MESSAGE_PARAMETER_COUNT_MISMATCH": 3,
    "FIELD_TYPE_ERROR": 1, "INVALID_VALUE": 2, "VALUE_NOT_SUPPORTED": 3,
    "VM_BAD_POWER_STATE": 3, "OPERATION_NOT_ALLOWED": 1, "VM_IS_TEMPLATE": 1,
    "PERMISSION_DENIED": 1, "TASK_CANCELLED": 1, "INTERNAL_ERROR": 1,
    "OTHER_OPERATION_IN_PROGRESS": 2,
    # 1.0: error codes of Xen-API 1.0, with its parameters
    "VM_HVM_REQUIRED": 1, "NETWORK_ALREADY_CONNECTED": 2, "PIF_IS_PHYSICAL": 1,
    "VLAN_TAG_INVALID": 1,
}


def test_design_error_codes_declared_with_their_parameter_counts():
    for code, n in DESIGN_ERRORS.items():
        assert code in datamodel.ERRORS, code
        assert len(datamodel.ERRORS[code].params) == n, code


def test_every_declared_error_has_a_doc_and_a_sentence_over_its_parameters():
    for code, e in datamodel.ERRORS.items():
        assert e.code == code
        assert e.doc.strip() and e.sentence.strip(), code
        placeholders = {name for _, name, _, _ in string.Formatter().parse(e.sentence)
                        if name is not None}
        assert placeholders <= set(e.params), code
        # Every parameter the doc speaks of is one the code has.
        assert set(re.findall(r"`([a-z_]+)`", e.doc)) <= set(e.params), code


def _python_files():
    for dirpath, _, files in os.walk(XEN_DIR):
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(dirpath, name)


def _raised_codes():
    """(file, line, code, n_params or None) for every literal error code in xen/."""
    out = []
    for path in _python_files():
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(
                fn, ast.Attribute) else None
            if name in ("ApiError", "BackendError") and node.args and isinstance(
                    node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                starred = any(isinstance(a, ast.Starred) for a in node.args)
                out.append((path, node.lineno, node.args[0].value,
                            None if starred else len(node.args) - 1))
            elif name == "failure" and node.args and isinstance(node.args[0], ast.List) \
                    and node.args[0].elts and isinstance(node.args[0].elts[0], ast.Constant):
                elts = node.args[0].elts
                starred = any(isinstance(a, ast.Starred) for a in elts)
                out.append((path, node.lineno, elts[0].value,
                            None if starred else len(elts) - 1))
    return out


def test_grep_finds_the_error_codes():
    codes = {c for _, _, c, _ in _raised_codes()}
    # sanity: the scan does see the codes every server raises
    assert {"HANDLE_INVALID", "SESSION_INVALID", "VM_BAD_POWER_STATE",
            "MESSAGE_METHOD_UNKNOWN"} <= codes


def test_every_error_code_raised_in_xen_is_declared():
    undeclared = ["%s:%d %s" % (os.path.relpath(p, XEN_DIR), line, code)
                  for p, line, code, _ in _raised_codes() if code not in datamodel.ERRORS]
    assert undeclared == []


def test_every_error_code_raised_in_xen_has_the_declared_parameter_count():
    wrong = ["%s:%d %s has %d params, declared %d" % (
        os.path.relpath(p, XEN_DIR), line, code, n, len(datamodel.ERRORS[code].params))
        for p, line, code, n in _raised_codes()
        if code in datamodel.ERRORS and n is not None
        and n != len(datamodel.ERRORS[code].params)]
    assert wrong == []


def test_every_error_code_literal_in_xen_is_declared():
    """A cruder grep: any ``ApiError("CODE"`` text, including ones the AST scan misses."""
    pattern = re.compile(r'(?:ApiError|BackendError)\(\s*"([A-Z][A-Z0-9_]+)"')
    found = set()
    for path in _python_files():
        with open(path) as f:
            found |= set(pattern.findall(f.read()))
    assert found and found <= set(datamodel.ERRORS), found - set(datamodel.ERRORS)


def test_api_error_refuses_undeclared_codes_and_wrong_counts():
    e = ApiError("NO_SUCH_CODE", "x")
    assert e.code == "INTERNAL_ERROR" and len(e.description) == 2
    e = ApiError("HANDLE_INVALID", "VM")           # one parameter short
    assert e.code == "INTERNAL_ERROR"
    e = ApiError("HANDLE_INVALID", "VM", "abc")
    assert e.description == ["HANDLE_INVALID", "VM", "abc"]
    e = ApiError("MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", 2, 1)
    assert e.description == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "2", "1"]
    assert all(isinstance(p, str) for p in e.description)


def test_optional_parameters_are_trailing():
    for cls in datamodel.CLASSES.values():
        for m in cls.messages:
            flags = [p.optional for p in m.params]
            assert flags == sorted(flags), "%s.%s" % (cls.name, m.name)


def test_field_roles_are_declared_where_the_daemon_gives_them():
    def wires(flag):
        return {(c.name, f.wire) for c, f in datamodel.all_fields() if getattr(f, flag)}
    assert wires("host_path") == {("VM", "kernel_kernel"), ("VM", "kernel_initrd"),
                                  ("VM", "bios_cdrom")}
    assert wires("on_set") == {("VM", "is_a_template"), ("VM", "memory_dynamic_max"),
                               ("VM", "memory_dynamic_min"), ("network", "NIC"),
                               ("network", "VLAN"), ("VDI", "virtual_size"),
                               ("VM", "VCPUs_params")}
    lookups = wires("lookup")
    assert {("user", "short_name"), ("VM", "name_label"), ("task", "name_label")} <= lookups
    assert wires("indexed") == lookups | {("VIF", "MAC")}
    for c, f in datamodel.all_fields():
        # on_set replaces set_<wire>, which only RW fields that are not Sets or Maps have.
        assert not (f.on_set and (f.qual != datamodel.RW or is_collection(f.type))), (
            c.name, f.wire)
        assert not (f.lookup and f.type is not datamodel.String), (c.name, f.wire)
