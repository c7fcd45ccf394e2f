"""Starting a guest, and shutting down or rebooting it, cleanly or not.

A clean shutdown presses the ACPI power button and waits for QEMU to exit after
the guest's power-off; a clean reboot sends Ctrl-Alt-Del (what a guest without an
agent understands as "please reboot") and waits for the guest's reset. A
panicking guest is kept: ``-action panic=pause`` leaves the process alive and
stopped so the daemon can take a core dump before acting on actions/after_crash.
"""

import asyncio

from ..base import BackendError
from . import scheduling

_CTRL_ALT_DEL = {"keys": [{"type": "qcode", "data": k} for k in ("ctrl", "alt", "delete")]}


async def start(processes, spec, paused, taps, audio_ok, report):
    """Launch QEMU for ``spec``, set its balloon, let it run unless ``paused``;
    returns the guest's private state. No process is left behind on failure."""
    dom = await processes.launch(spec, taps, audio_ok)
    report(0.6)   # spawned, monitor connected
    try:
        await _balloon_to_dynamic_max(dom, spec.vm)
        await scheduling.apply_at_start(dom, processes.cgroups, spec.vm)
        if not paused:
            await dom.qmp("cont")
    except BaseException:
        await processes.kill(dom)
        raise
    dom.expect_exit = False
    return dom.private()


async def _balloon_to_dynamic_max(dom, vm):
    static_max = vm.memory_static_max
    dynamic_max = vm.memory_dynamic_max or static_max
    if 0 < dynamic_max < static_max:
        await dom.qmp("balloon", {"value": dynamic_max})


async def clean_shutdown(dom, timeout):
    """Ask the guest to power off and wait for its QEMU to exit (see
    QemuBackend.clean_shutdown)."""
    dom.quiet_shutdown += 1
    try:
        await asyncio.wait_for(_powerdown(dom), timeout)
    except asyncio.TimeoutError:
        pass
    finally:
        dom.quiet_shutdown -= 1
    if not dom.exited.is_set():
        raise BackendError("VM_SHUTDOWN_TIMEOUT", dom.uuid, timeout)
    if not dom.guest_shutdown:
        raise BackendError("INTERNAL_ERROR", "QEMU exited during a clean shutdown")


async def _powerdown(dom):
    try:
        await dom.qmp("system_powerdown")
    except BackendError as err:
        # A fast guest may power off before QEMU's reply gets out.
        if err.code != "VM_BAD_POWER_STATE":
            raise
    await dom.exited.wait()


async def clean_reboot(dom, timeout):
    """Ask the guest to reboot and wait for its reset (see QemuBackend.clean_reboot)."""
    waiter = asyncio.get_running_loop().create_future()
    dom.reset_waiters.append(waiter)
    try:
        rebooted = await asyncio.wait_for(_ctrl_alt_del(dom, waiter), timeout)
    except asyncio.TimeoutError:
        raise BackendError("VM_SHUTDOWN_TIMEOUT", dom.uuid, timeout) from None
    finally:
        if waiter in dom.reset_waiters:
            dom.reset_waiters.remove(waiter)
    if not rebooted:
        raise BackendError("VM_BAD_POWER_STATE", dom.uuid, "Running", "Halted")


async def _ctrl_alt_del(dom, waiter):
    await dom.qmp("send-key", _CTRL_ALT_DEL)
    return await waiter


async def hard_reboot(dom):
    """Reset the machine; a paused or crashed guest is set running after it."""
    status = (await dom.qmp("query-status"))["status"]
    await dom.qmp("system_reset")
    if status != "running":
        # The lifecycle table ends every hard reboot Running: paused or crashed
        # guests are set going after the reset.
        await dom.qmp("cont")
