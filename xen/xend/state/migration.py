"""Live migration of a running guest to another host of the pool: the domain owner's
part (a mix-in of state/domains.py's Domains), on both hosts.

The source (the host the guest runs on; a call made on another member is forwarded to
it) holds the VM as any lifecycle operation does and:

  1. checks the target: another member, live (its lease), enabled, reaching every SR
     of the VM's disks, with the memory free (its lease's figure);
  2. has the target prepare (``internal(target, "migrate_receive", vm, storage)``:
     ``receive_migration`` there builds the guest from the shared records, not
     running, and answers where to send it);
  3. sends the guest (the backend's ``migrate_send``), under the call's task: its
     progress and a cancel reach the backend;
  4. has the target take over (``internal(target, "migrate_finish", vm, True)``:
     ``finish_migration`` there runs the guest and stores, in one transaction,
     resident_on and the backend's private data of its guest, so events show
     resident_on moving at once from source to target).

Whatever fails or is cancelled before step 4 leaves the guest running here and makes
the target end what it prepared (``migrate_finish`` with False); the Failure is
VM_MIGRATE_FAILED with the reason (a cancel ends the task as cancelled).

Where the hosts have TLS material (``tls_cert``, ``tls_key`` signed by the pool's CA,
``pool_ca_file``) the guest travels over TLS: each host hands its backend its own
(``migration_tls``), the target to receive, the source to send.

With ``options["storage"]`` "copy" the disks local to this host that the target does
not reach travel too: in step 2 the target makes an empty VDI of each (the same
record, in its default local SR or ``options["sr"]``) and builds the guest on them,
the backend copies the images in step 3, and in step 4 the guest's VBDs move to the
copies in the transaction that moves resident_on. The source then destroys the old
VDIs (their files with them); a failure or a cancel destroys the copies instead. A
disk on a shared SR stays where it is.
"""

import dataclasses
import logging

from ..api import lifecycle
from ..api.errors import ApiError
from ..backend.base import BackendError
from . import srreach

log = logging.getLogger("xend.domains")

# The host-to-host operations of a migration, each the target's method of that name
# (registered on the pool channel by daemon/app.py).
INTERNAL_OPS = {"migrate_receive": "receive_migration",
                "migrate_finish": "finish_migration"}

# VM.pool_migrate's options and the values each takes, the default first (None: any
# string, by default ""; "sr": the SR to copy disks into).
OPTIONS = {"live": ("true",), "storage": ("shared", "copy"), "sr": None, "bandwidth": None}

# Returned by an operation's work when another host stored its outcome (run()).
MOVED = object()


def migrate_options(options):
    """``options`` completed with the defaults; INVALID_VALUE [options:KEY, value] for a
    key or value VM.pool_migrate does not take."""
    options = dict(options or {})
    for key, value in options.items():
        if key not in OPTIONS or value not in (OPTIONS[key] or (value,)):
            raise ApiError("INVALID_VALUE", "options:" + key,
                           "%s (takes: %s)" % (value, ", ".join(OPTIONS.get(key) or ())
                                               or "no such option"))
    bandwidth = options.get("bandwidth", "")
    if bandwidth and not (bandwidth.isdigit() and 0 < int(bandwidth) < 1 << 30):
        raise ApiError("INVALID_VALUE", "options:bandwidth", "%s (takes: a whole number of "
                       "MiB/s above 0)" % bandwidth)
    return {key: options.get(key, values[0] if values else "")
            for key, values in OPTIONS.items()}


def migration_tls(config):
    """This host's TLS material for its guests' migration streams, the backends'
    ``tls`` ({"cert", "key", "ca"}), or None where it has none (plain TCP then)."""
    tls = {"cert": config.get("tls_cert"), "key": config.get("tls_key"),
           "ca": config.get("pool_ca_file")}
    return tls if all(tls.values()) else None


class Migrations:
    """VM.pool_migrate on the source host, and the target's two steps."""

    # -- the source -------------------------------------------------------------

    def pool_migrate(self, vm, host, options):
        """Move the running ``vm`` live to ``host`` (module docstring)."""
        options = migrate_options(options)
        channel = self._channel(host)

        def work():
            copies = self._check_target(vm, host, options["storage"])
            # Nothing to copy: both hosts open the same images, as with "shared".
            storage = "copy" if copies else "shared"
            try:
                reply = channel.internal(host, "migrate_receive", vm, storage, copies,
                                         options["sr"])
            except ApiError as e:
                raise ApiError("VM_MIGRATE_FAILED", vm, "the target could not prepare "
                               "to receive it: %s" % e) from None
            tls = migration_tls(self.app.config)
            try:
                figures = self.backend.migrate_send(
                    vm, reply["uri"], dict(options, storage=storage, nbd=reply.get("nbd"),
                                           tls=tls, max_bandwidth=int(
                                               options["bandwidth"] or 0) << 20 or None))
            except BaseException:
                self._abandon(vm, host)
                raise
            self.app.sampler.forget(vm)
            try:
                channel.internal(host, "migrate_finish", vm, True)
            except ApiError as e:
                self._lost(vm, host, e)
            # The target stored where the guest runs before it answered: read it here
            # too, so that this Success's caller finds it on this host at once.
            self.store.catch_up()
            log.info("VM %s: migrated to host %s %s (%s)", vm, host,
                     "over TLS" if tls else "in clear",
                     ", ".join("%s %s" % kv for kv in sorted(figures.items())))
            self._destroy_vdis(copies, "copied to host %s" % host)
            return MOVED
        self.run(vm, "migrate", work)

    def migrate(self, vm, dest, live, options):
        """1.0's VM.migrate: to the member that ``dest`` names, as pool_migrate (always
        live: the backends move only a running guest's memory)."""
        return self.pool_migrate(vm, self._host_named(dest), options)

    def _channel(self, host):
        """The pool channel to reach ``host`` by; OPERATION_NOT_ALLOWED on a host alone,
        which has no other host to migrate to."""
        if self.app.pool_channel is None:
            raise ApiError("OPERATION_NOT_ALLOWED", "no other host to migrate to: this "
                           "host is in no pool, so %r is not one of its hosts" % host)
        return self.app.pool_channel

    def _host_named(self, dest):
        """The member whose ref, uuid, name_label or address is ``dest``, else
        OPERATION_NOT_ALLOWED (on a single host: no other host) or UUID_INVALID."""
        self._channel(dest)
        for ref, rec in self.store.records("host"):
            if dest in (ref, rec.get("uuid"), rec.get("name_label"), rec.get("address")):
                return ref
        raise ApiError("UUID_INVALID", "host", dest)

    def _check_target(self, vm, host, storage):
        """VM_MIGRATE_FAILED unless ``host`` can take ``vm`` now; HOST_NOT_LIVE and
        HOST_DISABLED as a start on it would be refused. Returns the VDIs to copy to
        it (``storage`` "copy": those of its disks ``host`` does not reach)."""
        if host == self.app.host_ref:
            raise ApiError("VM_MIGRATE_FAILED", vm, "it already runs on host %s" % host)
        target = self.store.get("host", host)
        if not self.app.host_live(host):
            raise ApiError("HOST_NOT_LIVE", host)
        if not target.get("enabled", True):
            raise ApiError("HOST_DISABLED", host)
        copies = []
        for vdi, sr in srreach.unreached_disks(self.app, vm, host):
            why = self._not_copied(vm, vdi, sr) if storage == "copy" else \
                "the option storage \"copy\" copies a disk to it"
            if why:
                raise ApiError("VM_MIGRATE_FAILED", vm, "host %s does not reach the SR "
                               "%s of its disk %s (%s)" % (host, sr, vdi, why))
            copies.append(vdi)
        need = self.store.get("VM", vm).get("memory_static_max", 0)
        free = (self.app.lease(host) or {}).get("memory_free")
        if free is not None and free < need:
            raise ApiError("VM_MIGRATE_FAILED", vm, "host %s has %d bytes of memory free, "
                           "the guest needs %d" % (host, free, need))
        return copies

    def _not_copied(self, vm, vdi, sr):
        """Why the VDI ``vdi`` (in SR ``sr``) of ``vm`` cannot be copied with it, or "":
        only a writable disk of this host's own, of this VM alone, is."""
        if srreach.local_host(self.app, self.store.get("SR", sr)) != self.app.host_ref:
            return "its SR is not this host's"
        vbds = [self.store.get("VBD", v) for v in self.store.referrers("VBD", "VDI", vdi)]
        if any(v["VM"] != vm for v in vbds):
            return "another VM has the disk too"
        if self.store.get("VDI", vdi).get("read_only") or any(
                v.get("mode", "RW") != "RW" or v.get("type") == "CD" for v in vbds):
            return "a read-only disk is not copied"
        return ""

    def _destroy_vdis(self, vdis, why):
        """Destroy the VDIs ``vdis`` and their images, as root; one that cannot be is
        logged (the migration that made them spare is done)."""
        for vdi in vdis:
            try:
                self.app.handlers["VDI"].delete(self.app.root_call("VDI.destroy"), vdi)
                log.info("VDI %s: destroyed (%s)", vdi, why)
            except (ApiError, OSError) as e:
                log.error("VDI %s could not be destroyed (%s): %s", vdi, why, e)

    def _lost(self, vm, host, error):
        """The guest left this host but the target did not say it took over: unless its
        record shows that the target did (only its answer was lost), the guest runs
        nowhere now and is stored Halted; VM_MIGRATE_FAILED either way, its state
        already stored (run() leaves it)."""
        if self.store.get("VM", vm).get("resident_on") != host:
            self._set_state(vm, lifecycle.HALTED, {}, "stopped (lost in its migration)")
        failed = ApiError("VM_MIGRATE_FAILED", vm, "host %s did not take the guest over "
                          "(%s); the VM is %s" % (host, error,
                                                  self.store.get("VM", vm)["power_state"]))
        failed.stored = True
        raise failed from None

    def _abandon(self, vm, host):
        """After a failed or cancelled send: the target ends what it prepared (a target
        that cannot be told is logged: its half-made guest never ran)."""
        try:
            self.app.pool_channel.internal(host, "migrate_finish", vm, False)
        except (ApiError, BackendError) as e:
            log.error("VM %s: host %s could not end the guest it prepared to receive: "
                      "%s", vm, host, e)

    # -- the target (internal operations, never on the API) --------------------------

    def receive_migration(self, vm, storage, copies=(), sr=""):
        """Build ``vm``'s guest here, not running, ready to receive its state, on empty
        copies (in ``sr``, else the default SR) of the VDIs ``copies``; returns {"uri":
        where the source sends it, "nbd": where it copies the disks to}."""
        made = self._make_copies(vm, copies, sr)
        try:
            spec = self._copy_spec(self.spec(vm), made)
            self.make_bridges(self._vifs_of(vm))
            self._made_vm_dir(vm)
            reply = self.backend.migrate_receive(spec, self._receive_address(), storage,
                                                 tls=migration_tls(self.app.config))
        except BaseException:
            self._destroy_vdis(made.values(), "its migration here failed")
            raise
        self._copies[vm] = made
        return {"uri": reply["uri"], "nbd": reply.get("nbd")}

    def _make_copies(self, vm, vdis, sr):
        """{VDI: an empty VDI like it in ``sr`` (default: this host's default SR)};
        VM_MIGRATE_FAILED where ``sr`` is no SR this host may make them in, and
        whatever made them fail (SR_FULL), none left made."""
        if not vdis:
            return {}
        sr = sr or self.app.handlers["SR"].default_sr()
        if not sr or not srreach.reaches(self.app, self.app.host_ref, sr):
            raise ApiError("VM_MIGRATE_FAILED", vm, "SR %r is none this host reaches to "
                           "copy its disks into" % sr)
        made = {}
        try:
            for vdi in vdis:
                made[vdi] = self.app.handlers["VDI"].make_like(vdi, sr)
        except BaseException:
            self._destroy_vdis(made.values(), "its migration here failed")
            raise
        return made

    def _copy_spec(self, spec, made):
        """``spec`` with each disk whose VDI is in ``made`` on its copy's image, copied;
        the other disks opened where they are."""
        disks = []
        for d in spec.disks:
            copy = made.get(self.store.get("VBD", d.vbd)["VDI"])
            private = self.store.private(copy) if copy else None
            disks.append(dataclasses.replace(d, path=private["path"],
                                             format=private["format"]) if copy else
                         dataclasses.replace(d, copied=False))
        return dataclasses.replace(spec, disks=disks)

    def _receive_address(self):
        """Where this host receives guests: its address in the pool (host.address),
        else the loopback (members of one machine)."""
        return (self.store.get("host", self.app.host_ref) or {}).get("address") or \
            "127.0.0.1"

    def finish_migration(self, vm, ok):
        """Run the received guest of ``vm`` and store it as this host's (``ok``), or end
        it. VM_MIGRATE_FAILED where its state did not arrive whole."""
        made = self._copies.pop(vm, {})
        try:
            private = self.backend.migrate_finish(vm, ok)
        except BaseException:
            self._destroy_vdis(made.values(), "its migration here failed")
            raise
        if not ok:
            self._destroy_vdis(made.values(), "its migration here was abandoned")
            return {}

        def disks_moved(txn):
            for vbd in txn.referrers("VBD", "VM", vm):
                if txn.get("VBD", vbd).get("VDI") in made:
                    txn.update("VBD", vbd, {"VDI": made[txn.get("VBD", vbd)["VDI"]]})
        # Its domid and start_time stay: the guest goes on, it is not a new one.
        self._set_state(vm, lifecycle.RUNNING, private, "started (migrated here)",
                        also=disks_moved)
        return {}
