"""Placement: which member of the pool starts a VM (docs/pool.md, "Placement").

A member may run a VM when it is live (its lease has not expired), reachable (this
host, or one with an ``address`` for the pool channel), enabled (not taken
out by ``host.disable``), reaches every SR of the VM's disks (a local SR only its own
host, a shared one every member), has the CPU features the VM requires and has the
VM's memory/static_max free (its lease's ``memory_free``). ``check`` raises why a host
may not; ``choose`` picks, of the members that may, the one with most free memory.
On a host alone (no pool) the host itself is the only one, checked as before by the
domain owner.
"""

from ..state import srreach
from ..state.domains import require_features
from .errors import ApiError


def free_memory(app, host):
    """Bytes free on ``host`` (app.host_memory: this host's sample, another's lease)."""
    return app.host_memory(host)[1]


def check(app, vm, host):
    """Raise why ``host`` may not run ``vm`` now: HOST_NOT_LIVE, HOST_OFFLINE (another
    member with no ``address``: the pool channel cannot reach it), HOST_DISABLED,
    VM_REQUIRES_SR, VALUE_NOT_SUPPORTED (CPU features) or HOST_NOT_ENOUGH_FREE_MEMORY."""
    if not app.host_live(host):
        raise ApiError("HOST_NOT_LIVE", host)
    rec = app.store.get("host", host)
    if host != app.host_ref and not rec.get("address"):   # no pool channel reaches it
        raise ApiError("HOST_OFFLINE", host)
    if not rec.get("enabled", True):
        raise ApiError("HOST_DISABLED", host)
    unreached = srreach.unreached_disks(app, vm, host)
    if unreached:
        raise ApiError("VM_REQUIRES_SR", vm, unreached[0][1])
    rec = app.store.get("VM", vm)
    require_features(rec, app.host_features(host))
    needed, free = rec.get("memory_static_max", 0), free_memory(app, host)
    if needed > free:
        raise ApiError("HOST_NOT_ENOUGH_FREE_MEMORY", needed, free)


def choose(app, vm):
    """The member to start ``vm`` on: of those that may run it, the one with most free
    memory (this host on a tie). When none may, the reason this host may not (or, where
    this host is no longer a member, the first member's)."""
    refused = {}
    able = []
    for host in app.store.refs("host"):
        try:
            check(app, vm, host)
            able.append(host)
        except ApiError as e:
            refused[host] = e
    if able:
        return max(able, key=lambda h: (free_memory(app, h), h == app.host_ref))
    raise refused.get(app.host_ref) or next(iter(refused.values()))
