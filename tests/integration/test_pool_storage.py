"""Storage in a pool of three sim members on one database (docs/pool.md, "Storage in a
pool" and "Live migration"): a local SR has one PBD, its host's; a shared SR one per
member, the same refs on every member, attached on each as soon as it is made; every
member changes a shared SR's files. VM.pool_migrate with storage "copy" moves a guest's
local disks to VDIs the target makes, and leaves none behind when it fails or is
cancelled."""

import os
import shutil

import pytest
from harness import (
    FINISHED,
    MIB,
    STATE_WAIT,
    failure,
    new_sr,
    new_vbd,
    new_vdi,
    new_vm,
    scratch_dir,
    wait_until,
)

MEMBERS = 3
# Each simulated operation (a migration's send too) takes this long, in ten cancellable
# steps, so that a cancel finds one under way.
MEMBER_CONFIGS = ["sim_op_seconds = 0.5\n"] * MEMBERS


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
    # Attached on B, which made it, and on the others as soon as they read it.
    assert b.api.PBD.get_currently_attached(by_host[b.host]) is True
    wait_until(lambda: all(a.api.PBD.get_currently_attached(p) for p in by_host.values()),
               STATE_WAIT, "every member's PBD attached")
    c.restart()
    c.relogin()
    wait_until(lambda: a.api.PBD.get_currently_attached(by_host[c.host]), STATE_WAIT,
               "C's PBD attached after its start")
    assert c.api.SR.get_PBDs(sr) == a.api.SR.get_PBDs(sr)      # stable across a start
    # Its files are every member's to change: A makes a VDI in the SR B made.
    vdi = new_vdi(a.api, sr)
    assert os.listdir(shared_dir) == [vdi + ".qcow2"]
    wait_until(lambda: vdi in c.api.VDI.get_all(), STATE_WAIT, "A's VDI seen by C")
    c.api.VDI.destroy(vdi)
    assert os.listdir(shared_dir) == []
    a.api.SR.destroy(sr)
    wait_until(lambda: all(sr not in d.api.SR.get_all() for d in pool_members),
               STATE_WAIT, "the SR gone on every member")
    assert not set(by_host.values()) & set(b.api.PBD.get_all())
    assert all(len(b.api.host.get_PBDs(d.host)) == 1 for d in pool_members)


# -- VM.pool_migrate with storage "copy" ---------------------------------------------------

def local_sr(daemon):
    """The default local SR of ``daemon``'s host."""
    api = daemon.api
    return next(api.PBD.get_SR(p) for p in api.host.get_PBDs(daemon.host)
                if not api.SR.get_shared(api.PBD.get_SR(p)))


def image(daemon, sr, vdi):
    """The path of ``vdi``'s image in ``daemon``'s default SR ``sr``."""
    return os.path.join(daemon.state_dir, "sr", "default", vdi + ".qcow2")


@pytest.fixture
def guest(pool_members, shared_dir):
    """A guest running on the first member with two disks on its local SR (16 and 32
    MiB) and one on a shared SR; yields (vm, {VBD: VDI} of its local disks, the shared
    disk's (VBD, VDI))."""
    a = pool_members[0]
    vm = new_vm(a.api)
    local = {new_vbd(a.api, vm, vdi, device=dev): vdi for dev, vdi in (
        ("xvda", new_vdi(a.api, local_sr(a), size=16 * MIB)),
        ("xvdb", new_vdi(a.api, local_sr(a), size=32 * MIB)))}
    shared = new_vdi(a.api, new_sr(a.api, type="shared-dir", location=shared_dir))
    shared_vbd = new_vbd(a.api, vm, shared, device="xvdc")
    a.api.VM.start(vm, False)
    assert a.api.VM.get_resident_on(vm) == a.host     # only A reaches its local disks
    for d in pool_members:
        wait_until(lambda d=d: d.api.VM.get_resident_on(vm) == a.host, STATE_WAIT,
                   "the guest seen running on A")
    yield vm, local, (shared_vbd, shared)
    owner = next(d for d in pool_members if vm in d.sim_guests())
    owner.api.VM.hard_shutdown(vm)
    owner.api.VM.destroy(vm)


def unchanged(pool_members, vm, local, shared):
    """Whether the guest still runs on A with its disks as they were, and B has no VDI
    more than its own SR's before."""
    a = pool_members[0]
    return (a.api.VM.get_resident_on(vm) == a.host and vm in a.sim_guests() and
            {v: a.api.VBD.get_VDI(v) for v in local} == local and
            a.api.VBD.get_VDI(shared[0]) == shared[1] and
            all(os.path.exists(image(a, local_sr(a), v)) for v in local.values()))


def test_a_guest_moves_with_copies_of_its_local_disks(pool_members, guest):
    a, b, _ = pool_members
    vm, local, (shared_vbd, shared) = guest
    before = {v: a.api.VDI.get_record(v) for v in local.values()}
    # Without "copy" B cannot have the local disks.
    d = failure(a.api.VM.pool_migrate, vm, b.host, {})
    assert d[:2] == ["VM_MIGRATE_FAILED", vm] and "copy" in d[2]
    a.api.VM.pool_migrate(vm, b.host, {"storage": "copy"})
    wait_until(lambda: all(d.api.VM.get_resident_on(vm) == b.host for d in pool_members),
               STATE_WAIT, "the move seen by every member")
    assert vm in b.sim_guests() and vm not in a.sim_guests()
    for vbd, old in local.items():
        new = b.api.VBD.get_VDI(vbd)
        assert new != old and b.api.VDI.get_SR(new) == local_sr(b)
        rec = b.api.VDI.get_record(new)
        assert (rec["virtual_size"], rec["name_label"]) == (
            before[old]["virtual_size"], before[old]["name_label"])
        assert os.path.exists(image(b, local_sr(b), new))
        # The source's VDI and its image are gone.
        wait_until(lambda old=old: old not in b.api.VDI.get_all(), STATE_WAIT,
                   "the old VDI destroyed")
        assert not os.path.exists(image(a, local_sr(a), old))
    assert b.api.VBD.get_VDI(shared_vbd) == shared         # shared: left in place
    assert "VM %s: migrated to host %s" % (vm, b.host) in a.log_text()


def test_a_failed_copy_leaves_nothing_on_the_target(pool_members, guest):
    a, b, _ = pool_members
    vm, local, shared = guest
    # Room for the first disk's copy, not the second's: the first is destroyed again.
    small = new_sr(b.api, physical_size=str(24 * MIB))
    d = failure(a.api.VM.pool_migrate, vm, b.host, {"storage": "copy", "sr": small})
    assert d[:2] == ["VM_MIGRATE_FAILED", vm] and "SR_FULL" in d[2]
    assert b.api.SR.get_VDIs(small) == []
    assert os.listdir(os.path.join(b.state_dir, "sr", small)) == []
    # An SR the target does not reach (A's own), and one that is no SR.
    for sr in (local_sr(a), "no-such-sr"):
        d = failure(a.api.VM.pool_migrate, vm, b.host, {"storage": "copy", "sr": sr})
        assert d[:2] == ["VM_MIGRATE_FAILED", vm] and sr in d[2]
    assert failure(a.api.VM.pool_migrate, vm, b.host, {"storage": "move"})[:2] == [
        "INVALID_VALUE", "options:storage"]
    assert unchanged(pool_members, vm, local, shared)
    b.api.SR.destroy(small)


def test_a_cancelled_copy_leaves_nothing_on_the_target(pool_members, guest):
    a, b, _ = pool_members
    vm, local, shared = guest
    vdis = set(b.api.SR.get_VDIs(local_sr(b)))
    task = a.api.Async.VM.pool_migrate(vm, b.host, {"storage": "copy"})
    # Beyond the 0.05 reported before the work: inside the send, where a cancel acts.
    wait_until(lambda: a.api.task.get_progress(task) > 0.05, STATE_WAIT, "the send")
    a.api.task.cancel(task)
    v10 = a.sdk_unix(version="1.0").xenapi
    wait_until(lambda: v10.task.get_status(task) in FINISHED, STATE_WAIT, "its end")
    assert a.api.task.get_record(task)["status"] == "cancelled"
    wait_until(lambda: set(b.api.SR.get_VDIs(local_sr(b))) == vdis, STATE_WAIT,
               "the target's copies destroyed")
    assert unchanged(pool_members, vm, local, shared)
