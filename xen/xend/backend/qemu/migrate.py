"""Live migration between two hosts' QEMU: the target receives, the source sends, the
target finishes (see Backend.migrate_receive, migrate_send, migrate_finish).

The target is a QEMU built from the guest's DomainSpec with ``-incoming defer``
(stopped, -S), listening with ``migrate-incoming`` on a port QEMU picks on the
address it is given. The source runs QMP ``migrate`` to it and polls
``query-migrate``; when that says "completed" the target holds the guest, stopped,
and the source's copy is stopped too: the caller ends the source and the target
runs ``cont``. A failed or cancelled migration leaves the source running (QEMU
restarts a guest it stopped for the switch) and the target is killed.

With ``storage`` "copy" the disks travel too. The target, built on images of its own
(made empty by the caller, of the same virtual size), exports each writable disk over
NBD (``nbd-server-start`` on a socket the daemon binds, ``block-export-add``
writable). The source mirrors each disk into its export (``blockdev-mirror``, sync
full, copy-mode write-blocking: once a job is ready, every guest write reaches both
images before it completes), waits until every job is ready, migrates the memory, and
then ends the jobs (``block-job-cancel`` of a ready job: the images in sync, no
pivot). The target stops its NBD server before its guest runs.

With ``tls`` (the host's certificate, key and the pool's CA: tlscreds.py) both
streams are TLS: the memory (``migrate-set-parameters`` ``tls-creds`` on both sides,
and ``tls-hostname``, the target's address, on the source) and the disks' NBD
(``nbd-server-start`` and the source's NBD node with the same credentials). Without,
both are plain TCP.
"""

import asyncio
import logging
import os
import socket

from xen.xend.util import progress

from ..base import BackendError
from . import scheduling, tlscreds
from .domain import POLL
from .suspend import wait_incoming

log = logging.getLogger("xend.backend.qemu")

# What the source asks of QEMU for a short pause at the switch: no bandwidth cap
# (QEMU's default, 128 MiB/s, makes a guest that dirties memory faster than that
# never converge), a pause of at most DOWNTIME_MS, and auto-converge, which slows a
# guest's vCPUs that keep dirtying memory faster than it is sent.
DOWNTIME_MS = 100
UNCAPPED = 1 << 40
# QEMU's own defaults, for the comparison in bench/migrate.py (options "tuned": False).
QEMU_DEFAULTS = {"parameters": {"downtime-limit": 300, "max-bandwidth": 128 << 20},
                 "capabilities": {"auto-converge": False}}


def tuning(options):
    """The parameters and capabilities ``options`` ask of the source's QEMU."""
    if options.get("tuned", True) is False:
        return QEMU_DEFAULTS
    downtime = options.get("downtime_ms", DOWNTIME_MS)
    cap = options.get("max_bandwidth") or UNCAPPED
    for key, value in (("downtime_ms", downtime), ("max_bandwidth", cap)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise BackendError("VALUE_NOT_SUPPORTED", key, value, "a whole number above 0")
    return {"parameters": {"downtime-limit": downtime, "max-bandwidth": cap},
            "capabilities": {"auto-converge": True}}


STORAGE = ("shared", "copy")


def check_storage(storage):
    """VALUE_NOT_SUPPORTED for a ``storage`` option other than STORAGE's."""
    if storage not in STORAGE:
        raise BackendError("VALUE_NOT_SUPPORTED", "storage", storage,
                           "one of " + ", ".join(STORAGE))


def tcp_uri(address, port):
    """QEMU's tcp: URI of ``address`` (IPv4 or IPv6) and ``port``."""
    return "tcp:%s:%d" % ("[%s]" % address if ":" in address else address, port)


def uri_host(uri):
    """The address of QEMU's tcp: URI ``uri`` (tcp_uri's)."""
    return uri[len("tcp:"):].rsplit(":", 1)[0].strip("[]")


async def receive(processes, spec, address, storage, taps, audio_ok, tls=None):
    """Launch the target QEMU for ``spec`` and listen on ``address`` (over TLS with
    ``tls``); returns the guest's private state with the ``uri`` to send to, and with
    ``storage`` "copy" the ``nbd`` exports of its disks. No process is left on
    failure."""
    dom = await processes.launch(spec, taps, audio_ok, incoming=True)
    extra = {}
    try:
        await scheduling.apply_at_start(dom, processes.cgroups, spec.vm)
        if tls is not None:
            await tlscreds.add(dom, tls, "server", processes.account)
            await dom.qmp("migrate-set-parameters", {"tls-creds": tlscreds.CREDS})
        if storage == "copy":
            extra["nbd"] = await _export_disks(dom, spec, address, tls is not None)
        await dom.qmp("migrate-incoming", {"uri": tcp_uri(address, 0)})
        # Port 0: QEMU binds a free one, and tells which.
        info = await dom.qmp("query-migrate")
        port = int(info["socket-address"][0]["port"])
    except BackendError as err:
        await processes.kill(dom)
        raise BackendError("VM_MIGRATE_FAILED", spec.uuid, err.params[-1]) from None
    except BaseException:
        await processes.kill(dom)
        raise
    dom.receiving = storage
    return dict(dom.private(), uri=tcp_uri(address, port), **extra)


async def _export_disks(dom, spec, address, secure):
    """Serve the target's writable disks to be copied (DiskSpec.copied) over NBD on
    ``address`` (over TLS where ``secure``); returns {"host", "port", "exports": [VBD
    uuid, each its export's name]}."""
    # The daemon binds the socket and hands it over, as it does every socket QEMU serves.
    server = socket.create_server((address, 0), family=socket.AF_INET6 if ":" in address
                                  else socket.AF_INET)
    port = server.getsockname()[1]
    await dom.qmp("getfd", {"fdname": "nbd"}, fd=os.dup(server.fileno()))
    server.close()
    # nbd-server-start takes the legacy SocketAddress: its fields under "data".
    start = {"addr": {"type": "fd", "data": {"str": "nbd"}}}
    if secure:
        start["tls-creds"] = tlscreds.CREDS
    await dom.qmp("nbd-server-start", start)
    exports = [d.vbd for d in spec.disks if d.mode == "RW" and not d.cdrom and d.copied]
    for vbd in exports:
        await dom.qmp("block-export-add", {"type": "nbd", "id": "export-" + vbd,
                                           "node-name": dom.disks[vbd], "name": vbd,
                                           "writable": True})
    return {"host": address, "port": port, "exports": exports}


async def send(dom, uri, options, report, cancel_asked, account=None):
    """Migrate the running guest of ``dom`` to ``uri`` (over TLS with ``options``'
    "tls", QEMU running as ``account``); returns the figures of the completed
    migration, or None once a cancel (``cancel_asked()``) took effect. The source's
    QEMU is left stopped after a completed migration, running otherwise."""
    status = (await dom.qmp("query-status"))["status"]
    if status != "running":
        log.info("QEMU of %s is %s: not migrated", dom.uuid, status)
        raise BackendError("VM_BAD_POWER_STATE", dom.uuid, "Running", "Paused")
    wanted = tuning(options)
    nbd = options.get("nbd") if options.get("storage") == "copy" else None
    tls = options.get("tls")
    await dom.qmp("migrate-set-capabilities", {"capabilities": [
        {"capability": name, "state": on} for name, on in wanted["capabilities"].items()]})
    await dom.qmp("migrate-set-parameters", wanted["parameters"])
    jobs = []
    try:
        if tls is not None:
            await tlscreds.add(dom, tls, "client", account)
            await dom.qmp("migrate-set-parameters", {"tls-creds": tlscreds.CREDS,
                                                     "tls-hostname": uri_host(uri)})
        info = None         # unless the memory goes: a cancel while the disks copy
        if nbd is not None:
            jobs = await _mirror(dom, nbd, tls is not None)
        if nbd is None or await _mirrored(dom, jobs, report, cancel_asked):
            await dom.qmp("migrate", {"uri": uri})
            info = await _follow(dom, report, cancel_asked)
    except BackendError as err:
        await _end_mirrors(dom, jobs, force=True)
        await stay(dom)
        await tlscreds.drop(dom)
        if err.code == "VM_MIGRATE_FAILED":
            raise
        raise BackendError("VM_MIGRATE_FAILED", dom.uuid, err.params[-1]) from None
    # Completed or not, the jobs end here: in sync (the guest stopped for the switch),
    # or abandoned with the migration.
    copied = await _end_mirrors(dom, jobs, force=info is None)
    await tlscreds.drop(dom)
    if info is None:
        await stay(dom)
        return None
    return {"total_time_ms": info.get("total-time", 0), "downtime_ms": info.get("downtime", 0),
            "transferred_bytes": info.get("ram", {}).get("transferred", 0) + copied}


def _nbd_node(vbd):
    """The source's block node of the target's NBD export of VBD ``vbd``."""
    return "nbd-" + vbd.replace("-", "")[:27]


async def _mirror(dom, nbd, secure):
    """Start a mirror job of each disk the target exports into its export (over TLS
    where ``secure``); their ids."""
    jobs = []
    for vbd in nbd["exports"]:
        if vbd not in dom.disks:
            raise BackendError("VM_MIGRATE_FAILED", dom.uuid,
                               "the target has a disk %s the guest does not have" % vbd)
        node = {"driver": "nbd", "node-name": _nbd_node(vbd), "export": vbd,
                "server": {"type": "inet", "host": nbd["host"], "port": str(nbd["port"])}}
        if secure:      # QEMU checks that the certificate names nbd["host"]
            node["tls-creds"] = tlscreds.CREDS
        await dom.qmp("blockdev-add", node)
        jobs.append(vbd)
        await dom.qmp("blockdev-mirror", {
            "job-id": "mirror-" + vbd, "device": dom.disks[vbd], "target": _nbd_node(vbd),
            "sync": "full", "copy-mode": "write-blocking", "auto-dismiss": False})
    return jobs


async def _mirrored(dom, jobs, report, cancel_asked):
    """Wait until every mirror job is ready (its disk copied, writes mirrored); False
    when a cancel came first. VM_MIGRATE_FAILED when a job failed."""
    while True:
        states = {j["device"]: j for j in await dom.qmp("query-block-jobs")}
        done = 0
        for vbd in jobs:
            job = states.get("mirror-" + vbd)
            if job is None or job.get("status") == "concluded":
                raise BackendError("VM_MIGRATE_FAILED", dom.uuid, "copying disk %s: %s" % (
                    vbd, (job or {}).get("error", "the job ended")))
            done += job["ready"]
        if done == len(jobs):
            return True
        if cancel_asked():
            return False
        total = sum(states["mirror-" + v]["len"] for v in jobs) or 1
        report(0.5 * sum(states["mirror-" + v]["offset"] for v in jobs) / total)
        await asyncio.sleep(POLL)


async def _end_mirrors(dom, jobs, force):
    """End the mirror jobs ``jobs`` (``force``: abandoned; else in sync, no pivot) and
    remove their NBD nodes; returns the bytes they copied."""
    copied = 0
    for vbd in jobs:
        job_id = "mirror-" + vbd
        await dom.qmp("block-job-cancel", {"device": job_id, "force": force}, undo=True)
        while True:
            job = {j["device"]: j for j in await dom.qmp("query-block-jobs")}.get(job_id)
            if job is None or job.get("status") == "concluded":
                break
            await asyncio.sleep(POLL)
        if job is not None:
            copied += job.get("offset", 0)
            await dom.qmp("job-dismiss", {"id": job_id}, undo=True)
        await dom.qmp("blockdev-del", {"node-name": _nbd_node(vbd)}, undo=True)
    return copied


async def _follow(dom, report, cancel_asked):
    """Poll ``query-migrate`` until the migration ends: its last answer when completed,
    None when cancelled; VM_MIGRATE_FAILED when it failed."""
    cancelling = False
    while True:
        info = await dom.qmp("query-migrate")
        status = info.get("status")
        if status == "completed":
            return info
        if status == "cancelled":
            return None
        if status == "failed":
            raise BackendError("VM_MIGRATE_FAILED", dom.uuid, info.get("error-desc", status))
        if cancel_asked() and not cancelling:
            await dom.qmp("migrate_cancel")
            cancelling = True
        ram = info.get("ram", {})
        if ram.get("total"):
            # Memory is sent once, then what the guest dirtied meanwhile: past 100%.
            report(0.9 * min(ram.get("transferred", 0) / ram["total"], 1.0))
        await asyncio.sleep(POLL)


async def stay(dom):
    """The guest runs on at the source: a migration that completed but is not to be
    kept (cancelled at its end) leaves QEMU stopped ("postmigrate"), and ``cont``
    takes the disks back from the target. QEMU itself restarts a guest whose migration
    failed or was cancelled."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL * 100
    while True:
        status = (await dom.qmp("query-status"))["status"]
        if status == "running":
            return
        if status == "postmigrate" or loop.time() > deadline:
            await dom.qmp("cont", undo=True)
            return
        await asyncio.sleep(POLL)   # QEMU is still restarting the guest it stopped


async def finish(processes, dom, ok):
    """Run the received guest of ``dom`` (``ok``) and return its private state, or end
    it (not ``ok``; returns None). VM_MIGRATE_FAILED where its state did not arrive."""
    storage, dom.receiving = dom.receiving, ""
    if not ok:
        await processes.kill(dom)
        return None
    try:
        await wait_incoming(dom)
        status = (await dom.qmp("query-migrate")).get("status")
        if status != "completed":
            raise BackendError("VM_MIGRATE_FAILED", dom.uuid,
                               "the target's incoming migration is %s" % status)
        if storage == "copy":      # the disks' exports end before the guest runs
            await dom.qmp("nbd-server-stop")
        await tlscreds.drop(dom)
        await dom.qmp("cont")
    except BackendError as err:
        # QEMU exits when the stream it loads breaks off: its monitor is gone then.
        await processes.kill(dom)
        if err.code == "VM_MIGRATE_FAILED":
            raise
        raise BackendError("VM_MIGRATE_FAILED", dom.uuid,
                           "the guest's state did not arrive whole") from None
    dom.expect_exit = False
    return dom.private()


def cancel_asked():
    """A test of this thread's cancel, to call from the backend's loop (the tracker is
    per thread: util/progress)."""
    tracker = progress.current()
    return (lambda: tracker.cancel_requested) if tracker is not None else (lambda: False)
