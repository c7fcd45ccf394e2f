"""Consistency rules of VM records: the memory ordering, required CPU features, and
force_on/force_off features the QEMU backend cannot set."""

import pytest
from harness import MIB, failure, memory, new_no_os_vm, new_vm, unique
from metricshelp import spec_or_wire

from xen.xend.host import facts

ORDER = ["memory_static_min", "memory_dynamic_min", "memory_dynamic_max", "memory_static_max"]


def _vms_named(api, name):
    return api.VM.get_by_name_label(name)


# -- memory: static_min <= dynamic_min <= dynamic_max <= static_max --------------------------

@pytest.mark.parametrize("values, pair", [
    ((64, 32, 128, 256), (0, 1)),       # static_min > dynamic_min
    ((16, 128, 64, 256), (1, 2)),       # dynamic_min > dynamic_max
    ((16, 64, 256, 128), (2, 3)),       # dynamic_max > static_max
], ids=["static_min>dynamic_min", "dynamic_min>dynamic_max", "dynamic_max>static_max"])
def test_create_refuses_memory_out_of_order_naming_the_field(sim_api, values, pair):
    name = unique("order")
    rec = {f: str(v * MIB) for f, v in zip(ORDER, values)}
    err = failure(sim_api.VM.create, dict(rec, name_label=name))
    assert err[0] == "INVALID_VALUE", err
    assert spec_or_wire(err[1]) in (ORDER[pair[0]], ORDER[pair[1]]), err
    assert _vms_named(sim_api, name) == []


def test_create_accepts_memory_in_order_including_equal_values(sim_api):
    vm = new_vm(sim_api, **memory(128 * MIB, 128 * MIB, 128 * MIB, static_min=128 * MIB))
    rec = sim_api.VM.get_record(vm)
    assert [int(rec[f]) for f in ORDER] == [128 * MIB] * 4


def test_create_refuses_a_negative_static_min(sim_api):
    name = unique("neg")
    rec = dict(memory(128 * MIB), memory_static_min=str(-MIB), name_label=name)
    err = failure(sim_api.VM.create, rec)
    assert err[0] == "INVALID_VALUE" and spec_or_wire(err[1]) == "memory_static_min", err
    assert _vms_named(sim_api, name) == []


# The VM: static_min 32, dynamic_min 64, dynamic_max 128, static_max 256 (MiB).
@pytest.mark.parametrize("field, value", [
    ("memory_dynamic_max", 512),        # above static_max
    ("memory_dynamic_max", 48),         # below dynamic_min
    ("memory_dynamic_min", 192),        # above dynamic_max
    ("memory_dynamic_min", 16),         # below static_min
], ids=["dynamic_max>static_max", "dynamic_max<dynamic_min", "dynamic_min>dynamic_max",
        "dynamic_min<static_min"])
def test_each_memory_setter_refuses_out_of_order_naming_the_field(sim_api, field, value):
    api = sim_api
    vm = new_vm(api, **memory(256 * MIB, 128 * MIB, 64 * MIB, static_min=32 * MIB))
    before = api.VM.get_record(vm)
    err = failure(getattr(api.VM, "set_" + field), vm, str(value * MIB))
    assert err[0] == "INVALID_VALUE", err
    assert api.VM.get_record(vm) == before
    # INVALID_VALUE [field, value]: the field the caller set, and the value it gave.
    assert spec_or_wire(err[1]) == field, err
    assert str(value * MIB) in err[2], err


def test_memory_setters_accept_values_in_order(sim_api):
    api = sim_api
    vm = new_vm(api, **memory(256 * MIB, 128 * MIB, 64 * MIB, static_min=32 * MIB))
    api.VM.set_memory_dynamic_max(vm, str(256 * MIB))      # up to static_max
    api.VM.set_memory_dynamic_min(vm, str(32 * MIB))       # down to static_min
    api.VM.set_memory_dynamic_max(vm, str(32 * MIB))       # down to dynamic_min
    api.VM.set_memory_dynamic_min(vm, str(32 * MIB))
    rec = api.VM.get_record(vm)
    assert [int(rec[f]) for f in ORDER] == [32 * MIB, 32 * MIB, 32 * MIB, 256 * MIB]


def test_memory_static_fields_keep_their_order(sim_api):
    """memory/static_min has no setter; memory/static_max's own message (the later API's
    VM.set_memory_static_max) never takes it below memory/dynamic_max."""
    vm = new_vm(sim_api)
    err = failure(sim_api.VM.set_memory_static_min, vm, str(64 * MIB))
    assert err[0] == "FIELD_READ_ONLY", err
    err = failure(sim_api.VM.set_memory_static_max, vm, str(64 * MIB))
    assert err[:2] == ["INVALID_VALUE", "memory_static_max"], err


# -- VCPUs/features/required ---------------------------------------------------------------

def _host_features():
    """The cpu_feature values every CPU of this host has (from /proc/cpuinfo)."""
    cpus = facts.read_cpus()
    return set.intersection(*(set(c.features) for c in cpus))


def _missing_feature():
    """A cpu_feature value no CPU of this host has (the enum is CPU_FEATURES' values)."""
    present = set().union(*(set(c.features) for c in facts.read_cpus()))
    for feature in ("IA64", "LONGRUN", "CYRIX_ARR", "3DNOW", "XSTORE", "K7"):
        if feature not in present:
            return feature
    pytest.skip("this host has every candidate feature")


@pytest.fixture(params=["sim", pytest.param("qemu", marks=pytest.mark.qemu)])
def any_api(request):
    return request.getfixturevalue(request.param + "_api")


def test_start_fails_naming_a_required_feature_the_host_lacks(any_api):
    api = any_api
    feature = _missing_feature()
    vm = new_no_os_vm(api, VCPUs_features_required=[feature])
    assert api.VM.get_VCPUs_features_required(vm) == [feature]
    for paused in (False, True):
        err = failure(api.VM.start, vm, paused)
        assert err[0] == "VALUE_NOT_SUPPORTED", err
        assert spec_or_wire(err[1]) == "VCPUs_features_required", err
        assert err[2] == feature, err
    assert api.VM.get_power_state(vm) == "Halted"
    assert api.VM.get_resident_on(vm) == ""


def test_start_succeeds_when_the_host_has_every_required_feature(any_api):
    api = any_api
    have = sorted(_host_features())[:4]
    assert have, "the host shows no cpu_feature at all"
    vm = new_no_os_vm(api, VCPUs_features_required=have)
    api.VM.start(vm, True)
    assert api.VM.get_power_state(vm) == "Paused"


# -- force_on / force_off on the QEMU backend --------------------------------------------------

# Linux-synthesised flags: no CPUID bit QEMU could set or clear.
NO_CPUID_BIT = ["CONSTANT_TSC", "K8"]


@pytest.mark.qemu
@pytest.mark.parametrize("field", ["VCPUs_features_force_on", "VCPUs_features_force_off"])
@pytest.mark.parametrize("feature", NO_CPUID_BIT)
def test_qemu_refuses_a_feature_it_cannot_set_at_create(qemu_api, field, feature):
    name = unique("force")
    err = failure(qemu_api.VM.create, {"name_label": name, field: [feature]})
    assert err[0] == "VALUE_NOT_SUPPORTED", err
    assert spec_or_wire(err[1]) == field, err
    assert err[2] == feature, err
    assert qemu_api.VM.get_by_name_label(name) == []


@pytest.mark.qemu
@pytest.mark.parametrize("field", ["VCPUs_features_force_on", "VCPUs_features_force_off"])
def test_qemu_refuses_a_feature_it_cannot_set_when_added(qemu_api, field):
    api = qemu_api
    vm = new_no_os_vm(api, **{field: ["XMM2"]})        # sse2: QEMU can set that one
    assert getattr(api.VM, "get_" + field)(vm) == ["XMM2"]
    for feature in NO_CPUID_BIT:
        err = failure(getattr(api.VM, "add_to_" + field), vm, feature)
        assert err[0] == "VALUE_NOT_SUPPORTED", err
        assert spec_or_wire(err[1]) == field and err[2] == feature, err
    assert getattr(api.VM, "get_" + field)(vm) == ["XMM2"]
    getattr(api.VM, "add_to_" + field)(vm, "CX16")
    assert sorted(getattr(api.VM, "get_" + field)(vm)) == ["CX16", "XMM2"]
