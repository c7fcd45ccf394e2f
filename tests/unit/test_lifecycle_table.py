"""The VM lifecycle table (xen/xend/api/lifecycle.py)."""

import pytest
from spec_tables import SPEC_ENUMS, SPEC_MESSAGES

from xen.xend.api import datamodel, lifecycle
from xen.xend.api.errors import ApiError

STATES = SPEC_ENUMS["vm_power_state"]

# (state, operation) -> (transient, final). The spec's §2.6.2 fixes: clone and start only
# when Halted, pause only when Running, unpause only when Paused, suspend Running guests,
# resume Suspended ones. The rest is DESIGN.md's table.
EXPECTED = {
    ("Halted", "start"): (None, "Running"),
    ("Halted", "start_paused"): (None, "Paused"),
    ("Halted", "clone"): (None, "Halted"),
    ("Halted", "delete"): (None, "Halted"),
    ("Running", "pause"): (None, "Paused"),
    ("Paused", "unpause"): (None, "Running"),
    ("Running", "clean_shutdown"): ("ShuttingDown", "Halted"),
    ("Running", "clean_reboot"): ("ShuttingDown", "Running"),
    ("Running", "hard_shutdown"): (None, "Halted"),
    ("Paused", "hard_shutdown"): (None, "Halted"),
    ("ShuttingDown", "hard_shutdown"): (None, "Halted"),
    ("Suspended", "hard_shutdown"): (None, "Halted"),
    ("Unknown", "hard_shutdown"): (None, "Halted"),
    ("Running", "hard_reboot"): (None, "Running"),
    ("Paused", "hard_reboot"): (None, "Running"),
    ("Running", "suspend"): (None, "Suspended"),
    ("Paused", "suspend"): (None, "Suspended"),
    ("Suspended", "resume"): (None, "Running"),
    ("Suspended", "resume_paused"): (None, "Paused"),
    # Debugging a guest keeps its power state.
    ("Running", "dump_core"): (None, "Running"),
    ("Paused", "dump_core"): (None, "Paused"),
    ("Running", "send_sysrq"): (None, "Running"),
    ("Running", "send_trigger"): (None, "Running"),
    ("Running", "save"): (None, "Halted"),
    ("Paused", "save"): (None, "Halted"),
    ("Halted", "restore"): (None, "Running"),
    ("Halted", "restore_paused"): (None, "Paused"),
    # Live changes
    ("Running", "set_VCPUs_number_live"): (None, "Running"),
    ("Halted", "set_memory_static_max"): (None, "Halted"),
    ("Running", "set_memory_static_max"): (None, "Running"),
    ("Paused", "set_memory_static_max"): (None, "Paused"),
    ("Running", "add_to_VCPUs_params_live"): (None, "Running"),
    ("Paused", "add_to_VCPUs_params_live"): (None, "Paused"),
    # 1.0: live memory, and migration (refused by its handler until there are pools)
    ("Running", "set_memory_dynamic_max_live"): (None, "Running"),
    ("Paused", "set_memory_dynamic_max_live"): (None, "Paused"),
    ("Running", "set_memory_dynamic_min_live"): (None, "Running"),
    ("Paused", "set_memory_dynamic_min_live"): (None, "Paused"),
    ("Running", "migrate"): (None, "Running"),
}

OPERATIONS = sorted({op for _, op in EXPECTED})


def test_table_is_exactly_the_expected_one():
    got = {k: (t.transient, t.final) for k, t in lifecycle.TABLE.items()}
    assert got == EXPECTED


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("op", OPERATIONS)
def test_transition_allows_exactly_the_table_rows(state, op):
    t = lifecycle.transition(state, op)
    if (state, op) in EXPECTED:
        assert (t.transient, t.final) == EXPECTED[(state, op)]
    else:
        assert t is None


def test_state_constants_are_the_spec_enum_values():
    assert [lifecycle.HALTED, lifecycle.PAUSED, lifecycle.RUNNING, lifecycle.SUSPENDED,
            lifecycle.SHUTTING_DOWN, lifecycle.UNKNOWN] == STATES
    for (state, _), t in lifecycle.TABLE.items():
        assert state in STATES and t.final in STATES
        assert t.transient is None or t.transient in STATES
        assert t.final not in ("ShuttingDown", "Unknown")


def test_every_vm_operation_of_the_spec_is_in_the_table():
    ops = {op for _, op in lifecycle.TABLE}
    for op in SPEC_MESSAGES["VM"]:
        assert op in ops, op
    assert {"start_paused", "resume_paused", "delete"} <= ops


def test_every_lifecycle_message_of_the_datamodel_is_in_the_table():
    ops = {op for _, op in lifecycle.TABLE}
    for cls in datamodel.CLASSES.values():
        for m in cls.messages:
            if m.lifecycle:
                assert m.lifecycle in ops, m.name


@pytest.mark.parametrize("op, flag, expected", [
    ("start", False, "start"), ("start", True, "start_paused"),
    ("resume", False, "resume"), ("resume", True, "resume_paused"),
    ("restore", True, "restore_paused"), ("save", True, "save"),
    ("suspend", True, "suspend"),     # suspend's flag is "live", not start_paused
    ("pause", True, "pause"), ("clone", False, "clone"),
])
def test_table_op(op, flag, expected):
    assert lifecycle.table_op(op, flag) == expected


@pytest.mark.parametrize("op, states", [
    ("start", ["Halted"]), ("start_paused", ["Halted"]), ("clone", ["Halted"]),
    ("delete", ["Halted"]), ("pause", ["Running"]), ("unpause", ["Paused"]),
    ("clean_shutdown", ["Running"]), ("clean_reboot", ["Running"]),
    ("hard_shutdown", ["Running", "Paused", "ShuttingDown", "Suspended", "Unknown"]),
    ("hard_reboot", ["Running", "Paused"]), ("suspend", ["Running", "Paused"]),
    ("resume", ["Suspended"]), ("resume_paused", ["Suspended"]), ("nothing", []),
])
def test_allowed_states(op, states):
    assert lifecycle.allowed_states(op) == states


def test_templates_may_only_be_cloned_and_deleted():
    assert lifecycle.TEMPLATE_OPS == {"clone", "delete"}


def test_starting_operations():
    assert lifecycle.STARTING_OPS == {"start", "start_paused", "resume", "resume_paused",
                                      "restore", "restore_paused"}


def test_describe_has_one_line_per_row():
    lines = lifecycle.describe()
    assert len(lines) == len(EXPECTED)
    for (state, op), (transient, final) in EXPECTED.items():
        match = [line for line in lines if line.split()[:2] == [state, op]]
        assert len(match) == 1, (state, op)
        assert "-> %s" % final in match[0]
        assert (transient in match[0]) if transient else "meanwhile" not in match[0]


ALL_STATES = ["Halted", "Paused", "Running", "Suspended", "ShuttingDown", "Unknown"]


@pytest.mark.parametrize("change, states", [
    ("plug", ["Halted", "Running", "Paused"]), ("unplug", ["Halted", "Running"]),
    ("edit_device", ["Halted"]), ("make_template", ["Halted"]),
])
def test_changes_that_keep_the_power_state(change, states):
    for state in ALL_STATES:
        if state in states:
            lifecycle.require_still("vm1", change, state)
        else:
            with pytest.raises(ApiError) as e:
                lifecycle.require_still("vm1", change, state)
            assert e.value.description == ["VM_BAD_POWER_STATE", "vm1", ",".join(states), state]


def test_a_vm_holds_its_devices_while_resident_or_suspended():
    assert [s for s in ALL_STATES if lifecycle.holds_devices(s)] == [
        "Paused", "Running", "Suspended", "ShuttingDown", "Unknown"]
    # A device record is edited exactly where its VM holds nothing.
    assert [s for s in ALL_STATES if not lifecycle.holds_devices(s)] == \
        list(lifecycle.STILL["edit_device"])
