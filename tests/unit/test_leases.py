"""Host leases on a PostgreSQL database (xen/xend/state/leases.py): renewed on their own
thread, another member's seen expired once it stops renewing, a restarted host renewing
its own again, and a host that cannot renew fencing itself while its lease still runs."""

import threading

import pytest
import stores
from harness import STATE_WAIT, wait_until

LEASE = 3.0
MEMORY = (8 << 30, 5 << 30)


class Owner:
    """What a domain owner is told, recorded (state/hostfailure.py's part)."""

    def __init__(self):
        self.dead = []
        self.fenced = threading.Event()
        self.rejoined = threading.Event()
        self.leases = None
        self.live_when_fenced = None

    def fence(self):
        self.live_when_fenced = self.leases.lease(self.leases.host)["live"]
        self.fenced.set()

    def rejoin(self):
        self.rejoined.set()
        return True

    def dead_seen(self, hosts):
        self.dead.append(list(hosts))


@pytest.fixture
def db(postgres):
    return stores.PostgresDatabase(postgres)


@pytest.fixture
def open_leases(db):
    """Start the leases of a host: ``open_leases(host) -> (Leases, Owner)``; stopped at
    the test's end."""
    from xen.xend.state.leases import Leases
    opened = []

    def open_(host, memory=MEMORY):
        owner = Owner()
        leases = Leases(db.uri, db.server.password, host, LEASE, lambda: memory, owner)
        owner.leases = leases
        leases.start()
        opened.append(leases)
        return leases, owner
    yield open_
    for leases in opened:
        leases.stop()


def expires_at(db, host):
    return db.server.psql("SELECT expires_at FROM host_lease WHERE host = '%s'" % host,
                          db.name).strip()


def test_a_lease_is_renewed_and_carries_the_memory(db, open_leases):
    a, _ = open_leases("host-a")
    first = expires_at(db, "host-a")
    assert first
    wait_until(lambda: expires_at(db, "host-a") > first, STATE_WAIT, "a renewal")
    assert a.lease("host-a") == {"live": True, "memory_total": MEMORY[0],
                                 "memory_free": MEMORY[1]}
    assert a.lease("host-b") is None
    assert not a.lapsed


def test_expiry_is_seen_by_another_member(db, open_leases):
    a, _ = open_leases("host-a", memory=(4 << 30, 1 << 30))
    b, b_owner = open_leases("host-b")
    wait_until(lambda: b.lease("host-a"), STATE_WAIT, "b to read a's lease")
    assert b.lease("host-a") == {"live": True, "memory_total": 4 << 30,
                                 "memory_free": 1 << 30}
    assert b.expired() == []
    a.stop()
    wait_until(lambda: not b.lease("host-a")["live"], STATE_WAIT, "a's lease to expire")
    assert b.expired() == ["host-a"]
    wait_until(lambda: b_owner.dead, STATE_WAIT, "b to be told a is dead")
    assert b_owner.dead[-1] == ["host-a"]
    assert b.lease("host-b")["live"] and not b_owner.fenced.is_set()


def test_a_restarted_host_renews_its_own_lease(db, open_leases):
    a, _ = open_leases("host-a")
    b, _ = open_leases("host-b")
    a.stop()
    wait_until(lambda: b.expired() == ["host-a"], STATE_WAIT, "a's lease to expire")
    again, _ = open_leases("host-a")
    assert again.lapsed          # it was down longer than its lease
    assert b.expired() == []     # the database's answer at once
    wait_until(lambda: b.lease("host-a")["live"], STATE_WAIT, "b to see a live again")
    again.stop()
    quick, _ = open_leases("host-a")
    assert not quick.lapsed      # back before its lease expired


def test_a_host_that_cannot_renew_fences_while_its_lease_runs(postgres, db, open_leases):
    a, owner = open_leases("host-a")
    postgres.stop()
    try:
        assert owner.fenced.wait(STATE_WAIT), "no fence"
        assert owner.live_when_fenced   # before the lease could expire
        assert a.fenced and not owner.rejoined.is_set()
    finally:
        postgres.start()
    assert owner.rejoined.wait(STATE_WAIT), "no rejoin once the database is back"
    wait_until(lambda: not a.fenced, STATE_WAIT, "the fence to end")
    assert a.lease("host-a")["live"]


def test_a_lease_found_expired_at_a_renewal_fences(db, open_leases):
    """The daemon stood still past its lease (here: the row expired behind its back):
    other members may run its guests, so it stops its own before anything else."""
    a, owner = open_leases("host-a")
    db.server.psql("UPDATE host_lease SET expires_at = clock_timestamp() - interval '1 s'",
                   db.name)
    assert owner.fenced.wait(STATE_WAIT), "no fence"
    assert owner.rejoined.wait(STATE_WAIT), "no rejoin after the renewal"
    wait_until(lambda: not a.fenced, STATE_WAIT, "the fence to end")
