"""VM.pool_migrate's domain-owner side (state/migration.py): two domain owners on one
store, as two members on one database, each with its own sim backend, their pool
channel a direct call of the other's internal operation. The guest moves and its
record says so in one write; a refusal, a failure or a cancel leaves it running on the
source and nothing on the target."""

import os
import threading
import types

import pytest
from harness import as_task

from xen.xend.api.errors import ApiError
from xen.xend.backend.sim import SimBackend
from xen.xend.state import domains, migration
from xen.xend.state.store import Store
from xen.xend.util import progress

GIB = 2 ** 30


class Pool:
    """Hosts "h1" and "h2" on one store; ``owners[host]`` each one's domain owner."""

    def __init__(self, tmp_path):
        self.store = Store(None, ["VM", "host", "VBD", "VIF", "VDI", "SR", "console"],
                           reverse_fields=[("VBD", "VM"), ("VBD", "VDI"), ("VIF", "VM"),
                                           ("console", "VM"), ("VM", "resident_on")])
        self.live = {"h1": True, "h2": True}
        self.free = {"h1": 8 * GIB, "h2": 8 * GIB}
        self.refused = None        # an ApiError the channel answers instead
        self.owners = {}
        with self.store.transaction() as txn:
            for host in ("h1", "h2"):
                txn.create("host", host, {"enabled": True, "name_label": host.upper()})
            txn.create("VM", "vm1", {"power_state": "Halted", "resident_on": "",
                                     "memory_static_max": GIB})
        for host in ("h1", "h2"):
            (tmp_path / host).mkdir()
            app = types.SimpleNamespace(
                store=self.store, host_ref=host, control_domain="dom0", config={},
                leases=None, state_dir=str(tmp_path / host), host_features=set,
                sampler=types.SimpleNamespace(forget=lambda vm: None),
                pool_channel=self, host_live=self.live.get,
                lease=lambda h: {"memory_free": self.free[h]},
                host_of=lambda rec: rec.get("_host"))
            self.owners[host] = domains.Domains(
                app, SimBackend(str(tmp_path / host), op_seconds=0.2))

    def internal(self, host, op, *args):
        """The pool channel's internal call, made directly."""
        if self.refused is not None:
            raise self.refused
        return getattr(self.owners[host], migration.INTERNAL_OPS[op])(*args)

    def guests(self, host):
        return [vm for vm in ("vm1",) if self.owners[host].backend.reattach(vm, {})]

    def close(self):
        for owner in self.owners.values():
            owner.backend.close()


@pytest.fixture
def pool(tmp_path):
    made = Pool(tmp_path)
    made.owners["h1"].start("vm1", False)
    yield made
    made.close()


def failure(fn, *args):
    with pytest.raises(ApiError) as err:
        fn(*args)
    return err.value.description


def stays_on_h1(pool):
    rec = pool.store.get("VM", "vm1")
    assert (rec["power_state"], rec["resident_on"]) == ("Running", "h1")
    assert pool.guests("h1") == ["vm1"] and pool.guests("h2") == []
    assert not any(name.startswith("incoming-") for name in
                   os.listdir(pool.owners["h2"].app.state_dir))


def test_the_guest_moves_and_its_record_follows(pool):
    start_time = pool.store.get("VM", "vm1")["_start_time"]
    seen = []
    with as_task(seen.append):
        pool.owners["h1"].pool_migrate("vm1", "h2", {})
    rec = pool.store.get("VM", "vm1")
    assert (rec["power_state"], rec["resident_on"]) == ("Running", "h2")
    assert rec["_start_time"] == start_time       # the same guest, going on
    assert pool.guests("h2") == ["vm1"] and pool.guests("h1") == []
    assert seen and seen == sorted(seen)
    # Back again, through 1.0's VM.migrate naming the host by its name_label.
    pool.owners["h2"].migrate("vm1", "H1", True, {})
    assert pool.store.get("VM", "vm1")["resident_on"] == "h1"
    assert pool.guests("h1") == ["vm1"]


def test_hosts_with_tls_material_hand_their_own_to_their_backends(pool, monkeypatch):
    handed = []
    for host, owner in pool.owners.items():
        owner.app.config = {"tls_cert": host + ".pem", "tls_key": host + "-key.pem",
                            "pool_ca_file": "ca.pem"}
    target, source = pool.owners["h2"].backend, pool.owners["h1"].backend
    receive, send = target.migrate_receive, source.migrate_send
    monkeypatch.setattr(target, "migrate_receive", lambda spec, address, storage, tls: (
        handed.append(("receive", tls)), receive(spec, address, storage, tls))[1])
    monkeypatch.setattr(source, "migrate_send", lambda vm, uri, options: (
        handed.append(("send", options["tls"])), send(vm, uri, options))[1])
    pool.owners["h1"].pool_migrate("vm1", "h2", {})
    assert handed == [("receive", {"cert": "h2.pem", "key": "h2-key.pem", "ca": "ca.pem"}),
                      ("send", {"cert": "h1.pem", "key": "h1-key.pem", "ca": "ca.pem"})]
    assert pool.store.get("VM", "vm1")["resident_on"] == "h2"
    # A host without all three (its own self-signed certificate, say) migrates in clear.
    assert migration.migration_tls({"tls_cert": "", "tls_key": "", "pool_ca_file": "ca.pem"}) \
        is None


def test_a_cancel_leaves_the_guest_on_the_source(pool):
    with as_task(lambda fraction: threading.Thread(target=tracker.request_cancel).start()) \
            as tracker, pytest.raises(progress.Cancelled):
        pool.owners["h1"].pool_migrate("vm1", "h2", {})
    stays_on_h1(pool)


def test_a_target_that_cannot_take_it_is_refused_before_anything_moves(pool):
    source = pool.owners["h1"]
    assert failure(source.pool_migrate, "vm1", "h1", {})[:2] == ["VM_MIGRATE_FAILED", "vm1"]
    pool.free["h2"] = GIB // 2
    d = failure(source.pool_migrate, "vm1", "h2", {})
    assert d[:2] == ["VM_MIGRATE_FAILED", "vm1"] and "memory" in d[2]
    pool.free["h2"] = 8 * GIB
    pool.live["h2"] = False
    assert failure(source.pool_migrate, "vm1", "h2", {}) == ["HOST_NOT_LIVE", "h2"]
    pool.live["h2"] = True
    with pool.store.transaction() as txn:
        txn.update("host", "h2", {"enabled": False})
    assert failure(source.pool_migrate, "vm1", "h2", {}) == ["HOST_DISABLED", "h2"]
    with pool.store.transaction() as txn:
        txn.update("host", "h2", {"enabled": True})
    assert failure(source.pool_migrate, "vm1", "h2", {"storage": "nowhere"})[:2] == [
        "INVALID_VALUE", "options:storage"]
    for bandwidth in ("0", "-1", "1.5", "fast"):
        assert failure(source.pool_migrate, "vm1", "h2", {"bandwidth": bandwidth})[:2] == [
            "INVALID_VALUE", "options:bandwidth"]
    assert failure(source.migrate, "vm1", "nohost", True, {}) == [
        "UUID_INVALID", "host", "nohost"]
    stays_on_h1(pool)


def test_a_disk_on_another_hosts_local_sr_is_refused(pool):
    with pool.store.transaction() as txn:
        txn.create("SR", "sr1", {"type": "dir", "_host": "h1"})
        txn.create("VDI", "vdi1", {"SR": "sr1"})
        txn.create("VBD", "vbd1", {"VM": "vm1", "VDI": "vdi1"})
    d = failure(pool.owners["h1"].pool_migrate, "vm1", "h2", {})
    assert d[:2] == ["VM_MIGRATE_FAILED", "vm1"] and "sr1" in d[2]
    with pool.store.transaction() as txn:
        txn.update("SR", "sr1", {"type": "shared-dir"})
    pool.owners["h1"].pool_migrate("vm1", "h2", {})
    assert pool.store.get("VM", "vm1")["resident_on"] == "h2"


@pytest.mark.parametrize("vdi, vbd, sr_host, why", [
    ({}, {"mode": "RO"}, "h1", "read-only"),
    ({"read_only": True}, {}, "h1", "read-only"),
    ({}, {"type": "CD"}, "h1", "read-only"),
    ({}, {}, "h3", "not this host's"),
])
def test_a_disk_that_cannot_be_copied_is_refused_naming_why(pool, vdi, vbd, sr_host, why):
    with pool.store.transaction() as txn:
        txn.create("SR", "sr1", {"type": "dir", "_host": sr_host})
        txn.create("VDI", "vdi1", dict(vdi, SR="sr1"))
        txn.create("VBD", "vbd1", dict(vbd, VM="vm1", VDI="vdi1"))
    d = failure(pool.owners["h1"].pool_migrate, "vm1", "h2", {"storage": "copy"})
    assert d[:2] == ["VM_MIGRATE_FAILED", "vm1"] and "vdi1" in d[2] and why in d[2]
    stays_on_h1(pool)


def test_a_disk_another_vm_has_too_is_not_copied(pool):
    with pool.store.transaction() as txn:
        txn.create("VM", "vm2", {"power_state": "Halted", "resident_on": ""})
        txn.create("SR", "sr1", {"type": "dir", "_host": "h1"})
        txn.create("VDI", "vdi1", {"SR": "sr1", "sharable": True})
        for vbd, vm in (("vbd1", "vm1"), ("vbd2", "vm2")):
            txn.create("VBD", vbd, {"VM": vm, "VDI": "vdi1"})
    d = failure(pool.owners["h1"].pool_migrate, "vm1", "h2", {"storage": "copy"})
    assert d[:2] == ["VM_MIGRATE_FAILED", "vm1"] and "another VM" in d[2]
    stays_on_h1(pool)


def test_a_target_that_fails_to_prepare_leaves_the_guest_running(pool):
    pool.refused = ApiError("INTERNAL_ERROR", "no answer")
    d = failure(pool.owners["h1"].pool_migrate, "vm1", "h2", {})
    assert d[:2] == ["VM_MIGRATE_FAILED", "vm1"] and "no answer" in d[2]
    pool.refused = None
    stays_on_h1(pool)


def test_a_host_in_no_pool_refuses(pool):
    source = pool.owners["h1"]
    source.app.pool_channel = None
    for call in (lambda: source.pool_migrate("vm1", "h2", {}),
                 lambda: source.migrate("vm1", "h2", True, {})):
        assert failure(call)[0] == "OPERATION_NOT_ALLOWED"
    stays_on_h1(pool)
