"""Guest memory into files and back: suspend and resume (QEMU migration streams to
and from a state file), and core dumps.

The daemon opens every such file and hands QEMU the descriptor (``getfd``): QEMU,
unprivileged and unable to run a program (its sandbox denies spawning), could
neither create the file in root's directory nor pipe through ``cat``.

Besides the state file a suspend leaves ``suspend.json`` in the guest's state dir:
the machine type, the PCI slots and the counters, which the resumed process needs
and the daemon does not keep (the devices themselves it supplies again).
"""

import asyncio
import json
import os

from xen.xend.util.files import open_own, unlink_if_exists

from ..base import BackendError
from ..common import create_private_file
from . import counters, scheduling
from .domain import POLL

INCOMING_TIMEOUT = 600.0  # reading a state file back in
SUSPEND_INFO = "suspend.json"
MIGRATION_MAGIC = b"QEVM"   # the first bytes of every QEMU migration stream


async def _hand_over(dom, name, fd):
    """Give QEMU a copy of our descriptor ``fd`` as ``name`` (``getfd``); ours is closed."""
    try:
        await dom.qmp("getfd", {"fdname": name}, fd=fd)
    finally:
        os.close(fd)


async def _hand_new_file(dom, name, path):
    """Create (or empty) the private file ``path`` and hand it to QEMU for writing."""
    create_private_file(path)
    await _hand_over(dom, name, open_own(path, os.O_WRONLY))


async def suspend(processes, dom, live, path, report):
    """Save the guest's state into the file ``path`` and end its QEMU;
    on failure the file is removed and a guest that ran runs on."""
    was_running = (await dom.qmp("query-status"))["status"] == "running"
    if was_running and not live:
        await dom.qmp("stop")
    try:
        await _hand_new_file(dom, "suspend", path)
        # The default bandwidth cap (128 MiB/s) would only slow a save to disk.
        await dom.qmp("migrate-set-parameters", {"max-bandwidth": 1 << 40})
        await dom.qmp("migrate", {"uri": "fd:suspend"})
        while True:
            info = await dom.qmp("query-migrate")
            if info.get("status") == "completed":
                break
            if info.get("status") in ("failed", "cancelled"):
                raise BackendError("INTERNAL_ERROR",
                                   "suspend failed: " + info.get("error-desc", info["status"]))
            ram = info.get("ram", {})
            if ram.get("total"):
                report(0.1 + 0.8 * min(ram.get("transferred", 0) / ram["total"], 1.0))
            await asyncio.sleep(POLL)
        carry = await counters.counters(dom)
        machine = await _machine_type(dom)
    except BackendError:
        unlink_if_exists(path)
        if was_running and not dom.exited.is_set():
            await dom.qmp("cont")
        raise
    create_private_file(os.path.join(dom.state_dir, SUSPEND_INFO), json.dumps(
        {"state_file": path, "machine": machine, "carry": carry, "slots": dom.slots}))
    await processes.kill(dom)


async def _machine_type(dom):
    # The versioned type ("pc-i440fx-7.2"), so a resume after a QEMU
    # upgrade still builds the machine the state was saved from.
    qom = await dom.qmp("qom-get", {"path": "/machine", "property": "type"})
    return qom[:-len("-machine")] if qom.endswith("-machine") else qom


async def resume(processes, spec, path, paused, taps, audio_ok, report):
    """Launch QEMU for ``spec`` and load the state file ``path`` into it; returns the
    guest's private state. VM_STATE_FILE_CORRUPT if QEMU cannot load the file."""
    try:
        state = open_own(path, os.O_RDONLY)
    except OSError:
        raise BackendError("VM_STATE_FILE_MISSING", path) from None
    try:
        return await _resume(processes, spec, path, state, paused, taps, audio_ok, report)
    finally:
        os.close(state)


async def _resume(processes, spec, path, state, paused, taps, audio_ok, report):
    # QEMU waits for ever on a stream that ends before its header: check it here.
    if os.pread(state, 4, 0) != MIGRATION_MAGIC:
        raise BackendError("VM_STATE_FILE_CORRUPT", path)
    info = {}
    if spec.state_dir:
        try:
            with open(os.path.join(spec.state_dir, SUSPEND_INFO)) as f:
                info = json.load(f)
        except (OSError, ValueError):
            pass
    if info.get("state_file") != path:
        info = {}
    dom = await processes.launch(spec, taps, audio_ok, incoming=True,
                                 machine=info.get("machine", "pc"), slots=info.get("slots"))
    dom.carry = info.get("carry", {})
    report(0.3)
    try:
        await dom.qmp("getfd", {"fdname": "incoming"}, fd=state)
        await dom.qmp("migrate-incoming", {"uri": "fd:incoming"})
        await wait_incoming(dom)
        await scheduling.apply_at_start(dom, processes.cgroups, spec.vm)
        report(0.9)
        if not paused:
            await dom.qmp("cont")
    except BackendError as err:
        # QEMU hangs up, then exits, when it cannot load the stream: its monitor
        # may be gone before the exit is seen.
        exited = dom.exited.is_set() or err.code == "VM_BAD_POWER_STATE"
        await processes.kill(dom)
        if exited:
            raise BackendError("VM_STATE_FILE_CORRUPT", path) from None
        raise
    dom.expect_exit = False
    return dom.private()


async def wait_incoming(dom):
    """Wait until QEMU has loaded the incoming migration stream (a state file's, or a
    live migration's)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + INCOMING_TIMEOUT
    while (await dom.qmp("query-status"))["status"] == "inmigrate":
        if loop.time() > deadline:
            raise BackendError("INTERNAL_ERROR", "loading the incoming state timed out")
        await asyncio.sleep(POLL)


async def dump_core(dom, path):
    """Write the guest's memory as an ELF core file to ``path``."""
    await _hand_new_file(dom, "dump", path)
    await dom.qmp("dump-guest-memory",
                  {"paging": False, "protocol": "fd:dump", "detach": True})
    while True:
        status = (await dom.qmp("query-dump"))["status"]
        if status == "completed":
            return
        if status == "failed":
            raise BackendError("INTERNAL_ERROR", f"dump-guest-memory to {path} failed")
        await asyncio.sleep(POLL)
