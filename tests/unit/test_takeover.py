"""A dead member's guests taken over by the domain owner (state/hostfailure.py): all
Halted in one transaction, then those whose ha_restart_priority asks for it started here,
"restart" before "best-effort", each in order; never twice; one that cannot start is left
Halted and logged."""

import types

import pytest
from owners import sim_owner

from xen.xend.backend.base import BackendError

DEAD = "dead-host"
# name: (ha_restart_priority, order)
GUESTS = {"web": ("restart", 2), "db": ("restart", 1), "batch": ("best-effort", 0),
          "scratch": ("", 0)}


@pytest.fixture
def owner(tmp_path):
    owner = sim_owner(tmp_path)
    owner.app.leases = types.SimpleNamespace(expired=lambda: [DEAD], fenced=False)
    # Placement (a daemon's start_placed) chooses this host: the only live one here.
    owner.app.start_placed = lambda vm: owner.start(vm, False)
    with owner.store.transaction() as txn:
        txn.create("host", DEAD, {"enabled": True})
        txn.create("VM", "dom0-of-dead", {"power_state": "Running", "resident_on": DEAD,
                                          "is_control_domain": True})
        for name, (priority, order) in GUESTS.items():
            txn.create("VM", name, {"power_state": "Running", "resident_on": DEAD,
                                    "name_label": name, "ha_restart_priority": priority,
                                    "order": order})
    started = []
    start = owner.backend.start

    def recording_start(spec, paused):
        started.append(spec.uuid)
        return start(spec, paused)
    owner.backend.start = recording_start
    owner.started = started
    yield owner
    owner.store.close()


def where(owner, vm):
    rec = owner.store.get("VM", vm)
    return rec["power_state"], rec["resident_on"]


def test_a_dead_members_guests_restart_here_in_order(owner):
    owner.take_over()
    assert owner.started == ["db", "web", "batch"]
    for vm in ("db", "web", "batch"):
        assert where(owner, vm) == ("Running", "h")
    assert where(owner, "scratch") == ("Halted", "")
    assert where(owner, "dom0-of-dead") == ("Running", DEAD)   # no guest: left as it is


def test_a_second_takeover_restarts_nothing(owner):
    owner.take_over()
    owner.take_over()     # a second survivor finds them Halted or elsewhere
    assert owner.started == ["db", "web", "batch"]


def test_a_guest_that_cannot_start_is_left_halted(owner, caplog):
    start = owner.backend.start

    def no_room_for_web(spec, paused):
        if spec.uuid == "web":
            raise BackendError("HOST_NOT_ENOUGH_FREE_MEMORY", spec.uuid)
        return start(spec, paused)
    owner.backend.start = no_room_for_web
    owner.take_over()
    assert where(owner, "web") == ("Halted", "")
    assert where(owner, "batch") == ("Running", "h")
    assert "VM 'web' (web): not restarted after its host died; left Halted" in caplog.text


def test_a_member_alive_again_keeps_its_guests(owner):
    owner.app.leases.expired = lambda: []    # it renewed before the writers' lock was had
    owner.take_over()
    assert owner.started == []
    assert where(owner, "web") == ("Running", DEAD)
