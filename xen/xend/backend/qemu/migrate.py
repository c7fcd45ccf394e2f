"""Live migration between two hosts' QEMU: the target receives, the source sends, the
target finishes (see Backend.migrate_receive, migrate_send, migrate_finish).

The target is a QEMU built from the guest's DomainSpec with ``-incoming defer``
(stopped, -S), listening with ``migrate-incoming`` on a port QEMU picks on the
address it is given. The source runs QMP ``migrate`` to it and polls
``query-migrate``; when that says "completed" the target holds the guest, stopped,
and the source's copy is stopped too: the caller ends the source and the target
runs ``cont``. A failed or cancelled migration leaves the source running (QEMU
restarts a guest it stopped for the switch) and the target is killed.
"""

import asyncio
import logging

from xen.xend.util import progress

from ..base import BackendError
from . import scheduling
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
    if not isinstance(downtime, int) or isinstance(downtime, bool) or downtime <= 0:
        raise BackendError("VALUE_NOT_SUPPORTED", "downtime_ms", downtime,
                           "a whole number of milliseconds above 0")
    return {"parameters": {"downtime-limit": downtime, "max-bandwidth": UNCAPPED},
            "capabilities": {"auto-converge": True}}


def tcp_uri(address, port):
    """QEMU's tcp: URI of ``address`` (IPv4 or IPv6) and ``port``."""
    return "tcp:%s:%d" % ("[%s]" % address if ":" in address else address, port)


async def receive(processes, spec, address, taps, audio_ok):
    """Launch the target QEMU for ``spec`` and listen on ``address``; returns the
    guest's private state with the ``uri`` to send to. No process is left on failure."""
    dom = await processes.launch(spec, taps, audio_ok, incoming=True)
    try:
        await scheduling.apply_at_start(dom, processes.cgroups, spec.vm)
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
    dom.receiving = True
    return dict(dom.private(), uri=tcp_uri(address, port))


async def send(dom, uri, options, report, cancel_asked):
    """Migrate the running guest of ``dom`` to ``uri``; returns the figures of the
    completed migration, or None once a cancel (``cancel_asked()``) took effect. The
    source's QEMU is left stopped after a completed migration, running otherwise."""
    status = (await dom.qmp("query-status"))["status"]
    if status != "running":
        log.info("QEMU of %s is %s: not migrated", dom.uuid, status)
        raise BackendError("VM_BAD_POWER_STATE", dom.uuid, "Running", "Paused")
    wanted = tuning(options)
    await dom.qmp("migrate-set-capabilities", {"capabilities": [
        {"capability": name, "state": on} for name, on in wanted["capabilities"].items()]})
    await dom.qmp("migrate-set-parameters", wanted["parameters"])
    try:
        await dom.qmp("migrate", {"uri": uri})
        info = await _follow(dom, report, cancel_asked)
    except BackendError as err:
        await stay(dom)
        if err.code == "VM_MIGRATE_FAILED":
            raise
        raise BackendError("VM_MIGRATE_FAILED", dom.uuid, err.params[-1]) from None
    if info is None:
        await stay(dom)
        return None
    return {"total_time_ms": info.get("total-time", 0), "downtime_ms": info.get("downtime", 0),
            "transferred_bytes": info.get("ram", {}).get("transferred", 0)}


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
    dom.receiving = False
    if not ok:
        await processes.kill(dom)
        return None
    try:
        await wait_incoming(dom)
        status = (await dom.qmp("query-migrate")).get("status")
        if status != "completed":
            raise BackendError("VM_MIGRATE_FAILED", dom.uuid,
                               "the target's incoming migration is %s" % status)
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
