"""Conformance fixes: writes the draft allows in general but which would contradict the
state of the objects (a running template, a read-only disk a guest writes), values the
daemon would drop or could not honour, and memory defaults that follow the given fields."""

import pytest

from helpers import MIB, failure, new_vm, unique, vm_in


@pytest.fixture(scope="module")
def api(root):
    return root


# -- VM.is_a_template: only a Halted VM becomes a template (§2.6.1) -------------------------

@pytest.mark.parametrize("state", ["Running", "Paused", "Suspended"])
def test_a_vm_that_is_not_halted_cannot_become_a_template(api, state):
    vm = vm_in(api, state)
    assert failure(api.VM.set_is_a_template, vm, True) == \
        ["VM_BAD_POWER_STATE", vm, "Halted", state]
    assert api.VM.get_is_a_template(vm) is False
    api.VM.hard_shutdown(vm)            # not stuck: it stops as any VM does
    assert api.VM.get_power_state(vm) == "Halted"


def test_a_halted_vm_becomes_a_template_and_back(api):
    vm = new_vm(api)
    api.VM.set_is_a_template(vm, True)
    assert api.VM.get_is_a_template(vm) is True
    assert failure(api.VM.start, vm, False) == ["VM_IS_TEMPLATE", vm]
    api.VM.set_is_a_template(vm, False)
    api.VM.start(vm, False)
    api.VM.set_is_a_template(vm, False)  # unchanged: no transition, allowed while running
    api.VM.hard_shutdown(vm)


def test_a_template_may_be_created_halted(api):
    vm = new_vm(api, is_a_template=True)
    assert api.VM.get_is_a_template(vm) is True
    assert api.VM.get_power_state(vm) == "Halted"


# -- VM.create: omitted memory fields follow the given ones -------------------------------------

FIELDS = ("memory_static_min", "memory_dynamic_min", "memory_dynamic_max", "memory_static_max")


def memory_of(api, vm):
    rec = api.VM.get_record(vm)
    return tuple(int(rec[f]) // MIB for f in FIELDS)


# given (field: MiB) -> (static_min, dynamic_min, dynamic_max, static_max) in MiB
DEFAULTS = [
    ({}, (16, 256, 256, 256)),
    ({"memory_static_max": 128}, (16, 128, 128, 128)),
    ({"memory_static_max": 1024}, (16, 256, 1024, 1024)),
    ({"memory_static_max": 8}, (8, 8, 8, 8)),
    ({"memory_dynamic_max": 128}, (16, 128, 128, 128)),
    ({"memory_dynamic_max": 1024}, (16, 256, 1024, 1024)),
    ({"memory_dynamic_min": 512}, (16, 512, 512, 512)),
    ({"memory_dynamic_min": 8}, (8, 8, 256, 256)),
    ({"memory_static_min": 512}, (512, 512, 512, 512)),
    ({"memory_static_min": 8}, (8, 256, 256, 256)),
    ({"memory_static_min": 300}, (300, 300, 300, 300)),
    ({"memory_static_max": 1024, "memory_dynamic_max": 512}, (16, 256, 512, 1024)),
    ({"memory_static_max": 1024, "memory_dynamic_min": 64}, (16, 64, 1024, 1024)),
    ({"memory_static_min": 32, "memory_static_max": 64}, (32, 64, 64, 64)),
    ({"memory_dynamic_min": 32, "memory_dynamic_max": 64}, (16, 32, 64, 64)),
]


@pytest.mark.parametrize("given, expected", DEFAULTS,
                         ids=["+".join(f[7:] for f in g) or "none" for g, _ in DEFAULTS])
def test_omitted_memory_fields_follow_the_given_ones(api, given, expected):
    vm = new_vm(api, **{f: str(v * MIB) for f, v in given.items()})
    assert memory_of(api, vm) == expected


@pytest.mark.parametrize("given, named", [
    ({"memory_static_max": 64, "memory_static_min": 128}, "memory_static_min"),
    ({"memory_dynamic_max": 64, "memory_dynamic_min": 128}, "memory_dynamic_min"),
    ({"memory_static_max": 64, "memory_dynamic_min": 128}, "memory_dynamic_min"),
    ({"memory_dynamic_max": 64, "memory_static_min": 128}, "memory_static_min"),
])
def test_given_memory_fields_out_of_order_name_a_given_field(api, given, named):
    d = failure(api.VM.create, dict({"name_label": unique("vm")},
                                    **{f: str(v * MIB) for f, v in given.items()}))
    assert d[:2] == ["INVALID_VALUE", named]


def test_a_negative_memory_field_is_named_itself(api):
    d = failure(api.VM.create, {"name_label": unique("vm"), "memory_dynamic_min": "-1"})
    assert d[:2] == ["INVALID_VALUE", "memory_dynamic_min"]
