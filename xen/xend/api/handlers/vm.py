"""VM (§2.6): its constructor's memory defaults, its checks, setters with effects and
clone. The other lifecycle RPCs are the domain owner's own (methods.py binds them)."""

import functools
import os

from ...backend import vcpuparams
from ...host import srdrivers
from ...state import savefile
from ...state.domains import GUEST_KEYS
from ...state.hostfailure import RESTART_RANKS
from ...state.saves import check_save_path
from ...util import progress
from .. import forwarding, lifecycle, placement
from ..errors import ApiError
from ..types import NULL_REF
from .base import ClassHandler, new_ref
from .vmdebug import VMDebug

# The memory fields, each at most the next (§2.6.1; docs/api.md).
MEMORY_ORDER = ("memory_static_min", "memory_dynamic_min", "memory_dynamic_max",
                "memory_static_max")

# The most vCPUs a VM may have, as in Xen's xm.
MAX_VCPUS = 255

# The longest wait after an autostarted VM (a day): a longer one is a typing error.
MAX_START_DELAY = 86400

# Fields a clone does not copy from its original (nor the facts of its guest).
_NOT_CLONED = ("name_label", "power_state", "resident_on") + GUEST_KEYS


class VMHandler(VMDebug, ClassHandler):
    cls_name = "VM"
    computed = {
        "suspend_VDI": "_suspend_vdi",
        "memory_actual": "_memory_actual",
        "VCPUs_number": "_vcpus_number",
        "VCPUs_utilisation": "_vcpus_utilisation",
        "tools_version": "_tools_version",
        "domid": "_domid",
        "start_time": "_start_time",
        "VCPUs_CPU_time": "_cpu_time",
        "crashed": "_crashed",
    }

    @staticmethod
    def _suspend_vdi(ref, rec):
        # Suspend images are the daemon's own files (Domains.suspend_file), never a VDI.
        return NULL_REF

    def _running(self, rec):
        return rec.get("power_state") in lifecycle.LIVE_STATES

    def _memory_actual(self, ref, rec):
        if not self._running(rec):
            return 0
        return self.app.sampler.vm(ref).get("memory_actual") or rec.get("memory_dynamic_max", 0)

    def _vcpus_number(self, ref, rec):
        if not self._running(rec):
            return 0
        return rec.get("VCPUs_at_startup") or rec.get("VCPUs_max", 1)

    def _vcpus_utilisation(self, ref, rec):
        if not self._running(rec):
            return {}
        return self.app.sampler.vm(ref).get("vcpus") or {
            str(i): 0.0 for i in range(self._vcpus_number(ref, rec))}

    def _tools_version(self, ref, rec):
        # What a guest agent reports (backends without one report nothing).
        if not self._running(rec):
            return {}
        return self.app.sampler.vm(ref).get("tools_version", {})

    # domid, start_time and crashed: the domain owner keeps them in the stored record
    # (state/domains.py GUEST_KEYS); the sampler's figures, never a backend call.

    def _domid(self, ref, rec):
        if not self._running(rec):
            return -1
        # The hypervisor's own, as last sampled (a Xen guest's changes when it reboots).
        return self.app.sampler.vm(ref).get("domid", rec.get("_domid", -1))

    def _start_time(self, ref, rec):
        return rec.get("_start_time", "")

    def _cpu_time(self, ref, rec):
        return self.app.sampler.vm(ref).get("cpu_time", 0.0) if self._running(rec) else 0.0

    def _crashed(self, ref, rec):
        return bool(rec.get("_crashed"))

    def record_from_wire(self, record, rev="0.2"):
        """The constructor's record, with omitted memory fields defaulted from the given
        ones (docs/api.md, "VM lifecycle"): an omitted dynamic_max is static_max if given,
        else its default raised to any larger field given below it; an omitted static_max
        is dynamic_max; an omitted dynamic_min or static_min is its default moved just
        enough to fit between the fields below and above it. Given fields out of order
        are refused naming one of them, so an error never names a field the caller did
        not send."""
        stored, bound = super().record_from_wire(record, rev)
        given = {f: stored[f] for f in MEMORY_ORDER if f in record}
        for f, v in given.items():
            if v < 0:
                raise ApiError("INVALID_VALUE", f, str(v))
        for i, lo in enumerate(MEMORY_ORDER):
            for hi in MEMORY_ORDER[i + 1:]:
                if lo in given and hi in given and given[lo] > given[hi]:
                    raise ApiError("INVALID_VALUE", lo, "%d (must not exceed %s = %d)"
                                   % (given[lo], hi, given[hi]))
        smin, dmin, dmax, smax = MEMORY_ORDER
        if dmax not in given:
            stored[dmax] = given[smax] if smax in given else max(
                [stored[dmax]] + [given[f] for f in (smin, dmin) if f in given])
        if smax not in given:
            stored[smax] = stored[dmax]
        if dmin not in given:
            # Not dynamic_max itself: the balloon may still go down to the default.
            stored[dmin] = min(max(stored[dmin], given.get(smin, 0)), stored[dmax])
        if smin not in given:
            stored[smin] = min(stored[smin], stored[dmin])
        return stored, bound

    # -- setters with effects (datamodel: on_set) ----------------------------------

    def set_is_a_template(self, call, wire, ref, value):
        if not value:
            return self.set_field(call, wire, ref, value)
        # Held like a lifecycle operation, so no start slips in between validate's
        # power-state check and the commit (a started template could never stop).
        self.app.domains.run_held(
            ref, lambda state: self.set_field(call, wire, ref, value))

    def set_memory_dynamic_max(self, call, wire, ref, value):
        self.set_field(call, wire, ref, value)
        rec = self.store.get("VM", ref)
        if self._running(rec):
            # The balloon follows dynamic_max: the guest gets what it may grow to.
            self.app.domains.set_memory_target(ref, rec["memory_dynamic_max"])

    set_memory_dynamic_min = set_memory_dynamic_max

    def set_VCPUs_params(self, call, wire, ref, value):
        """Checked whole (the API's rules, then the backend's), applied to a resident
        guest, and only then stored, in vcpuparams.format's one spelling: a refusal
        leaves both as they were."""
        self.may_write(call, ref)
        old = self.store.get("VM", ref)
        rec = dict(old, VCPUs_params=value)
        params = self._vcpu_params(rec)
        self.may_change(call, old, rec)     # before the guest is changed
        self.app.domains.validate(rec)
        if self._running(rec):
            self.app.domains.set_vcpu_params(ref, params)
        self.set_field(call, wire, ref, vcpuparams.format(params))

    def add_to_VCPUs_params_live(self, call, vm, key, value):
        """One key=value of VCPUs/params set and applied to the resident guest, held like
        a lifecycle operation (a row of the table: Running or Paused)."""
        def work():
            rec = self.store.get("VM", vm)
            # Written back whole: a later key replaces an earlier one.
            text = "%s %s=%s" % (rec.get("VCPUs_params", ""), key, value)
            self.set_VCPUs_params(call, "VCPUs_params", vm, text)
        self.app.domains.run(vm, "add_to_VCPUs_params_live", work)

    def may_change(self, call, old, new):
        """weight= and cap= of VCPUs/params are root's: a user's higher weight or lifted
        cap takes CPU time from every other VM's guests. Pinning (cpumapN=) is every
        user's. Of the control domain's record only the fields
        lifecycle.CONTROL_DOMAIN_WRITABLE may change, and only by root (it is the
        host's own)."""
        if old and old.get("is_control_domain"):
            changed = sorted(k for k in new if new[k] != old.get(k))
            fixed = [k for k in changed if k not in lifecycle.CONTROL_DOMAIN_WRITABLE]
            if fixed:
                lifecycle.require_guest(self.app.control_domain_of(old["resident_on"]),
                                        "setting " + fixed[0], True)
            if changed and call is not None and not call.is_root:
                raise ApiError("PERMISSION_DENIED", "only root may change the control "
                               "domain's %s" % changed[0])
        if call is None or call.is_root or (
                old and new.get("VCPUs_params") == old.get("VCPUs_params")):
            return      # no need to parse: validate checks the string itself
        params = self._vcpu_params(new)
        before = self._vcpu_params(old) if old else vcpuparams.VcpuParams()
        if (params.weight, params.cap) != (before.weight, before.cap):
            raise ApiError("PERMISSION_DENIED", "only root may set weight= and cap= of "
                           "VCPUs/params (they take CPU time from other VMs); cpumapN= is "
                           "every user's")

    @staticmethod
    def _vcpu_params(rec):
        """The VcpuParams of VM record ``rec``; INVALID_VALUE [VCPUs_params, "PAIR
        (reason)"] naming the first pair that is not allowed."""
        try:
            return vcpuparams.parse(rec.get("VCPUs_params", ""), rec.get("VCPUs_max", 1))
        except vcpuparams.ParamsError as e:
            raise ApiError("INVALID_VALUE", "VCPUs_params", str(e)) from None

    def set_memory_static_max(self, call, vm, value):
        """memory/static_max (RO_INS on the wire otherwise) for the next start: held like
        a lifecycle operation, so that no start overtakes it; validate keeps the memory
        fields in order."""
        self.app.domains.run(vm, "set_memory_static_max",
                             lambda: self.set_field(call, "memory_static_max", vm, value))

    def set_memory_dynamic_max_live(self, call, vm, value):
        """memory/dynamic_max and the balloon target at once (xm 3.1's mem-set calls this
        and then set_memory_dynamic_min_live with one figure): a dynamic_min above the
        new value comes down with it, so that lowering memory is one call."""
        self._memory_live(call, vm, "set_memory_dynamic_max_live", lambda rec: {
            "memory_dynamic_max": value,
            "memory_dynamic_min": min(rec["memory_dynamic_min"], value)})

    def set_memory_dynamic_min_live(self, call, vm, value):
        """memory/dynamic_min, a dynamic_max below it raised to it, and the balloon target
        (dynamic_max) at once."""
        self._memory_live(call, vm, "set_memory_dynamic_min_live", lambda rec: {
            "memory_dynamic_min": value,
            "memory_dynamic_max": max(rec["memory_dynamic_max"], value)})

    def _memory_live(self, call, vm, op, changes_of):
        """Lifecycle operation ``op``: the memory fields ``changes_of(record)`` checked, the
        resident guest's balloon moved to the new dynamic_max, and only then stored, so a
        refusal leaves both as they were."""
        self.may_write(call, vm)

        def work():
            old = self.store.get("VM", vm)
            changes = changes_of(old)
            self.validate(self.store, vm, old, dict(old, **changes))
            self.app.domains.set_memory_target(vm, changes["memory_dynamic_max"])
            with self.store.transaction() as txn:
                self.update(txn, vm, changes, call)
        self.app.domains.run(vm, op, work)

    def validate(self, txn, ref, old, new):
        if new.get("is_a_template") and not (old or {}).get("is_a_template"):
            lifecycle.require_still(ref, "make_template", new.get("power_state", lifecycle.HALTED),
                                   lifecycle.is_control_domain(new))
        values = [new.get(f, 0) for f in MEMORY_ORDER]
        if values[0] < 0:
            raise ApiError("INVALID_VALUE", MEMORY_ORDER[0], str(values[0]))
        for i in range(len(MEMORY_ORDER) - 1):
            lo, hi = MEMORY_ORDER[i], MEMORY_ORDER[i + 1]
            if new.get(lo, 0) > new.get(hi, 0):
                # Name the field the caller wrote: raising dynamic_min past dynamic_max
                # is dynamic_min's error, lowering dynamic_max under it is dynamic_max's.
                if old is not None and old.get(hi) != new.get(hi) and \
                        old.get(lo) == new.get(lo):
                    raise ApiError("INVALID_VALUE", hi, "%d (must be at least %s = %d)"
                                   % (new[hi], lo, new[lo]))
                raise ApiError("INVALID_VALUE", lo, "%d (must not exceed %s = %d)"
                               % (new[lo], hi, new[hi]))
        if not 1 <= new.get("VCPUs_max", 1) <= MAX_VCPUS:
            raise ApiError("INVALID_VALUE", "VCPUs_max", "%s (must be 1..%d)"
                           % (new.get("VCPUs_max"), MAX_VCPUS))
        if not 0 <= new.get("start_delay", 0) <= MAX_START_DELAY:
            raise ApiError("INVALID_VALUE", "start_delay", "%s (must be 0..%d seconds)"
                           % (new.get("start_delay"), MAX_START_DELAY))
        if new.get("ha_restart_priority", "") not in ("", *RESTART_RANKS):
            raise ApiError("INVALID_VALUE", "ha_restart_priority", "%r (must be restart, "
                           "best-effort or \"\")" % new["ha_restart_priority"])
        if not 0 <= new.get("VCPUs_at_startup", 0) <= new.get("VCPUs_max", 1):
            raise ApiError("INVALID_VALUE", "VCPUs_at_startup", "%s (must be 0..%d: "
                           "VCPUs/max, 0 meaning VCPUs/max)"
                           % (new["VCPUs_at_startup"], new.get("VCPUs_max", 1)))
        self._vcpu_params(new)
        self.app.domains.validate(new)

    def delete(self, call, vm):
        """delete/destroy, through the domain owner: it holds the VM meanwhile and
        removes the VM's directory after its records."""
        self.app.domains.delete(vm, functools.partial(super().delete, call, vm))

    # -- starts: where a VM runs (api/placement.py) ---------------------------------

    def start(self, call, vm, paused, force=False):
        """Start ``vm``: on a host alone here; in a pool on the member placement
        chooses (docs/pool.md, "Placement")."""
        if self.app.pool_channel is None:
            self.app.domains.start(vm, paused, force)
            return
        self.app.store.catch_up()   # the disks and hosts as the pool has them now
        self._start_on(call, vm, placement.choose(self.app, vm), paused, force)

    def start_on(self, call, vm, host, paused, force):
        """Start ``vm`` on ``host`` (on a host alone, the host itself)."""
        self.app.store.catch_up()
        self._start_on(call, vm, host, paused, force)

    def _start_on(self, call, vm, host, paused, force):
        """Start ``vm`` on ``host``, checked by placement in a pool; another member's
        start is carried out there (VM.start_on forwarded), this host's by the domain
        owner."""
        if self.app.pool_channel is not None:
            placement.check(self.app, vm, host)
        if host == self.app.host_ref:
            self.app.domains.start(vm, paused, force)
            return
        method = self.app.dispatcher.resolve("VM.start_on", call.revision)
        forwarding.forwarded(self.app, host, method)(call, vm, host, paused, force)

    def clone(self, call, vm, new_name):
        """A Halted copy whose disks are snapshots of the original's (sharable and
        read-only disks are shared, as they may be) and whose VIFs get fresh MACs."""
        result = []
        self.app.domains.run(vm, "clone", lambda: result.append(
            self.copy_record(vm, new_name, snapshot_disks=True)))
        return result[0]

    def copy_record(self, vm, new_name, snapshot_disks=False):
        """A new Halted VM like ``vm``, with its own VBDs and VIFs; returns its ref.
        With ``snapshot_disks`` each private disk is a snapshot of the original's."""
        new = new_ref()
        vdi_h, vbd_h, vif_h = (self.app.handlers[c] for c in ("VDI", "VBD", "VIF"))
        snaps = {}
        try:
            vbds = self.store.referrers("VBD", "VM", vm)
            for i, vbd in enumerate(vbds):
                vdi = self.store.get("VBD", vbd)["VDI"]
                vdi_rec = self.store.get("VDI", vdi)
                if snapshot_disks and not (vdi_rec.get("sharable") or vdi_rec.get("read_only")):
                    snaps[vbd] = vdi_h.snapshot_files(vdi)
                # Between Domains.run's 0.05 (claimed) and its 0.95 (state set): the
                # disks up to 0.85, then the records' commit.
                progress.report(0.05 + 0.8 * (i + 1) / len(vbds))
            with self.store.transaction() as txn:
                rec = {k: v for k, v in txn.get("VM", vm).items() if k not in _NOT_CLONED}
                rec.update(name_label=new_name, power_state=lifecycle.HALTED, resident_on="")
                self.insert(txn, new, rec)
                for vbd in vbds:
                    vbd_rec = dict(txn.get("VBD", vbd), VM=new)
                    if vbd in snaps:
                        vdi_h.commit_snapshot(txn, snaps[vbd])
                        vbd_rec["VDI"] = snaps[vbd]["ref"]
                    vbd_h.insert(txn, new_ref(), vbd_rec)
                for vif in txn.referrers("VIF", "VM", vm):
                    vif_h.insert(txn, new_ref(), dict(txn.get("VIF", vif), VM=new, MAC=""))
            progress.report(0.9)   # a stage even for a VM without disks: the copy exists
        except BaseException:
            for made in snaps.values():
                vdi_h.undo_snapshot(made)
            raise
        return new

    # -- save and restore to a named file -------------------------------------------

    def restore(self, call, filename, start_paused):
        """Run the VM saved in ``filename``: the VM of the file's UUID if it exists (its
        own devices; Halted only), else a VM made from the file's record, removed again
        if its guest does not run. Nothing changes on a bad file (VM_SAVE_FILE_INVALID)
        or a missing disk (VDI_MISSING)."""
        path = check_save_path(filename)
        try:
            header, offset = savefile.read_header(path, self.app.backend_name)
        except savefile.SaveFileError as e:
            raise ApiError("VM_SAVE_FILE_INVALID", path, str(e)) from None
        vm = header["vm"]["uuid"]
        length = header["stream_bytes"]
        if self.store.get("VM", vm) is not None:
            self.app.domains.restore_guest(vm, path, offset, length, start_paused)
            return vm
        made = []       # (class, ref) of what the restore made besides the VM
        try:
            self._make_saved(call, header, made)
            self.app.domains.restore_guest(vm, path, offset, length, start_paused)
        except BaseException:
            if self.store.get("VM", vm) is not None:
                self.delete(call, vm)
            with self.store.transaction() as txn:
                for cls, ref in made:
                    if txn.exists(ref):     # a network is made with the VM, or not at all
                        txn.delete(cls, ref)
            raise
        return vm

    def _make_saved(self, call, header, made):
        """Make the Halted VM of a save file's ``header`` with its VBDs (their VDIs found
        by UUID, else by image path, else adopted from an SR of existing files in the
        image's directory) and VIFs (their networks found by UUID, else by name, else
        made); what it made besides the VM is added to ``made``."""
        vdis = [self._saved_vdi(call, d, made) for d in header["vbds"]]
        with self.store.transaction() as txn:
            rec = dict(header["vm"]["record"], power_state=lifecycle.HALTED, resident_on="")
            self.insert(txn, header["vm"]["uuid"], rec)
            for disk, vdi in zip(header["vbds"], vdis):
                self.app.handlers["VBD"].insert(txn, self._free_ref(txn, disk["ref"]), dict(
                    disk["record"], VM=header["vm"]["uuid"], VDI=vdi))
            for nic in header["vifs"]:
                net = self._saved_network(txn, nic, made)
                self.app.handlers["VIF"].insert(txn, self._free_ref(txn, nic["ref"]), dict(
                    nic["record"], VM=header["vm"]["uuid"], network=net))

    def _saved_vdi(self, call, disk, made):
        if self.store.get("VDI", disk["vdi"]) is not None:
            return disk["vdi"]
        wanted = os.path.realpath(disk["path"]) if disk["path"] else None
        if wanted is None:
            raise ApiError("VDI_MISSING", disk["vdi"], disk["path"])
        for vdi in self.store.refs("VDI"):
            path = self.store.private(vdi).get("path")
            if path and os.path.realpath(path) == wanted:
                return vdi
        for sr, sr_rec in self.store.records("SR"):
            d = srdrivers.SR_TYPES.get(sr_rec.get("type"))
            if d is not None and d.adopts and os.path.isfile(wanted) and \
                    srdrivers.same_place(os.path.dirname(wanted), sr_rec["location"]):
                with self.app.sr_lock(sr):
                    vdi = self.app.handlers["VDI"].adopt(call, sr, sr_rec, d, wanted)
                made.append(("VDI", vdi))
                return vdi
        raise ApiError("VDI_MISSING", disk["vdi"], disk["path"])

    def _saved_network(self, txn, nic, made):
        if txn.get("network", nic["network"]) is not None:
            return nic["network"]
        named = self.store.lookup("network", "name_label", nic["network_name"])
        if named:
            return sorted(named)[0]
        net = new_ref()
        handler = self.app.handlers["network"]
        handler.insert(txn, net, handler.record_from_wire({"name_label": nic["network_name"]})[0])
        made.append(("network", net))
        return net

    @staticmethod
    def _free_ref(txn, ref):
        """``ref`` (a device's ref as saved, which the guest's state may name) unless
        another object has it."""
        return new_ref() if txn.exists(ref) else ref
