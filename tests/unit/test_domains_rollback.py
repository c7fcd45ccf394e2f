"""An operation that made a guest, but whose new state the store cannot take (a full
disk), stops that guest before the error goes on: the store keeps the old state, no
guest runs unseen, and the operation can simply be tried again."""

import os
import sqlite3

import pytest
from owners import sim_owner

from xen.xend.backend.base import GUEST_CRASH


class FillableDisk:
    """The store's SQLite connection, on a disk that can be made full: every row
    written then fails as SQLite's own does."""

    def __init__(self, db):
        self.db = db
        self.full = False

    def execute(self, sql, *args):
        if self.full and sql.startswith("INSERT"):
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.db, name)


@pytest.fixture
def owner(tmp_path):
    owner = sim_owner(tmp_path, actions_after_crash="restart")
    owner.store._engine._db = FillableDisk(owner.store._engine._db)
    yield owner
    owner.store.close()


def power_state(owner):
    return owner.store.get("VM", "vm1")["power_state"]


def guest(owner):
    return owner.backend.reattach("vm1", {})


def test_start_whose_state_cannot_be_stored_stops_the_guest(owner):
    owner.store._engine._db.full = True
    with pytest.raises(sqlite3.OperationalError):
        owner.start("vm1", False)
    assert guest(owner) is None
    assert power_state(owner) == "Halted"
    owner.store._engine._db.full = False
    owner.start("vm1", False)
    assert (guest(owner), power_state(owner)) == ("Running", "Running")


def test_resume_whose_state_cannot_be_stored_stops_the_guest_and_keeps_it_resumable(owner):
    owner.start("vm1", False)
    owner.suspend("vm1", False)
    owner.store._engine._db.full = True
    with pytest.raises(sqlite3.OperationalError):
        owner.resume("vm1", False)
    assert guest(owner) is None
    assert power_state(owner) == "Suspended"
    assert os.path.exists(owner.suspend_file("vm1"))
    owner.store._engine._db.full = False
    owner.resume("vm1", False)
    assert (guest(owner), power_state(owner)) == ("Running", "Running")
    assert not os.path.exists(owner.suspend_file("vm1"))


def test_restart_after_a_crash_whose_state_cannot_be_stored_stops_the_guest(owner, monkeypatch):
    owner.start("vm1", False)
    halted = owner._step_halt

    def halt_then_fill(vm, *args):
        """The crash's Halted is stored; the restart's Running is not."""
        halted(vm, *args)
        owner.store._engine._db.full = True
    monkeypatch.setattr(owner, "_step_halt", halt_then_fill)
    with pytest.raises(sqlite3.OperationalError):
        owner.guest_event("vm1", GUEST_CRASH)
    assert guest(owner) is None
    assert power_state(owner) == "Halted"
