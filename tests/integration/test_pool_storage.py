"""PBDs in a pool of three sim members on one database (docs/pool.md, "Storage in a
pool"): a local SR has one PBD, its host's; a shared SR one per member, the same refs
on every member, attached where the member has attached it; every member changes a
shared SR's files."""

import os
import shutil

import pytest
from harness import STATE_WAIT, new_sr, new_vdi, scratch_dir, wait_until

MEMBERS = 3


@pytest.fixture
def shared_dir():
    path = scratch_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def pbds_seen(members, sr):
    """{member's host: {PBD: (host, SR)}} of ``sr`` as each member answers."""
    return {d.host: {p: (d.api.PBD.get_host(p), d.api.PBD.get_SR(p))
                     for p in d.api.SR.get_PBDs(sr)} for d in members}


def test_a_local_sr_has_one_pbd_its_hosts(pool_members):
    for d in pool_members:
        local = [p for p in d.api.host.get_PBDs(d.host)]
        assert len(local) == 1
        sr = d.api.PBD.get_SR(local[0])
        assert d.api.SR.get_shared(sr) is False
        for other in pool_members:     # every member answers the same of it
            assert other.api.SR.get_PBDs(sr) == local
            assert other.api.PBD.get_record(local[0])["host"] == d.host
            assert other.api.PBD.get_currently_attached(local[0]) is True


def test_a_shared_sr_has_a_pbd_on_every_member(pool_members, shared_dir):
    a, b, c = pool_members
    sr = new_sr(b.api, type="shared-dir", location=shared_dir)
    wait_until(lambda: all(sr in d.api.SR.get_all() for d in pool_members), STATE_WAIT,
               "the SR seen by every member")
    seen = pbds_seen(pool_members, sr)
    # One per member, the same refs on each, each naming its member.
    assert all(s == seen[b.host] for s in seen.values())
    assert sorted(h for h, _ in seen[b.host].values()) == sorted(d.host for d in pool_members)
    assert all(s == sr for _, s in seen[b.host].values())
    by_host = {h: p for p, (h, _) in seen[b.host].items()}
    for d in pool_members:
        assert by_host[d.host] in a.api.host.get_PBDs(d.host)
        assert len(a.api.host.get_PBDs(d.host)) == 2       # its local SR's and this one's
    all_pbds = a.api.PBD.get_all_records()
    assert {p for p, r in all_pbds.items() if r["SR"] == sr} == set(by_host.values())
    # Attached on B, which made it; the others attach it at their next start.
    attached = {h: a.api.PBD.get_currently_attached(p) for h, p in by_host.items()}
    assert attached == {a.host: False, b.host: True, c.host: False}
    c.restart()
    c.relogin()
    wait_until(lambda: a.api.PBD.get_currently_attached(by_host[c.host]), STATE_WAIT,
               "C's PBD attached after its start")
    assert c.api.SR.get_PBDs(sr) == a.api.SR.get_PBDs(sr)      # stable across a start
    # Its files are every member's to change: A makes a VDI in the SR B made.
    vdi = new_vdi(a.api, sr)
    assert os.listdir(shared_dir) == [vdi + ".qcow2"]
    c.api.VDI.destroy(vdi)
    assert os.listdir(shared_dir) == []
    a.api.SR.destroy(sr)
    wait_until(lambda: all(sr not in d.api.SR.get_all() for d in pool_members),
               STATE_WAIT, "the SR gone on every member")
    assert not set(by_host.values()) & set(b.api.PBD.get_all())
    assert all(len(b.api.host.get_PBDs(d.host)) == 1 for d in pool_members)
