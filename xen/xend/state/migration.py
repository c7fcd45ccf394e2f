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
"""

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

# VM.pool_migrate's options and the values each takes, the default first.
OPTIONS = {"live": ("true",), "storage": ("shared",)}

# Returned by an operation's work when another host stored its outcome (run()).
MOVED = object()


def migrate_options(options):
    """``options`` completed with the defaults; INVALID_VALUE [options:KEY, value] for a
    key or value VM.pool_migrate does not take."""
    options = dict(options or {})
    for key, value in options.items():
        if value not in OPTIONS.get(key, (value,)) or key not in OPTIONS:
            raise ApiError("INVALID_VALUE", "options:" + key,
                           "%s (takes: %s)" % (value, ", ".join(OPTIONS.get(key, ()))
                                               or "no such option"))
    return {key: options.get(key, values[0]) for key, values in OPTIONS.items()}


class Migrations:
    """VM.pool_migrate on the source host, and the target's two steps."""

    # -- the source -------------------------------------------------------------

    def pool_migrate(self, vm, host, options):
        """Move the running ``vm`` live to ``host`` (module docstring)."""
        options = migrate_options(options)
        channel = self.app.pool_channel
        if channel is None:
            raise ApiError("OPERATION_NOT_ALLOWED", "no other host to migrate to: this "
                           "host is in no pool, so %s is not one of its hosts" % host)

        def work():
            self._check_target(vm, host)
            try:
                reply = channel.internal(host, "migrate_receive", vm, options["storage"])
            except ApiError as e:
                raise ApiError("VM_MIGRATE_FAILED", vm, "the target could not prepare "
                               "to receive it: %s" % e) from None
            try:
                figures = self.backend.migrate_send(vm, reply["uri"], options)
            except BaseException:
                self._abandon(vm, host)
                raise
            self.app.sampler.forget(vm)
            try:
                channel.internal(host, "migrate_finish", vm, True)
            except ApiError as e:
                self._lost(vm, host, e)
            log.info("VM %s: migrated to host %s (%s)", vm, host,
                     ", ".join("%s %s" % kv for kv in sorted(figures.items())))
            return MOVED
        self.run(vm, "migrate", work)

    def migrate(self, vm, dest, live, options):
        """1.0's VM.migrate: to the member that ``dest`` names, as pool_migrate (always
        live: the backends move only a running guest's memory)."""
        return self.pool_migrate(vm, self._host_named(dest), options)

    def _host_named(self, dest):
        """The member whose ref, uuid, name_label or address is ``dest``, else
        OPERATION_NOT_ALLOWED (on a single host: no other host) or UUID_INVALID."""
        if self.app.pool_channel is None:
            raise ApiError("OPERATION_NOT_ALLOWED", "no other host to migrate to: this "
                           "host is in no pool, so %r is not one of its hosts" % dest)
        for ref, rec in self.store.records("host"):
            if dest in (ref, rec.get("uuid"), rec.get("name_label"), rec.get("address")):
                return ref
        raise ApiError("UUID_INVALID", "host", dest)

    def _check_target(self, vm, host):
        """VM_MIGRATE_FAILED unless ``host`` can take ``vm`` now; HOST_NOT_LIVE and
        HOST_DISABLED as a start on it would be refused."""
        if host == self.app.host_ref:
            raise ApiError("VM_MIGRATE_FAILED", vm, "it already runs on host %s" % host)
        target = self.store.get("host", host)
        if not self.app.host_live(host):
            raise ApiError("HOST_NOT_LIVE", host)
        if not target.get("enabled", True):
            raise ApiError("HOST_DISABLED", host)
        unreached = srreach.unreached_disks(self.app, vm, host)
        if unreached:
            vdi, sr = unreached[0]
            raise ApiError("VM_MIGRATE_FAILED", vm, "host %s does not reach the SR "
                               "%s of its disk %s" % (host, sr, vdi))
        need = self.store.get("VM", vm).get("memory_static_max", 0)
        free = (self.app.lease(host) or {}).get("memory_free")
        if free is not None and free < need:
            raise ApiError("VM_MIGRATE_FAILED", vm, "host %s has %d bytes of memory free, "
                           "the guest needs %d" % (host, free, need))

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

    def receive_migration(self, vm, storage):
        """Build ``vm``'s guest here, not running, ready to receive its state; returns
        {"uri": where the source sends it}."""
        spec = self.spec(vm)
        self.make_bridges(self._vifs_of(vm))
        self._made_vm_dir(vm)
        reply = self.backend.migrate_receive(spec, self._receive_address(), storage)
        return {"uri": reply["uri"]}

    def _receive_address(self):
        """Where this host receives guests: its address in the pool (host.address),
        else the loopback (members of one machine)."""
        return (self.store.get("host", self.app.host_ref) or {}).get("address") or \
            "127.0.0.1"

    def finish_migration(self, vm, ok):
        """Run the received guest of ``vm`` and store it as this host's (``ok``), or end
        it. VM_MIGRATE_FAILED where its state did not arrive whole."""
        private = self.backend.migrate_finish(vm, ok)
        if ok:
            # Its domid and start_time stay: the guest goes on, it is not a new one.
            self._set_state(vm, lifecycle.RUNNING, private, "started (migrated here)")
        return {}
