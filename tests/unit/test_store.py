"""The object store (xen/xend/state/store.py) on each engine: a real SQLite file in a
temporary directory, and a database of the session's real PostgreSQL server."""

import os
import stat

import pytest
import stores

from xen.xend.state.store import Store

CLASSES = ["VM", "VBD", "VDI", "session"]
REVERSE = [("VBD", "VM"), ("VBD", "VDI")]
LOOKUP = [("VM", "name_label")]


def open_store(db):
    return Store(db.engine(), CLASSES, reverse_fields=REVERSE, lookup_fields=LOOKUP,
                 volatile=["session"])


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    return stores.database(request, tmp_path)


@pytest.fixture
def store(db):
    s = open_store(db)
    yield s
    s.close()


def reopen(store, db):
    store.close()
    return open_store(db)


# -- persistence -----------------------------------------------------------------

def test_create_is_visible_and_persists_across_reopen(store, db):
    with store.transaction() as t:
        t.create("VM", "vm1", {"name_label": "one", "memory": 2 ** 40})
    assert store.get("VM", "vm1") == {"name_label": "one", "memory": 2 ** 40}
    assert store.class_of("vm1") == "VM"
    s2 = reopen(store, db)
    try:
        assert s2.get("VM", "vm1") == {"name_label": "one", "memory": 2 ** 40}
        assert s2.class_of("vm1") == "VM"
        assert s2.refs("VM") == ["vm1"]
    finally:
        s2.close()


def test_update_persists_across_reopen(store, db):
    with store.transaction() as t:
        t.create("VM", "vm1", {"name_label": "one", "x": 1})
    with store.transaction() as t:
        t.update("VM", "vm1", {"name_label": "two"})
    assert store.get("VM", "vm1") == {"name_label": "two", "x": 1}
    s2 = reopen(store, db)
    try:
        assert s2.get("VM", "vm1") == {"name_label": "two", "x": 1}
    finally:
        s2.close()


def test_delete_persists_across_reopen(store, db):
    with store.transaction() as t:
        t.create("VM", "vm1", {"name_label": "one"})
        t.create("VM", "vm2", {"name_label": "two"})
    with store.transaction() as t:
        t.delete("VM", "vm1")
    assert store.get("VM", "vm1") is None and store.class_of("vm1") is None
    s2 = reopen(store, db)
    try:
        assert s2.get("VM", "vm1") is None
        assert s2.refs("VM") == ["vm2"]
        assert "vm1" not in db.rows()
    finally:
        s2.close()


def test_commit_reaches_disk_before_the_transaction_returns(store, db):
    with store.transaction() as t:
        t.create("VM", "vm1", {"name_label": "one"})
    # another connection sees it at once: the write is committed, not buffered
    assert db.rows()["vm1"] == ("VM", {"name_label": "one"})


def test_private_data_persists_and_is_kept_by_updates(store, db):
    with store.transaction() as t:
        t.create("VM", "vm1", {"name_label": "a"}, {"secret": "s"})
    with store.transaction() as t:
        t.update("VM", "vm1", {"name_label": "b"})
    assert store.private("vm1") == {"secret": "s"}
    with store.transaction() as t:
        t.set_private("VM", "vm1", {"secret": "t"})
    s2 = reopen(store, db)
    try:
        assert s2.private("vm1") == {"secret": "t"}
        assert s2.get("VM", "vm1") == {"name_label": "b"}
    finally:
        s2.close()


def test_records_are_not_shared_with_the_caller(store):
    rec = {"name_label": "a"}
    with store.transaction() as t:
        t.create("VM", "vm1", rec)
    rec["name_label"] = "changed"
    assert store.get("VM", "vm1")["name_label"] == "a"


# -- indexes -----------------------------------------------------------------------

def test_reverse_index_follows_create_update_delete(store, db):
    with store.transaction() as t:
        t.create("VM", "vm1", {})
        t.create("VM", "vm2", {})
        t.create("VBD", "b1", {"VM": "vm1", "VDI": ""})
        t.create("VBD", "b2", {"VM": "vm1", "VDI": ""})
    assert sorted(store.referrers("VBD", "VM", "vm1")) == ["b1", "b2"]
    assert store.referrers("VBD", "VM", "vm2") == []
    assert store.referrers("VBD", "VDI", "") == []     # a null ref is not indexed
    with store.transaction() as t:
        t.update("VBD", "b1", {"VM": "vm2"})
    assert store.referrers("VBD", "VM", "vm1") == ["b2"]
    assert store.referrers("VBD", "VM", "vm2") == ["b1"]
    with store.transaction() as t:
        t.delete("VBD", "b2")
    assert store.referrers("VBD", "VM", "vm1") == []
    with store.transaction() as t:
        t.update("VBD", "b1", {"VM": ""})
    assert store.referrers("VBD", "VM", "vm2") == []
    with store.transaction() as t:
        t.update("VBD", "b1", {"VM": "vm1"})
    s2 = reopen(store, db)
    try:
        assert s2.referrers("VBD", "VM", "vm1") == ["b1"]
        assert s2.referrers("VBD", "VM", "vm2") == []
    finally:
        s2.close()


def test_lookup_index_follows_create_update_delete(store, db):
    with store.transaction() as t:
        t.create("VM", "vm1", {"name_label": "web"})
        t.create("VM", "vm2", {"name_label": "web"})
        t.create("VM", "vm3", {"name_label": "db"})
    assert sorted(store.lookup("VM", "name_label", "web")) == ["vm1", "vm2"]
    with store.transaction() as t:
        t.update("VM", "vm1", {"name_label": "db"})
    assert store.lookup("VM", "name_label", "web") == ["vm2"]
    assert sorted(store.lookup("VM", "name_label", "db")) == ["vm1", "vm3"]
    with store.transaction() as t:
        t.delete("VM", "vm3")
    assert store.lookup("VM", "name_label", "db") == ["vm1"]
    assert store.lookup("VM", "name_label", "nothing") == []
    s2 = reopen(store, db)
    try:
        assert s2.lookup("VM", "name_label", "db") == ["vm1"]
        assert s2.lookup("VM", "name_label", "web") == ["vm2"]
    finally:
        s2.close()


def test_totals_follow_create_update_delete_and_pending_changes(db):
    """VDI bytes summed per SR, as the daemon keeps them: right after each write, across
    a reopen, and as a transaction sees its own pending changes."""
    def open_with_totals():
        return Store(db.engine(), ["VDI"], totals={("VDI", "SR"): lambda rec: rec["size"]})
    store = open_with_totals()
    with store.transaction() as t:
        t.create("VDI", "a", {"SR": "sr1", "size": 5})
        t.create("VDI", "b", {"SR": "sr1", "size": 7})
        t.create("VDI", "c", {"SR": "sr2", "size": 1})
    assert (store.total("VDI", "SR", "sr1"), store.total("VDI", "SR", "sr2")) == (12, 1)
    with store.transaction() as t:
        t.update("VDI", "a", {"size": 9})
        t.update("VDI", "c", {"SR": "sr1"})
        assert t.total("VDI", "SR", "sr1") == 17 and t.total("VDI", "SR", "sr2") == 0
        t.delete("VDI", "b")
        t.create("VDI", "d", {"SR": "sr2", "size": 3})
        assert t.total("VDI", "SR", "sr1") == 10 and t.total("VDI", "SR", "sr2") == 3
        assert store.total("VDI", "SR", "sr1") == 12       # not committed yet
    assert (store.total("VDI", "SR", "sr1"), store.total("VDI", "SR", "sr2")) == (10, 3)
    assert store.total("VDI", "SR", "none") == 0
    store.close()
    store = open_with_totals()
    assert (store.total("VDI", "SR", "sr1"), store.total("VDI", "SR", "sr2")) == (10, 3)
    store.close()


def test_transaction_reads_see_pending_changes(store):
    with store.transaction() as t:
        t.create("VM", "vm1", {"name_label": "a"})
        assert t.get("VM", "vm1") == {"name_label": "a"}
        assert t.exists("vm1")
        assert store.get("VM", "vm1") is None         # not committed yet
        t.create("VBD", "b1", {"VM": "vm1"})
        assert t.referrers("VBD", "VM", "vm1") == ["b1"]
        t.update("VBD", "b1", {"VM": "other"})
        assert t.referrers("VBD", "VM", "vm1") == []
        t.delete("VBD", "b1")
        assert not t.exists("b1") and t.get("VBD", "b1") is None
    assert store.get("VBD", "b1") is None
    assert store.get("VM", "vm1") == {"name_label": "a"}


# -- atomicity ---------------------------------------------------------------------

def test_a_transaction_that_raises_commits_nothing(store, db):
    with store.transaction() as t:
        t.create("VM", "keep", {"name_label": "keep"})
        t.create("VBD", "kb", {"VM": "keep"})
    before = db.rows()

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with store.transaction() as t:
            t.create("VM", "new", {"name_label": "new"})
            t.update("VM", "keep", {"name_label": "changed"})
            t.update("VBD", "kb", {"VM": "new"})
            t.delete("VM", "keep")
            raise Boom()
    assert store.get("VM", "new") is None and store.class_of("new") is None
    assert store.get("VM", "keep") == {"name_label": "keep"}
    assert store.referrers("VBD", "VM", "keep") == ["kb"]
    assert store.referrers("VBD", "VM", "new") == []
    assert store.lookup("VM", "name_label", "changed") == []
    assert store.lookup("VM", "name_label", "keep") == ["keep"]
    assert db.rows() == before
    s2 = reopen(store, db)
    try:
        assert s2.refs("VM") == ["keep"]
        assert s2.get("VM", "keep") == {"name_label": "keep"}
    finally:
        s2.close()


def test_the_lock_is_released_after_a_failed_transaction(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as t:
            t.create("VM", "x", {})
            raise RuntimeError()
    with store.transaction() as t:        # would deadlock from another thread if held
        t.create("VM", "y", {})
    assert store.refs("VM") == ["y"]


def test_listeners_see_committed_changes_only(store):
    seen = []
    store.add_listener(seen.append)
    with store.transaction() as t:
        t.create("VM", "vm1", {"name_label": "a"})
        t.update("VM", "vm1", {"name_label": "b"})   # created and changed: still one add
    with pytest.raises(ValueError):
        with store.transaction() as t:
            t.create("VM", "vm2", {})
            raise ValueError()
    with store.transaction() as t:
        t.delete("VM", "vm1")
    assert [[(op, c, r) for op, c, r, _, _ in batch] for batch in seen] == [
        [("add", "VM", "vm1")], [("del", "VM", "vm1")]]
    assert seen[0][0][3] == {"name_label": "b"} and seen[0][0][4] is None
    assert seen[1][0][4] == {"name_label": "b"}   # a delete carries the record it removed


def test_a_failing_listener_neither_undoes_the_commit_nor_silences_the_others(store):
    seen = []

    def broken(events):
        raise FileNotFoundError("a directory of another host")
    store.add_listener(broken)
    store.add_listener(seen.append)
    with store.transaction() as t:
        t.create("VM", "vm1", {"name_label": "a"})
    assert store.get("VM", "vm1") == {"name_label": "a"}
    assert [[(op, r) for op, _, r, _, _ in batch] for batch in seen] == [[("add", "vm1")]]


def test_create_then_delete_in_one_transaction_leaves_nothing(store, db):
    with store.transaction() as t:
        t.create("VM", "tmp", {})
        t.delete("VM", "tmp")
    assert store.get("VM", "tmp") is None
    assert "tmp" not in db.rows()


# -- volatile classes and file mode ------------------------------------------------

def test_volatile_classes_are_not_persisted(store, db):
    with store.transaction() as t:
        t.create("session", "s1", {"this_user": "root"})
        t.create("VM", "vm1", {})
    assert store.get("session", "s1") == {"this_user": "root"}
    assert "s1" not in db.rows()
    assert "vm1" in db.rows()
    s2 = reopen(store, db)
    try:
        assert s2.get("session", "s1") is None
        assert s2.refs("session") == []
        assert s2.refs("VM") == ["vm1"]
    finally:
        s2.close()


def test_db_file_mode_is_0600(tmp_path):
    db = stores.SqliteDatabase(tmp_path)
    store = open_store(db)
    with store.transaction() as t:
        t.create("VM", "vm1", {})
    store.close()
    assert stat.S_IMODE(os.stat(db.path).st_mode) == 0o600
    # the WAL and shared-memory files hold the same data (password hashes): same mode
    for suffix in ("-wal", "-shm"):
        p = db.path + suffix
        if os.path.exists(p):
            assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, suffix


def test_db_file_mode_is_0600_whatever_the_umask(tmp_path):
    old = os.umask(0o000)
    try:
        s = open_store(stores.SqliteDatabase(tmp_path))
        with s.transaction() as t:
            t.create("VM", "vm1", {})
    finally:
        os.umask(old)
    try:
        assert stat.S_IMODE(os.stat(tmp_path / "xend.db").st_mode) == 0o600
    finally:
        s.close()


def test_unknown_classes_on_disk_are_skipped(store, db):
    with store.transaction() as t:
        t.create("VM", "vm1", {})
    store.close()
    db.insert("old1", "Gone", {})
    s2 = open_store(db)
    try:
        assert s2.class_of("old1") is None
        assert s2.refs("VM") == ["vm1"]
    finally:
        s2.close()
