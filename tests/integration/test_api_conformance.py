"""Conformance fixes: writes the draft allows in general but which would contradict the
state of the objects (a running template, a read-only disk a guest writes), values the
daemon would drop or could not honour, and memory defaults that follow the given fields."""

import pytest

from helpers import failure, new_vm, vm_in


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
