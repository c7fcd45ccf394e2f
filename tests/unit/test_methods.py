"""The method table (xen/xend/api/methods.py) against the RPC rules of §1.1-§1.2,
computed from the spec's own field tables (spec_tables.py), not from the datamodel."""

import pytest
from spec_tables import (
    RO_INS,
    RO_RUN,
    RW,
    SPEC_CLASSES,
    SPEC_FIELDS,
    SPEC_LIST_CLASSES,
    SPEC_MESSAGES,
    wire,
)

from xen.xend.api import datamodel, methods


class FakeHandler:
    """Any attribute is a callable that records how it was called."""

    def __init__(self, name):
        self.name = name

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)

        def impl(call, *args):
            return (self.name, attr, args)
        impl.__name__ = attr
        return impl


@pytest.fixture(scope="module")
def table():
    return methods.build({n: FakeHandler(n) for n in datamodel.CLASSES})


# Messages beyond the draft that write a read-only field the way the later Xen-API does
# (VM.set_memory_static_max): declared, never generated, and extensions all.
EXTENSION_WRITERS = {"%s.%s" % (c.name, m.name) for c in datamodel.CLASSES.values()
                     for m in c.messages if m.extension}


def generated_writer(table, name):
    """Whether ``name`` is in the method table as a generated accessor (not a message)."""
    return name in table and name not in EXTENSION_WRITERS


def is_collection(typ):
    return typ.endswith(" Set") or typ.endswith(" Map")


def expected_rpcs(cls_name):
    """The generated RPC names §1.1-§1.2 (plus the conventions of DESIGN.md) give."""
    out = set()
    fields = SPEC_FIELDS[cls_name]
    for name, qual, typ in fields:
        w = wire(name)
        out.add("get_" + w)
        if qual == RW and not is_collection(typ):
            out.add("set_" + w)
        if qual == RW and is_collection(typ):
            out |= {"add_to_" + w, "remove_from_" + w}
    out |= {"create", "delete", "destroy", "get_all", "get_by_uuid", "get_record",
            "get_all_records", "to_XML"}
    names = {n for n, _, _ in fields}
    if "name/label" in names:
        out.add("get_by_name_label")
    if "short_name" in names:
        out.add("get_by_short_name")
    if cls_name in SPEC_LIST_CLASSES:
        out.add("list")
    out |= set(SPEC_MESSAGES[cls_name])
    return {"%s.%s" % (cls_name, m) for m in out}


@pytest.mark.parametrize("cls_name", SPEC_CLASSES)
def test_expected_rpc_names_exist(table, cls_name):
    missing = sorted(expected_rpcs(cls_name) - set(table))
    assert missing == []


@pytest.mark.parametrize("cls_name", SPEC_CLASSES)
def test_no_setter_or_collection_writer_for_read_only_fields(table, cls_name):
    for name, qual, typ in SPEC_FIELDS[cls_name]:
        if qual == RW:
            continue
        w = wire(name)
        for verb in ("set_", "add_to_", "remove_from_"):
            assert not generated_writer(table, "%s.%s%s" % (cls_name, verb, w)), (qual, name)


@pytest.mark.parametrize("cls_name", SPEC_CLASSES)
def test_rw_collections_are_set_whole_but_the_set_side_of_a_bound_pair(table, cls_name):
    """As in 1.0 (VM.set_VCPUs_params of a map); a bound Set changes through its members."""
    for name, qual, typ in SPEC_FIELDS[cls_name]:
        if qual == RW and is_collection(typ):
            bound = datamodel.binding_of_set(cls_name, wire(name)) is not None
            assert ("%s.set_%s" % (cls_name, wire(name)) in table) != bound, name


def test_get_by_name_label_only_where_there_is_a_name_label(table):
    for cls_name in ("VIF", "VBD", "host_cpu", "user", "session"):
        assert "%s.get_by_name_label" % cls_name not in table
    for cls_name in ("VM", "host", "network", "SR", "VDI"):
        assert "%s.get_by_name_label" % cls_name in table


def test_get_by_short_name_only_on_user(table):
    assert "user.get_by_short_name" in table
    assert [n for n in table if n.endswith(".get_by_short_name")] == ["user.get_by_short_name"]


def test_list_only_on_vm_host_network_sr(table):
    assert {n.split(".")[0] for n in table if n.endswith(".list")} == SPEC_LIST_CLASSES


def test_every_method_is_named_after_its_class(table):
    for name, m in table.items():
        assert m.name == name
        assert name.split(".", 1)[0] == m.cls
        assert m.cls in datamodel.CLASSES


@pytest.mark.parametrize("name, arity", [
    ("VM.get_name_label", 1), ("VM.set_name_label", 2), ("VM.add_to_VBDs", 2),
    ("VM.remove_from_VBDs", 2), ("VM.create", 1), ("VM.delete", 1), ("VM.destroy", 1),
    ("VM.get_all", 0), ("VM.list", 0), ("VM.get_by_uuid", 1), ("VM.get_by_name_label", 1),
    ("VM.get_record", 1), ("VM.get_all_records", 0), ("VM.to_XML", 1),
    ("VM.start", 2), ("VM.clone", 2), ("VM.suspend", 2), ("VM.resume", 2), ("VM.pause", 1),
    ("SR.clone", 3), ("VDI.snapshot", 1), ("host.disable", 1), ("user.get_by_short_name", 1),
    ("session.logout", 0),
])
def test_arity_excludes_the_session(table, name, arity):
    assert table[name].arity == arity


def test_login_needs_no_session_and_takes_two_to_four(table):
    m = table["session.login_with_password"]
    assert m.session is False
    assert m.min_params == 2 and m.arity == 4
    for name, m in table.items():
        if name != "session.login_with_password":
            assert m.session is True, name


def test_getters_and_setters_are_bound_to_their_field(table):
    assert table["VM.get_name_label"].impl(None, "ref") == ("VM", "get_field",
                                                             ("name_label", "ref"))
    assert table["VM.set_user_version"].impl(None, "ref", 3) == ("VM", "set_field",
                                                                 ("user_version", "ref", 3))
    # A field with an effect on set is set by the handler's own setter.
    assert table["VDI.set_virtual_size"].impl(None, "r", 8) == (
        "VDI", "set_virtual_size", ("virtual_size", "r", 8))
    assert table["VM.add_to_VBDs"].impl(None, "r", "v") == ("VM", "add_to", ("VBDs", "r", "v"))
    assert table["VM.remove_from_VCPUs_features_force_on"].impl(None, "r", "FPU") == (
        "VM", "remove_from", ("VCPUs_features_force_on", "r", "FPU"))
    assert table["user.get_by_short_name"].impl(None, "bob") == (
        "user", "get_by_field", ("short_name", "bob"))


def test_setter_and_getter_types_come_from_the_field(table):
    vm = datamodel.CLASSES["VM"]
    assert table["VM.get_memory_static_max"].result is vm.field("memory_static_max").type
    assert table["VM.set_bios_boot"].params[1].type is vm.field("bios_boot").type
    assert table["VM.add_to_VCPUs_features_force_on"].params[1].type is \
        vm.field("VCPUs_features_force_on").type.item


def test_required_ref_setters_refuse_null_and_optional_ones_accept_it(table):
    assert table["VBD.set_VM"].params[1].nullable is False
    assert table["VIF.set_network"].params[1].nullable is False
    assert table["VDI.set_SR"].params[1].nullable is False


def test_vm_operations_and_vm_delete_consult_the_lifecycle_table(table):
    for op in SPEC_MESSAGES["VM"]:
        assert table["VM.%s" % op].lifecycle == op
    assert table["VM.delete"].lifecycle == "delete"
    assert table["VM.destroy"].lifecycle == "delete"
    assert table["VDI.delete"].lifecycle is None
    assert table["VM.get_name_label"].lifecycle is None


def test_root_only_methods(table):
    for name in ("host.disable", "host.enable", "host.shutdown", "host.reboot",
                 "user.set_password"):
        assert table[name].root_only, name
    assert not table["VM.start"].root_only


def test_a_declared_message_without_implementation_stops_the_build():
    class Missing(FakeHandler):
        def __getattr__(self, attr):
            if attr == "snapshot":
                raise AttributeError(attr)
            return super().__getattr__(attr)

    handlers = {n: FakeHandler(n) for n in datamodel.CLASSES}
    handlers["VDI"] = Missing("VDI")
    with pytest.raises(RuntimeError):
        methods.build(handlers)


def test_no_generated_rpcs_for_ro_fields_of_every_declared_field(table):
    """The same rule over the whole datamodel, extensions included."""
    for cls, f in datamodel.all_fields():
        if not getattr(cls, "objects", True):
            continue
        assert "%s.get_%s" % (cls.name, f.wire) in table
        if f.qual in (RO_RUN, RO_INS):
            for verb in ("set_", "add_to_", "remove_from_"):
                assert not generated_writer(table, "%s.%s%s" % (cls.name, verb, f.wire))


def test_lifecycle_messages_a_handler_leaves_are_the_domain_owners():
    """A VM power operation the VM handler does not implement runs the domain owner's
    method of the same name, with the call's arguments after the session."""
    class Domains:
        def __getattr__(self, attr):
            return lambda *args: ("domains", attr, args)

    class VMWithoutPowerOps(FakeHandler):
        app = type("App", (), {"domains": Domains()})()

        def __getattr__(self, attr):
            if attr in ("start", "suspend", "hard_shutdown"):
                raise AttributeError(attr)
            return super().__getattr__(attr)
    handlers = {n: FakeHandler(n) for n in datamodel.CLASSES}
    handlers["VM"] = VMWithoutPowerOps("VM")
    table = methods.build(handlers)
    assert table["VM.start"].impl(None, "vm1", True) == ("domains", "start", ("vm1", True))
    assert table["VM.suspend"].impl(None, "vm1", False) == ("domains", "suspend", ("vm1", False))
    assert table["VM.clone"].impl(None, "vm1", "copy") == ("VM", "clone", ("vm1", "copy"))


def test_the_vm_handler_leaves_power_operations_to_the_domain_owner():
    """Only a start is the VM handler's first: in a pool it chooses the host (placement),
    then leaves the start to that host's domain owner."""
    from xen.xend.api.handlers.vm import VMHandler
    from xen.xend.state.domains import Domains
    for op in ("pause", "unpause", "clean_shutdown", "clean_reboot",
               "hard_shutdown", "hard_reboot", "suspend", "resume"):
        assert not hasattr(VMHandler, op) and hasattr(Domains, op), op
    assert hasattr(VMHandler, "start") and hasattr(Domains, "start")
