"""What the domain owner (state/domains.py) keeps of each guest for VM.domid, start_time
and crashed: a new domid for each new guest, never given twice, kept in the store."""

import pytest
from owners import sim_owner

from xen.xend.backend.base import GUEST_CRASH, GUEST_REBOOT


@pytest.fixture
def owner(tmp_path):
    owner = sim_owner(tmp_path, actions_after_crash="preserve",
                      actions_after_reboot="restart")
    yield owner
    owner.store.close()


def guest(owner):
    """vm1's (domid, start_time, crashed) as stored."""
    rec = owner.store.get("VM", "vm1")
    return rec.get("_domid"), rec.get("_start_time"), rec.get("_crashed", False)


def test_each_new_guest_gets_the_next_domid(owner):
    owner.start("vm1", False)
    first, started, _ = guest(owner)
    assert first == 1 and started.endswith("Z")
    owner.pause("vm1")
    owner.unpause("vm1")
    assert guest(owner)[0] == first           # the same guest
    seen = [first]
    for change in (lambda: owner.hard_reboot("vm1"),
                   lambda: owner.guest_event("vm1", GUEST_REBOOT),
                   lambda: (owner.suspend("vm1", False), owner.resume("vm1", False)),
                   lambda: (owner.hard_shutdown("vm1"), owner.start("vm1", False))):
        change()
        seen.append(guest(owner)[0])
    assert seen == sorted(set(seen)), seen    # new each time, increasing


def test_domids_are_not_given_again_after_a_restart(tmp_path):
    owner = sim_owner(tmp_path)
    owner.start("vm1", False)
    owner.hard_shutdown("vm1")
    owner.store.close()
    # The same state again (a daemon restart): the counter went on.
    again = sim_owner(tmp_path)
    try:
        again.start("vm1", False)
        assert guest(again)[0] == 2
    finally:
        again.store.close()


def test_a_crashed_guest_that_is_kept_is_flagged_until_its_state_changes(owner):
    owner.start("vm1", False)
    domid = guest(owner)[0]
    owner.guest_event("vm1", GUEST_CRASH)
    assert owner.store.get("VM", "vm1")["power_state"] == "Paused"
    assert guest(owner)[0] == domid and guest(owner)[2] is True
    owner.backend.pause("vm1")                # stopped, as a real crashed guest is
    owner.reattach_all()                      # a daemon restart keeps the flag
    assert guest(owner)[2] is True
    owner.unpause("vm1")
    assert guest(owner)[2] is False

