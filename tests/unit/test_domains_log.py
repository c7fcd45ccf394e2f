"""Every start and stop of a guest is one INFO line of the daemon's log in a fixed shape,
``VM 'NAME' (UUID): EVENT (HOW)``, logged once the new state is stored: what the guest did
on its own, and what its actions/* made of it (the API's operations are checked on a real
daemon, tests/integration/test_vm_logs.py)."""

import logging

import pytest
from owners import sim_owner

from xen.xend.backend.base import (
    GUEST_CRASH,
    GUEST_DIED,
    GUEST_REBOOT,
    GUEST_SHUTDOWN,
    GUEST_SUSPEND,
)
from xen.xend.state import domains

PREFIX = "VM 'web1' (vm1): "


@pytest.fixture
def owner(tmp_path):
    owner = sim_owner(tmp_path, name_label="web1")
    yield owner
    owner.store.close()


def power_lines(caplog):
    """The events of the power lines logged for vm1, in order."""
    return [r.getMessage()[len(PREFIX):] for r in caplog.records
            if r.levelno == logging.INFO and r.getMessage().startswith(PREFIX)]


def set_action(owner, field, action):
    with owner.store.transaction() as txn:
        txn.update("VM", "vm1", {field: action})


@pytest.mark.parametrize("kind, action, lines", [
    (GUEST_SHUTDOWN, "destroy", ["stopped (guest shutdown; actions_after_shutdown destroy)"]),
    (GUEST_SHUTDOWN, "restart", ["stopped (guest shutdown; actions_after_shutdown restart)",
                                 "started (guest shutdown; actions_after_shutdown restart)"]),
    (GUEST_REBOOT, "restart", ["rebooted (guest reboot; actions_after_reboot restart)"]),
    (GUEST_REBOOT, "destroy", ["stopped (guest reboot; actions_after_reboot destroy)"]),
    (GUEST_SUSPEND, "restart", ["rebooted (guest suspend; actions_after_suspend restart)"]),
    (GUEST_CRASH, "destroy", ["crashed (guest crash; actions_after_crash destroy)"]),
    (GUEST_CRASH, "preserve", ["crashed (guest crash; actions_after_crash preserve)"]),
    (GUEST_CRASH, "restart", ["crashed (guest crash; actions_after_crash restart)",
                              "started (guest crash; actions_after_crash restart)"]),
    (GUEST_DIED, "destroy", ["crashed (guest died; actions_after_crash destroy)"]),
])
def test_what_the_guest_did_is_logged_once_per_transition(owner, caplog, kind, action, lines):
    set_action(owner, domains.GUEST_ACTION_FIELD[kind], action)
    owner.start("vm1", False)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="xend.domains"):
        owner.guest_event("vm1", kind)
    assert power_lines(caplog) == lines


def test_api_operations_are_logged_once_each(owner, caplog):
    with caplog.at_level(logging.INFO, logger="xend.domains"):
        owner.start("vm1", False)
        owner.pause("vm1")
        owner.unpause("vm1")
        owner.suspend("vm1", False)
        owner.resume("vm1", False)
        owner.hard_shutdown("vm1")
    assert power_lines(caplog) == ["started", "suspended", "resumed", "stopped (hard shutdown)"]


def test_clean_shutdown_with_restart_logs_the_stop_once_then_the_start(owner, caplog):
    set_action(owner, "actions_after_shutdown", "restart")
    owner.start("vm1", False)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="xend.domains"):
        owner.clean_shutdown("vm1")
    assert power_lines(caplog) == [
        "stopped (clean shutdown)",
        "started (clean_shutdown asked; actions_after_shutdown restart)"]


def test_a_failed_start_logs_nothing(owner, caplog, monkeypatch):
    def refuse(spec, paused):
        raise domains.BackendError("no room")
    monkeypatch.setattr(owner.backend, "start", refuse)
    with caplog.at_level(logging.INFO, logger="xend.domains"), \
            pytest.raises(domains.BackendError):
        owner.start("vm1", False)
    assert power_lines(caplog) == []
