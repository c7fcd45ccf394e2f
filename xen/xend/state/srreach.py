"""Which hosts reach which SR (docs/pool.md, "Storage in a pool"): the one rule that PBDs,
placement and migration checks all read.

A local SR (its type's ``shared`` false) is reached by the one host it is local to (its
record's private ``_host``, else the master: ``app.host_of``). A shared SR (shared-dir,
nfs) is reached by every member, whatever its record says of a host: a host joining the
pool reaches it at once, an ejected one no more.

Whether a host has a shared SR attached (its directory there, an nfs export mounted) is
known only on that host: each daemon attaches every shared SR at its start and when it
makes one, and keeps the list of those attached in its own host record (private
``ATTACHED_KEY``), which the others read. A member of a pool also attaches a shared SR
as soon as another member makes one, and lets go of one (unmounts it) as soon as
another deletes or forgets it (``SharedSRFollower``).
"""

import logging
import os
import queue
import threading

from ..host import srdrivers

log = logging.getLogger("xend.storage")

# The host record's private list of the shared SRs attached on that host.
ATTACHED_KEY = "_attached_SRs"


def is_shared(sr_rec):
    """Whether every member reaches the SR (its type's SR.shared; an unknown type is
    nobody's but its host's)."""
    return getattr(srdrivers.SR_TYPES.get(sr_rec.get("type") or "dir"), "shared", False)


def local_host(app, sr_rec):
    """The host a local SR is local to; None for a shared SR."""
    return None if is_shared(sr_rec) else app.host_of(sr_rec)


def hosts_reaching(app, sr_rec):
    """The refs of the hosts that reach the SR, sorted: every member for a shared SR, its
    own host for a local one."""
    host = local_host(app, sr_rec)
    return sorted(app.store.refs("host")) if host is None else [host]


def reaches(app, host, sr):
    """Whether ``host`` reaches the SR ``sr`` (a ref; an SR that is gone: no)."""
    rec = app.store.get("SR", sr)
    return rec is not None and host in hosts_reaching(app, rec)


def unreached_disks(app, vm, host):
    """The (VDI, SR) of each of ``vm``'s disks on an SR ``host`` does not reach, sorted
    (an empty CD drive has no SR)."""
    store, out = app.store, set()
    for vbd in store.referrers("VBD", "VM", vm):
        vdi = store.get("VBD", vbd).get("VDI")
        sr = (store.get("VDI", vdi) or {}).get("SR") if vdi else None
        if sr and not reaches(app, host, sr):
            out.add((vdi, sr))
    return sorted(out)


def attached(app, host, sr, sr_rec):
    """Whether ``host`` has the SR attached: a local SR on its host from its creation on,
    a shared SR where that host's record says it attached it (the same answer on every
    member)."""
    if not is_shared(sr_rec):
        return True
    return sr in (app.store.get("host", host) or {}).get(ATTACHED_KEY, ())


def attach_shared(app):
    """Attach here every shared SR of the pool (mount an nfs export; check a shared
    directory is there) and record in this host's record which are: run at each start.
    One that cannot be attached is logged, and its PBD here shows it detached."""
    done = []
    for sr, rec in app.store.records("SR"):
        if not is_shared(rec):
            continue
        try:
            srdrivers.driver(rec["type"]).attach(rec["location"], rec.get("device_config"))
            done.append(sr)
        except Exception as e:   # any cause: the daemon starts, without that SR
            log.error("SR %s (%s at %s) could not be attached on this host: %s", sr,
                      rec["type"], rec["location"], e)
    with app.store.transaction() as txn:
        if (txn.get("host", app.host_ref) or {}).get(ATTACHED_KEY) != sorted(done):
            txn.update("host", app.host_ref, {ATTACHED_KEY: sorted(done)})


def note_attached(app, txn, sr):
    """In ``txn``: the shared SR ``sr`` is attached on this host now (it made it)."""
    done = (txn.get("host", app.host_ref) or {}).get(ATTACHED_KEY, [])
    txn.update("host", app.host_ref, {ATTACHED_KEY: sorted(set(done) | {sr})})


class SharedSRFollower:
    """Keeps this member's shared SRs in step with the pool's: each shared SR another
    member makes is attached here, and each one deleted or forgotten is let go of
    (``forget``: an nfs export is unmounted, the files stay), on a thread of its own
    (the store's listeners run under its write lock: no mount may wait there)."""

    def __init__(self, app):
        self.app = app
        self._work = queue.Queue()
        app.store.add_listener(self._on_commit)
        threading.Thread(target=self._loop, name="xend-shared-srs", daemon=True).start()

    def _on_commit(self, events):
        for op, cls, _ref, rec, old in events:
            if cls == "SR" and op in ("add", "del") and is_shared(rec if op == "add" else old):
                self._work.put((op, old))

    def _loop(self):
        while True:
            op, old = self._work.get()
            try:
                if op == "del" and os.path.exists(old["location"]):
                    srdrivers.driver(old["type"]).forget(old["location"],
                                                         old.get("device_config"))
                attach_shared(self.app)
            except Exception:   # any cause: the next change tries again
                log.exception("shared SRs: could not follow the pool's")
