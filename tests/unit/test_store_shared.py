"""Stores of several daemons on one PostgreSQL database (xen/xend/state/postgres.py):
each sees the others' writes, in one commit order; writers are serialised; a lost
connection refuses writes and loses nothing; the change log keeps only its retention
window."""

import threading

import pytest
import stores
from harness import STATE_WAIT, wait_until

from xen.xend.api.errors import ApiError
from xen.xend.state.store import Store

CLASSES = ["VM", "session"]


@pytest.fixture
def db(postgres):
    return stores.PostgresDatabase(postgres)


@pytest.fixture
def pair(db):
    """Two stores on the database, as two daemons have, each with a listener that
    records every change it is told of: (store, [(op, ref, record)])."""
    out = []
    for _ in range(2):
        store = Store(db.engine(), CLASSES, lookup_fields=[("VM", "name_label")],
                      volatile=["session"])
        seen = []
        store.add_listener(lambda events, seen=seen: seen.extend(
            (op, ref, rec) for op, _, ref, rec, _ in events))
        out.append((store, seen))
    yield out
    for store, _ in out:
        store.close()


def test_each_store_sees_the_others_writes_in_commit_order(pair):
    (a, seen_a), (b, seen_b) = pair
    for n in range(6):
        writer = (a, b)[n % 2]
        with writer.transaction() as t:
            t.create("VM", "vm%d" % n, {"name_label": "n%d" % n})
    with b.transaction() as t:
        t.update("VM", "vm0", {"name_label": "renamed"})
    with a.transaction() as t:
        t.delete("VM", "vm1")
    wait_until(lambda: len(seen_a) == len(seen_b) == 8, STATE_WAIT, "both stores told all")
    assert seen_a == seen_b
    assert [(op, ref) for op, ref, _ in seen_a] == (
        [("add", "vm%d" % n) for n in range(6)] + [("mod", "vm0"), ("del", "vm1")])
    for store in (a, b):
        assert store.refs("VM") == ["vm0", "vm2", "vm3", "vm4", "vm5"]
        assert store.get("VM", "vm0") == {"name_label": "renamed"}
        assert store.lookup("VM", "name_label", "renamed") == ["vm0"]


def test_a_transaction_judges_the_latest_commit_of_every_store(pair):
    """A transaction's checks see what the other store committed just before, without
    waiting for the follower: the check below would let a second "web" in otherwise."""
    (a, _), (b, _) = pair
    for attempt in range(20):
        name = "web%d" % attempt
        with a.transaction() as t:
            t.create("VM", "a-" + name, {"name_label": name})
        with b.transaction() as t:
            taken = bool(b.lookup("VM", "name_label", name))
            if not taken:
                t.create("VM", "b-" + name, {"name_label": name})
        assert taken, name


def test_concurrent_writers_on_two_stores_lose_no_update(pair):
    (a, seen_a), (b, seen_b) = pair
    with a.transaction() as t:
        t.create("VM", "counter", {"n": 0})

    def bump(store):
        for _ in range(100):
            with store.transaction() as t:
                t.update("VM", "counter", {"n": t.get("VM", "counter")["n"] + 1})
    threads = [threading.Thread(target=bump, args=(s,)) for s in (a, b)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wait_until(lambda: len(seen_a) == len(seen_b) == 201, STATE_WAIT, "both stores told all")
    assert a.get("VM", "counter") == b.get("VM", "counter") == {"n": 200}
    # one commit order, told alike to both: the counter's every value, in turn
    assert seen_a == seen_b
    assert [rec["n"] for _, _, rec in seen_a] == list(range(201))


def test_volatile_classes_stay_in_their_store(pair):
    (a, _), (b, seen_b) = pair
    with a.transaction() as t:
        t.create("session", "s1", {})
        t.create("VM", "vm1", {})
    wait_until(lambda: b.get("VM", "vm1") is not None, STATE_WAIT, "vm1 in the other store")
    assert b.get("session", "s1") is None and a.get("session", "s1") == {}


def terminate_connections(postgres, db):
    postgres.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                  "'%s' AND pid <> pg_backend_pid()" % db.name)


def test_a_lost_connection_refuses_writes_then_catches_up(postgres, db, pair):
    (a, seen_a), (b, _) = pair
    with a.transaction() as t:
        t.create("VM", "vm1", {"name_label": "before"})
    wait_until(lambda: b.get("VM", "vm1"), STATE_WAIT, "vm1 in the other store")
    terminate_connections(postgres, db)
    with pytest.raises(ApiError) as e:
        with a.transaction() as t:
            t.update("VM", "vm1", {"name_label": "refused"})
    assert e.value.args[0] == "HOST_STATE_UNAVAILABLE"
    # nothing of it in memory, reads go on, and writes of memory-only classes too
    assert a.get("VM", "vm1") == {"name_label": "before"}
    with a.transaction() as t:
        t.create("session", "s1", {})

    def written(store, name):
        try:
            with store.transaction() as t:
                t.update("VM", "vm1", {"name_label": name})
            return True
        except ApiError as e:
            assert e.args[0] == "HOST_STATE_UNAVAILABLE"
            return False
    wait_until(lambda: written(b, "from b"), STATE_WAIT, "b to write again")
    wait_until(lambda: a.get("VM", "vm1") == {"name_label": "from b"}, STATE_WAIT,
               "a to catch up with b's write")
    assert written(a, "from a")
    assert db.rows()["vm1"] == ("VM", {"name_label": "from a"})
    assert [rec["name_label"] for op, ref, rec in seen_a if ref == "vm1"] == [
        "before", "from b", "from a"]


def test_a_local_transaction_neither_waits_for_nor_judges_other_writers(pair):
    """Sessions and tasks (volatile) are written in local transactions: one goes on while
    the other store holds the writers' lock, and a stored class written in one after all
    is still committed after every commit before it."""
    (a, seen_a), (b, seen_b) = pair
    with a.transaction() as t:             # the writers' lock held by a
        t.create("VM", "first", {})
        done = threading.Event()

        def local_write():
            with b.transaction(local=True) as lt:
                lt.create("session", "s1", {})
            done.set()
        threading.Thread(target=local_write).start()
        assert done.wait(STATE_WAIT)
    with b.transaction(local=True) as t:
        t.create("VM", "second", {})
    wait_until(lambda: len(seen_a) == 2 and len(seen_b) == 3, STATE_WAIT, "both told")
    assert [ref for _, ref, _ in seen_a] == ["first", "second"]
    assert [ref for _, ref, _ in seen_b] == ["s1", "first", "second"]


def test_nested_transactions_commit_in_order(pair):
    (a, seen_a), (b, seen_b) = pair
    with a.transaction() as outer:
        with a.transaction() as inner:
            inner.create("VM", "inner", {})
        outer.create("VM", "outer", {})
    with b.transaction() as t:
        t.create("VM", "after", {})
    wait_until(lambda: len(seen_a) == len(seen_b) == 3, STATE_WAIT, "both told")
    assert seen_a == seen_b
    assert [ref for _, ref, _ in seen_a] == ["inner", "outer", "after"]


# A retention window short enough for a test to see it pass.
SHORT = 0.2


def test_the_log_keeps_only_the_retention_window(db):
    store = Store(db.engine(retention=SHORT), CLASSES)
    try:
        with store.transaction() as t:
            t.create("VM", "vm", {"n": 0})
        first = db.log()[0]
        commits = [0]

        def first_pruned():
            commits[0] += 1
            with store.transaction() as t:
                t.update("VM", "vm", {"n": commits[0]})
            return first not in db.log()
        wait_until(first_pruned, STATE_WAIT, "the first commit pruned while writing")
        kept = db.log()
        assert kept and kept[0] > db.pruned() >= first   # what is left is the newest
        # idle, the log empties: nothing of the commits is kept past the window
        wait_until(lambda: db.log() == [], STATE_WAIT, "the idle log to empty")
        assert db.pruned() >= kept[-1]
        assert db.rows()["vm"] == ("VM", {"n": commits[0]})
    finally:
        store.close()
    # a store opened on the pruned log starts where the objects are, and writes on
    again = Store(db.engine(retention=SHORT), CLASSES)
    try:
        assert again.get("VM", "vm") == {"n": commits[0]}
        with again.transaction() as t:
            t.update("VM", "vm", {"n": -1})
        assert db.rows()["vm"] == ("VM", {"n": -1})
    finally:
        again.close()


def test_old_versions_of_a_record_leave_the_database(db):
    """A user's password hashes, in its private data: once the window has passed only the
    current one is anywhere in the database."""
    store = Store(db.engine(retention=SHORT), ["user"])
    try:
        with store.transaction() as t:
            t.create("user", "u1", {"name": "alice"}, {"hash": "old-hash-1"})
        for private in ({"hash": "old-hash-2"}, {"hash": "new-hash"}):
            with store.transaction() as t:
                t.set_private("user", "u1", private)
        with store.transaction() as t:
            t.create("user", "u2", {"name": "bob"}, {"hash": "deleted-hash"})
        with store.transaction() as t:
            t.delete("user", "u2")
        wait_until(lambda: "-hash" not in db.text().replace("new-hash", ""), STATE_WAIT,
                   lambda: "old hashes to go, still: %s" % db.text())
        assert "new-hash" in db.text() and store.private("u1") == {"hash": "new-hash"}
    finally:
        store.close()


@pytest.mark.parametrize("how", ["follower", "write"])
def test_a_store_behind_the_pruned_log_reloads(db, how):
    """A store that heard nothing while the log was pruned past it (its follower
    stopped) reloads every object when it next catches up (``follower``: its follower's
    catch_up; ``write``: its next write transaction) and ends with exactly the other
    store's records, its listeners told of each difference once."""
    engines, stores, seen = [], [], []
    for _ in range(2):
        engines.append(db.engine(retention=SHORT))
        stores.append(Store(engines[-1], CLASSES, volatile=["session"],
                            lookup_fields=[("VM", "name_label")]))
        seen.append([])
        stores[-1].add_listener(lambda events, seen=seen[-1]: seen.extend(
            (op, ref, rec) for op, _, ref, rec, _ in events))
    a, b = stores
    try:
        with a.transaction() as t:
            for ref in ("kept", "changed", "gone"):
                t.create("VM", ref, {"name_label": ref})
        wait_until(lambda: len(b.refs("VM")) == 3, STATE_WAIT, "b to follow a")
        with b.transaction(local=True) as t:
            t.create("session", "s1", {})
        engines[1].stop_following()   # b hears of nothing more on its own
        del seen[1][:]
        for name in ("first", "second"):
            with a.transaction() as t:
                t.update("VM", "changed", {"name_label": name})
        with a.transaction() as t:
            t.delete("VM", "gone")
            t.create("VM", "new", {"name_label": "new"})
        last = db.log()[-1]
        wait_until(lambda: db.pruned() >= last, STATE_WAIT, "a's commits pruned")
        assert b.get("VM", "changed") == {"name_label": "changed"} and seen[1] == []
        if how == "follower":
            b.catch_up()
        else:
            with b.transaction() as t:
                t.update("VM", "kept", {"name_label": "kept by b"})
            wait_until(lambda: a.get("VM", "kept") == {"name_label": "kept by b"},
                       STATE_WAIT, "a to follow b's write")
        assert b.records("VM") == a.records("VM")
        assert b.lookup("VM", "name_label", "second") == ["changed"]
        assert b.lookup("VM", "name_label", "gone") == []
        told = sorted((op, ref, rec) for op, ref, rec in seen[1] if ref != "kept")
        assert told == [("add", "new", {"name_label": "new"}),
                        ("del", "gone", {"name_label": "gone"}),
                        ("mod", "changed", {"name_label": "second"})]
        assert b.get("session", "s1") == {}   # memory-only classes are not reloaded
    finally:
        for store in stores:
            store.close()
