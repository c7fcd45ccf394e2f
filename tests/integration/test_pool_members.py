"""Daemons sharing one PostgreSQL database (docs/pool.md, "Membership"): each is a host of
its own, named by its ``pool-host`` file, with its own CPUs, control domain, local SR and
guests; they show one pool, whose master is the first host; what one host changes
reaches the others in commit order, and a restart keeps the host it was."""

import json
import os
import sqlite3
import stat

import pytest
from harness import (
    STATE_WAIT,
    Fleet,
    Watcher,
    failure,
    new_vbd,
    new_vdi,
    new_vm,
    wait_until,
)

from xen.xend.api.lifecycle import CONTROL_DOMAIN


@pytest.fixture(scope="module")
def members(postgres, tmp_path_factory):
    """Three sim daemons on one database, started one after the other (the first is
    the pool's master)."""
    config = postgres.daemon_config(str(tmp_path_factory.mktemp("pool")))
    fleet = Fleet()
    try:
        daemons = [fleet.start(extra_config=config) for _ in range(3)]
        for d in daemons:   # each host's default SR, the last thing a start makes
            wait_until(lambda d=d: len(d.api.SR.get_all()) == 3, STATE_WAIT,
                       "every host's start to reach %s" % d.url)
        yield daemons
    finally:
        fleet.retire()


def own_host(daemon):
    return daemon.own_host()


def control_domains(daemon):
    """The control domains' records, as 1.0 (which has is_control_domain) shows them."""
    return {vm: rec for vm, rec in
            daemon.sdk_unix(version="1.0").xenapi.VM.get_all_records().items()
            if rec["is_control_domain"]}


def test_each_daemon_is_a_host_of_its_own_with_its_own_cpus(members):
    hosts = [own_host(d) for d in members]
    assert len(set(hosts)) == 3
    for d in members:
        assert stat.S_IMODE(os.stat(os.path.join(d.state_dir, "pool-host")).st_mode) == 0o600
        assert sorted(d.api.host.get_all()) == sorted(hosts)
        for host in hosts:
            cpus = d.api.host.get_host_CPUs(host)
            assert cpus and all(d.api.host_cpu.get_host(c) == host for c in cpus)
    assert len({c for h in hosts for c in members[0].api.host.get_host_CPUs(h)}) == \
        len(members[0].api.host_cpu.get_all())


def test_each_host_has_its_control_domain_resident_on_it(members):
    hosts = [own_host(d) for d in members]
    for d in members:
        doms = control_domains(d)
        assert sorted(rec["resident_on"] for rec in doms.values()) == sorted(hosts)
        assert doms[CONTROL_DOMAIN]["resident_on"] == hosts[0]   # the master's: fixed
        for vm, rec in doms.items():
            assert rec["power_state"] == "Running"
            assert vm in d.api.host.get_resident_VMs(rec["resident_on"])
    # Another host's control domain is refused as this host's is.
    other = next(vm for vm, rec in control_domains(members[0]).items()
                 if rec["resident_on"] == hosts[1])
    assert failure(members[0].api.VM.start, other, False)[0] == "OPERATION_NOT_ALLOWED"


def test_the_pool_is_one_on_every_member_and_its_master_the_first_host(members):
    pool, = members[0].api.pool.get_all()
    for d in members:
        assert d.api.pool.get_all() == [pool]
        assert d.api.pool.get_master(pool) == own_host(members[0])
    members[1].api.pool.set_name_label(pool, "the pool")     # written on another member
    for d in members:
        wait_until(lambda d=d: d.api.pool.get_name_label(pool) == "the pool", STATE_WAIT,
                   "the pool's name on %s" % d.url)
    assert members[0].api.host.get_name_label(own_host(members[0])) != "the pool"


def test_what_acts_on_a_machine_is_refused_for_another_host(members):
    a, b = members[0], members[1]
    other = own_host(b)
    a.api.host.disable(other)          # a record's change: any member writes it
    for call in (a.api.host.reboot, a.api.host.shutdown, a.api.host.dmesg,
                 a.api.host.dmesg_clear, a.api.host.get_log):
        code, reason = failure(call, other)
        assert code == "OPERATION_NOT_ALLOWED" and other in reason
    assert failure(a.api.host.send_debug_keys, other, "q")[0] == "OPERATION_NOT_ALLOWED"
    a.api.host.enable(other)
    assert isinstance(b.api.host.dmesg(other), str)     # its own daemon answers


def test_each_host_has_its_own_local_sr_and_only_it_changes_its_files(members):
    a, b = members[0], members[1]
    srs = {}
    for d in members:
        pbds = d.api.host.get_PBDs(own_host(d))
        assert len(pbds) == 1
        assert a.api.PBD.get_host(pbds[0]) == own_host(d)
        srs[own_host(d)] = a.api.PBD.get_SR(pbds[0])
    assert len(set(srs.values())) == 3
    vdi = new_vdi(a.api, srs[own_host(a)])
    wait_until(lambda: vdi in b.api.VDI.get_all(), STATE_WAIT, "A's VDI on B")
    assert b.api.VDI.get_SR(vdi) == srs[own_host(a)]
    code, reason = failure(b.api.VDI.destroy, vdi)
    assert code == "OPERATION_NOT_ALLOWED" and own_host(a) in reason
    assert failure(b.api.VDI.create, {"SR": srs[own_host(a)], "virtual_size": "2048",
                                      "type": "user", "sharable": False,
                                      "read_only": False, "other_config": {},
                                      "name_label": "x", "name_description": ""}
                   )[0] == "OPERATION_NOT_ALLOWED"
    a.api.VDI.destroy(vdi)


def test_a_vm_made_on_one_host_is_seen_on_the_others_in_commit_order(members):
    a, b = members[0], members[1]
    watcher = Watcher(a.api, ["VM"])
    vm = new_vm(b.api, name_label="first")
    for name in ("second", "third"):
        b.api.VM.set_name_label(vm, name)
    for d in (a, members[2]):
        wait_until(lambda d=d: d.api.VM.get_all_records().get(vm, {}).get("name_label")
                   == "third", STATE_WAIT, "the rename on %s" % d.url)
    events = watcher.collect(lambda got: sum(e["ref"] == vm for e in got) >= 3)
    seen = [(e["operation"], e["snapshot"]["name_label"]) for e in events if e["ref"] == vm]
    assert seen == [("add", "first"), ("mod", "second"), ("mod", "third")]
    b.api.VM.destroy(vm)


def test_an_object_made_through_one_host_is_named_at_once_through_another(members):
    # The second member's copy may not have the first's commit yet when the call
    # arrives: it reads the pool's latest commits before refusing a handle.
    a, b = members[0], members[1]
    for k in range(30):
        vm = new_vm(a.api, name_label="made")
        b.api.VM.set_name_label(vm, "named %d" % k)
        # Reads answer from each member's copy, which the rename reaches a moment later.
        wait_until(lambda vm=vm, k=k: a.api.VM.get_name_label(vm) == "named %d" % k,
                   STATE_WAIT, "the rename to reach the first member")
        a.api.VM.destroy(vm)


def test_a_restart_keeps_the_host_and_leaves_other_hosts_guests_alone(members):
    a, b = members[0], members[1]
    hosts = sorted(a.api.host.get_all())
    guest = new_vm(b.api)
    b.api.VM.start(guest, False)
    assert b.api.VM.get_resident_on(guest) == own_host(b)
    wait_until(lambda: a.api.VM.get_power_state(guest) == "Running", STATE_WAIT,
               "the guest running on A's view")
    # B's to stop, and these members have no TLS listener to call one another on
    assert failure(a.api.VM.hard_shutdown, guest) == ["HOST_OFFLINE", own_host(b)]
    before = own_host(b)
    a.restart()
    b.restart()
    for d in (a, b):
        d.relogin()
    assert own_host(b) == before
    assert sorted(b.api.host.get_all()) == hosts
    assert len(control_domains(b)) == 3
    # B found its guest again; A, restarted meanwhile, left it alone.
    assert a.api.VM.get_power_state(guest) == "Running"
    assert a.api.VM.get_resident_on(guest) == own_host(b)
    b.api.VM.hard_shutdown(guest)
    b.api.VM.destroy(guest)


def test_after_a_boot_each_host_autostarts_the_vms_whose_disks_it_has(members):
    """A VM with a disk on B's local SR is B's to autostart; one without disks is the
    master's; neither is started by another host's boot."""
    a, b = members[0], members[1]
    auto = {"other_config": {"auto_poweron": "true"}}
    on_b = new_vm(a.api, **auto)
    b_sr = b.api.PBD.get_SR(b.api.host.get_PBDs(own_host(b))[0])
    new_vbd(b.api, on_b, new_vdi(b.api, b_sr))
    diskless = new_vm(b.api, **auto)
    for d in (members[2], a, b):
        d.stop()
        os.unlink(os.path.join(os.path.dirname(d.socket), "xend.booted"))
        d.start()
        wait_until(lambda d=d: os.path.exists(os.path.join(os.path.dirname(d.socket),
                                                           "xend.booted")),
                   STATE_WAIT, "the autostart marker of %s" % d.url)
        d.relogin()
    assert a.api.VM.get_resident_on(diskless) == own_host(a)
    wait_until(lambda: a.api.VM.get_resident_on(on_b) == own_host(b), STATE_WAIT,
               "the VM with B's disk started on B")
    for vm, d in ((on_b, b), (diskless, a)):
        d.api.VM.hard_shutdown(vm)


def test_a_single_hosts_store_from_before_the_pool_record_keeps_its_pool(fresh_daemon):
    """A store written before the master was recorded (its host record without the
    key) is a pool of one again, under the same ref, once the daemon restarts."""
    api = fresh_daemon.relogin()
    host, = api.host.get_all()
    pool, = api.pool.get_all()
    fresh_daemon.stop()
    db = sqlite3.connect(os.path.join(fresh_daemon.state_dir, "xend.db"))
    with db:
        record = json.loads(db.execute("SELECT record FROM objects WHERE ref = ?",
                                       (host,)).fetchone()[0])
        del record["_pool_master"]
        db.execute("UPDATE objects SET record = ? WHERE ref = ?", (json.dumps(record), host))
    db.close()
    api = fresh_daemon.start().relogin()
    assert api.pool.get_all() == [pool]
    assert api.pool.get_master(pool) == host
    assert not os.path.exists(os.path.join(fresh_daemon.state_dir, "pool-host"))
