"""Crash safety: kill -9 the daemon again and again while clients write, restart it each
time, and check that what was acknowledged is there and that nothing is half made.

Each writer thread owns its objects (VMs, networks, VIFs, VDIs, VBDs) and keeps a
model of them from the replies it got. A call cut off by the kill is *in doubt*: its
effect may or may not have been committed. After each restart, with the writers
paused, the test checks every acknowledged fact against the daemon, accepts either
outcome of each call in doubt (adopting the one it finds), and checks the integrity
of the whole store: every Ref points at an object of the right class or is "", both
sides of every bound pair agree, every VDI's image file exists, and every VM the
model says is running is Running. A sentinel guest started before the first kill and
never touched stays Running throughout, and the sim backend's own record of its guests
(STATE_DIR/sim-domains.json, what a hypervisor would report) matches the store: every
VM the store calls Running or Paused is a guest in that state, and no other guest is
left (none under a VM the store calls Halted, none for a VM it does not have), but for
the known gap of docs/security.md: a guest left by a start the kill cut off.
"""

import http.client
import json
import os
import random
import sqlite3
import threading
import time
import xmlrpc.client

import XenAPI
from harness import Daemon

from xen.xend.api import datamodel
from xen.xend.api.lifecycle import CONTROL_DOMAIN
from xen.xend.api.types import Ref, Set

KILLS = int(os.environ.get("XEND_CRASH_KILLS", "24"))
WRITERS = 3
CUT_OFF = (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError)
# VDI.destroy garbage-collects base images of the whole SR, and two running at once
# make it fail (INTERNAL_ERROR from qemu-img on a file the other just removed): a bug
# of the storage code, not of crash safety, so the writers take turns at it.
VDI_DESTROY = threading.Lock()


class Writer(threading.Thread):
    """One client writing its own objects until told to stop."""

    def __init__(self, daemon, n, go, stop):
        super().__init__(daemon=True)
        self.d, self.n, self.go, self.stop = daemon, n, go, stop
        self.rng = random.Random(n)
        self.idle = threading.Event()
        self.vms = {}      # ref -> {"name_label", "power_state"}
        self.nets = {}     # ref -> name_label
        self.vifs = {}     # ref -> {"VM", "network"}
        self.vdis = {}     # ref -> name_label
        self.vbds = {}     # ref -> {"VM", "VDI"}
        self.doubt = None  # (op, details) of the call the last kill cut off
        self.in_doubt = 0  # calls cut off by a kill, and how many of them had committed
        self.committed = 0
        self.acked = 0
        self.counter = 0
        self.api = None
        self.error = None

    def label(self, kind):
        self.counter += 1
        return "w%d-%s-%d" % (self.n, kind, self.counter)

    def run(self):
        try:
            while not self.stop.is_set():
                if not self.go.is_set():
                    self.idle.set()
                    self.go.wait(0.1)
                    continue
                self.idle.clear()
                try:
                    if self.api is None:
                        s = XenAPI.Session("http://%s/" % self.d.socket.replace("/", "_"),
                                           transport=XenAPI.UDSTransport())
                        s.xenapi.login_with_password("root", "")
                        self.api = s.xenapi
                    self.step()
                except CUT_OFF:   # the daemon is down: wait until the test restarts it
                    self.api = None
                    time.sleep(0.05)
        except Exception as e:   # an assertion or an unexpected API failure: report it
            self.error = (self.doubt, e)
            self.idle.set()

    # -- operations: each sets self.doubt before its call and clears it after --------------

    def step(self):
        ops = [self.create_vm, self.create_net, self.rename_vm]
        if self.vms and self.nets:
            ops += [self.create_vif] * 2
        if self.vifs:
            ops += [self.move_vif, self.delete_vif]
        if self.vms:
            ops += [self.power, self.create_disk, self.delete_vm]
        if self.vbds:
            ops += [self.move_vbd, self.delete_vbd]
        if self.vdis:
            ops += [self.delete_vdi]
        self.rng.choice(ops)()
        self.acked += 1

    def call(self, doubt, fn, *args):
        self.doubt = doubt
        value = fn(*args)
        self.doubt = None
        return value

    def halted_vm(self):
        halted = [v for v, r in self.vms.items() if r["power_state"] == "Halted"]
        return self.rng.choice(halted) if halted else None

    def create_vm(self):
        label = self.label("vm")
        ref = self.call(("create", "VM", label), self.api.VM.create, {"name_label": label})
        self.vms[ref] = {"name_label": label, "power_state": "Halted"}

    def create_net(self):
        label = self.label("net")
        ref = self.call(("create", "network", label), self.api.network.create,
                        {"name_label": label})
        self.nets[ref] = label

    def rename_vm(self):
        if not self.vms:
            return
        vm = self.rng.choice(list(self.vms))
        label = self.label("vm")
        self.call(("field", "VM", vm, "name_label", self.vms[vm]["name_label"], label),
                  self.api.VM.set_name_label, vm, label)
        self.vms[vm]["name_label"] = label

    def create_vif(self):
        vm, net = self.rng.choice(list(self.vms)), self.rng.choice(list(self.nets))
        ref = self.call(("create-vif", vm, net), self.api.VIF.create,
                        {"VM": vm, "network": net})
        self.vifs[ref] = {"VM": vm, "network": net}

    def move_vif(self):
        """A bound change from either side: the VIF's Ref, or the VM's Set (of halted VMs:
        a plugged VIF is not changed)."""
        vif = self.rng.choice(list(self.vifs))
        if self.vms[self.vifs[vif]["VM"]]["power_state"] != "Halted":
            return
        if self.rng.random() < 0.5:
            vm = self.halted_vm()
            self.call(("field", "VIF", vif, "VM", self.vifs[vif]["VM"], vm),
                      self.api.VM.add_to_VIFs, vm, vif)
            self.vifs[vif]["VM"] = vm
        else:
            net = self.rng.choice(list(self.nets))
            self.call(("field", "VIF", vif, "network", self.vifs[vif]["network"], net),
                      self.api.VIF.set_network, vif, net)
            self.vifs[vif]["network"] = net

    def delete_vif(self):
        vif = self.rng.choice(list(self.vifs))
        self.call(("delete", "VIF", vif), self.api.VIF.destroy, vif)
        del self.vifs[vif]

    def power(self):
        vm = self.rng.choice(list(self.vms))
        old = self.vms[vm]["power_state"]
        new = "Halted" if old == "Running" else "Running"
        fn = self.api.VM.hard_shutdown if old == "Running" else \
            (lambda v: self.api.VM.start(v, False))
        self.call(("field", "VM", vm, "power_state", old, new), fn, vm)
        self.vms[vm]["power_state"] = new

    def create_disk(self):
        label = self.label("vdi")
        vdi = self.call(("create", "VDI", label), self.api.VDI.create,
                        {"name_label": label, "SR": self.d.sr, "virtual_size": "2048"})
        self.vdis[vdi] = label
        vm = self.halted_vm()
        if vm:
            ref = self.call(("create-vbd", vm, vdi), self.api.VBD.create,
                            {"VM": vm, "VDI": vdi, "device": "xvd%s" % "abcdef"[self.counter % 6]})
            self.vbds[ref] = {"VM": vm, "VDI": vdi}

    def move_vbd(self):
        vbd = self.rng.choice(list(self.vbds))
        vm = self.halted_vm()
        if vm is None or self.vms[self.vbds[vbd]["VM"]]["power_state"] != "Halted":
            return
        self.call(("field", "VBD", vbd, "VM", self.vbds[vbd]["VM"], vm),
                  self.api.VBD.set_VM, vbd, vm)
        self.vbds[vbd]["VM"] = vm

    def delete_vbd(self):
        vbd = self.rng.choice(list(self.vbds))
        if self.vms[self.vbds[vbd]["VM"]]["power_state"] != "Halted":
            return
        self.call(("delete", "VBD", vbd), self.api.VBD.destroy, vbd)
        del self.vbds[vbd]

    def delete_vdi(self):
        vdi = self.rng.choice(list(self.vdis))
        if any(b["VDI"] == vdi for b in self.vbds.values()):
            return
        with VDI_DESTROY:
            self.call(("delete", "VDI", vdi), self.api.VDI.destroy, vdi)
        del self.vdis[vdi]

    def delete_vm(self):
        vm = self.halted_vm()
        if vm is None:
            return
        self.call(("delete", "VM", vm), self.api.VM.destroy, vm)
        self.forget_vm(vm)

    def forget_vm(self, vm):
        """A deleted VM takes its VIFs and VBDs with it (the VDIs stay)."""
        del self.vms[vm]
        for table in (self.vifs, self.vbds):
            for ref in [r for r, rec in table.items() if rec["VM"] == vm]:
                del table[ref]


# -- checks ----------------------------------------------------------------------------------


def snapshot(api):
    """Every record of every class, as the daemon now tells it."""
    return {c: api.__getattr__(c).get_all_records() for c, cl in datamodel.CLASSES.items()
            if cl.objects and c not in ("session", "task")}


def check_integrity(world, daemon):
    """No dangling Ref, both sides of every bound pair agree, no half-made VDI."""
    for cls, records in world.items():
        for ref, rec in records.items():
            for f in datamodel.draft_fields(datamodel.CLASSES[cls]):
                value = rec.get(f.wire)
                if isinstance(f.type, Ref):
                    assert value == "" or value in world[f.type.cls], (cls, ref, f.wire, value)
                    assert value or not f.required, (cls, ref, f.wire, "required but empty")
                elif isinstance(f.type, Set) and isinstance(f.type.item, Ref):
                    for member in value:
                        assert member in world[f.type.item.cls], (cls, ref, f.wire, member)
    for b in datamodel.BINDINGS:
        for owner, rec in world[b.set_class].items():
            members = {r for r, m in world[b.ref_class].items() if m[b.ref_field] == owner}
            assert set(rec[b.set_field]) == members, (b, owner)
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(daemon.state_dir, "xend.db"), uri=True)
    try:
        paths = dict(db.execute("SELECT ref, json_extract(private, '$.path') FROM objects "
                                "WHERE class = 'VDI'"))
    finally:
        db.close()
    for vdi in world["VDI"]:
        assert paths.get(vdi) and os.path.exists(paths[vdi]), ("VDI without its image", vdi)


def check_guests(world, daemon, sentinel, cut_off_starts, orphans):
    """At least one guest is Running (the sentinel, at the least), and the backend's
    guests are exactly the store's live VMs, each in the store's state.

    The one exception is the gap docs/security.md lists: a start the kill cut off after
    the hypervisor started the guest but before the store committed it leaves a guest
    the store calls Halted. Such a guest is allowed for a VM whose start was cut off
    (``cut_off_starts``, uuids), and stays allowed (``orphans``, updated here) until the
    VM's next start makes backend and store agree again."""
    assert world["VM"][sentinel]["power_state"] == "Running", world["VM"][sentinel]
    with open(os.path.join(daemon.state_dir, "sim-domains.json")) as f:
        guests = json.load(f)       # uuid -> "Running" | "Paused", replaced atomically
    halted = {rec["uuid"] for rec in world["VM"].values() if rec["power_state"] == "Halted"}
    live = {rec["uuid"]: rec["power_state"] for rec in world["VM"].values()
            if rec["power_state"] in ("Running", "Paused") and rec["uuid"] != CONTROL_DOMAIN}
    disagree = {u: (guests.get(u), live.get(u)) for u in set(guests) | set(live)
                if guests.get(u) != live.get(u)}
    orphans &= set(disagree)        # agreeing again: no longer an orphan
    # (An orphan's VM may be deleted later: its guest then stays the backend's alone.)
    orphans |= {u for u, (guest, state) in disagree.items()
                if state is None and (u in halted and u in cut_off_starts or u in orphans)}
    assert set(disagree) == orphans, ("backend and store disagree",
                                      {u: disagree[u] for u in set(disagree) - orphans})
    return sum(state == "Running" for u, state in guests.items() if u in live)


def reconcile(w, world):
    """Check ``w``'s acknowledged facts, settle its call in doubt from what exists."""
    by_label = {c: {r["name_label"]: ref for ref, r in world[c].items()}
                for c in ("VM", "network", "VDI")}
    doubt, w.doubt = w.doubt, None
    w.in_doubt += doubt is not None
    if doubt and doubt[0] == "create":
        _, cls, label = doubt
        if label in by_label[cls]:   # committed before the kill: adopt it
            w.committed += 1
            ref = by_label[cls][label]
            {"VM": w.vms, "network": w.nets, "VDI": w.vdis}[cls][ref] = \
                {"name_label": label, "power_state": "Halted"} if cls == "VM" else label
    elif doubt and doubt[0] in ("create-vif", "create-vbd"):
        cls, table = ("VIF", w.vifs) if doubt[0] == "create-vif" else ("VBD", w.vbds)
        keys = ("VM", "network") if cls == "VIF" else ("VM", "VDI")
        made = [r for r, rec in world[cls].items()
                if r not in table and (rec[keys[0]], rec[keys[1]]) == doubt[1:]]
        assert len(made) <= 1, ("one call in doubt, several objects", made)
        w.committed += len(made)
        for r in made:
            table[r] = {keys[0]: doubt[1], keys[1]: doubt[2]}
    elif doubt and doubt[0] == "field":
        _, cls, ref, field, old, new = doubt
        now = world[cls][ref][field]
        assert now in (old, new), (doubt, now)
        w.committed += now == new != old
        if cls == "VM":
            w.vms[ref][field] = now
        else:
            (w.vifs if cls == "VIF" else w.vbds)[ref][field] = now
    elif doubt and doubt[0] == "delete":
        _, cls, ref = doubt
        if ref not in world[cls]:
            w.committed += 1
            if cls == "VM":
                w.forget_vm(ref)
            else:
                {"VIF": w.vifs, "VBD": w.vbds, "VDI": w.vdis}[cls].pop(ref, None)
    for vm, rec in w.vms.items():
        assert vm in world["VM"], ("acknowledged VM lost", vm)
        assert world["VM"][vm]["name_label"] == rec["name_label"], (vm, rec)
        assert world["VM"][vm]["power_state"] == rec["power_state"], (vm, rec)
    for net, label in w.nets.items():
        assert world["network"][net]["name_label"] == label
    for vdi, label in w.vdis.items():
        assert world["VDI"][vdi]["name_label"] == label
    for table, cls in ((w.vifs, "VIF"), (w.vbds, "VBD")):
        for ref, rec in table.items():
            assert ref in world[cls], ("acknowledged %s lost" % cls, ref)
            for field, value in rec.items():
                assert world[cls][ref][field] == value, (cls, ref, field)
    for kind, cls in (("vm", "VM"), ("net", "network"), ("vdi", "VDI")):
        mine = {ref for ref, r in world[cls].items()
                if r["name_label"].startswith("w%d-%s-" % (w.n, kind))}
        model = {"VM": w.vms, "network": w.nets, "VDI": w.vdis}[cls]
        assert mine == set(model), ("objects the writer never made, or lost", cls,
                                    mine ^ set(model))
    for table, cls in ((w.vifs, "VIF"), (w.vbds, "VBD")):
        mine = {ref for ref, r in world[cls].items() if r["VM"] in w.vms}
        assert mine == set(table), ("objects the writer never made, or lost", cls,
                                    mine ^ set(table))


def test_kill_9_while_clients_write():
    d = Daemon()
    d.start()
    try:
        root = d.sdk_unix()
        d.sr = root.xenapi.SR.get_all()[0]
        sentinel = root.xenapi.VM.create({"name_label": "sentinel"})
        root.xenapi.VM.start(sentinel, False)
        root.xenapi.session.logout()
        fewest_running = None
        orphans = set()     # uuids of guests a cut-off start left behind (see check_guests)
        go, stop = threading.Event(), threading.Event()
        writers = [Writer(d, n, go, stop) for n in range(WRITERS)]
        for w in writers:
            w.start()
        rng = random.Random(7)
        for kill in range(KILLS):
            go.set()
            time.sleep(rng.uniform(0.15, 0.5))
            d.kill9()
            go.clear()
            for w in writers:
                assert w.idle.wait(30), "a writer hangs"
                assert w.error is None, w.error
            d.start()
            s = d.sdk_unix()
            try:
                world = snapshot(s.xenapi)
            finally:
                s.xenapi.session.logout()
            check_integrity(world, d)
            cut_off_starts = {world["VM"][w.doubt[2]]["uuid"] for w in writers
                              if w.doubt and w.doubt[:2] == ("field", "VM")
                              and w.doubt[3:] == ("power_state", "Halted", "Running")
                              and w.doubt[2] in world["VM"]}
            running = check_guests(world, d, sentinel, cut_off_starts, orphans)
            fewest_running = running if fewest_running is None else min(fewest_running, running)
            for w in writers:
                reconcile(w, world)
        stop.set()
        for w in writers:
            w.join(10)
        acked = sum(w.acked for w in writers)
        assert acked > KILLS * 10, "too few writes to mean anything: %d" % acked
        running = sum(r["power_state"] == "Running" for w in writers for r in w.vms.values())
        print("%d kills, %d acknowledged writes, %d calls cut off (%d of them committed), "
              "%d guests running at the end, %d at the fewest" % (
                  KILLS, acked, sum(w.in_doubt for w in writers),
                  sum(w.committed for w in writers), running, fewest_running))
    finally:
        d.kill9()
        d.cleanup()
