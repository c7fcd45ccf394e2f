"""What a guest does on its own: QMP events become guest events, reported in order.

=======================================  ==============================================
QEMU                                     event
=======================================  ==============================================
SHUTDOWN guest=true, then process exit   ``shutdown`` (reported after the exit/reap,
                                         by process.py)
RESET guest=true                         ``reboot`` (QEMU has already reset in place;
                                         SeaBIOS's own follow-up reset is filtered out)
GUEST_PANICKED (pvpanic)                 ``crash`` (process left paused and alive)
SUSPEND (guest entered ACPI S3)          ``suspend``
process exit with no guest shutdown      ``died`` (process.py)
DEVICE_DELETED                           no event: the unplug is finished (hotplug.py)
=======================================  ==============================================

Outcomes the daemon asked for are returned by the call, not reported again
as events: the exit caused by hard_shutdown/suspend, the power-off awaited by
clean_shutdown and the reset awaited by clean_reboot. If such a wait times
out, a later guest power-off or reset is reported as an event as usual.

Events reach ``on_guest_event`` from a notifier thread of their own, so that a
callback may call back into the backend (the QMP loop thread must never block).
"""

import logging
import queue
import threading
import time

from .. import base
from . import counters, hotplug

log = logging.getLogger("xend.backend.qemu")

# SeaBIOS answers every warm reset with a hard reboot of its own, which QEMU
# reports as a second RESET guest=true ~40 ms later. A guest reset that comes
# within this much vCPU time of the previous reset is that firmware step, not
# a guest reboot: no OS can boot and reboot again in so little CPU time.
FIRMWARE_RESET_CPU = 0.5


class Notifier:
    """Hands guest events to ``on_guest_event(uuid, kind)`` on a thread of its own."""

    def __init__(self, on_guest_event):
        self._on_guest_event = on_guest_event
        self._events = queue.Queue()
        self._thread = threading.Thread(target=self._main, name="xend-qemu-events",
                                        daemon=True)
        self._thread.start()

    def notify(self, uuid, kind):
        """Report GUEST_* ``kind`` of guest ``uuid`` (returns at once)."""
        log.info("guest %s: %s", uuid, kind)
        self._events.put((uuid, kind))

    def close(self):
        """Report what is queued, then end the thread."""
        self._events.put(None)
        self._thread.join()

    def _main(self):
        while True:
            item = self._events.get()
            if item is None:
                return
            try:
                self._on_guest_event(*item)
            except Exception:
                log.exception("guest event handler failed for %s", item)


def on_qmp_event(dom, event, notify, spawn):
    """Act on QMP ``event`` of guest ``dom``: report what the guest did through
    ``notify(uuid, kind)``; ``spawn(coro)`` runs follow-up work on the loop."""
    name = event["event"]
    data = event.get("data") or {}
    if name == "SHUTDOWN" and data.get("guest"):
        dom.guest_shutdown = True
    elif name == "RESET":
        # The OS that boots next may have no balloon driver: ask again.
        dom.balloon_driver = False
        dom.reset_at = int(time.time())
        cpu = counters.vcpu_seconds(dom)
        previous, dom.last_reset_cpu = dom.last_reset_cpu, cpu
        if not data.get("guest") or (previous is not None
                                     and cpu - previous < FIRMWARE_RESET_CPU):
            return
        waiters = [w for w in dom.reset_waiters if not w.done()]
        dom.reset_waiters = []
        for waiter in waiters:
            waiter.set_result(True)
        if not waiters:
            notify(dom.uuid, base.GUEST_REBOOT)
    elif name == "GUEST_PANICKED":
        notify(dom.uuid, base.GUEST_CRASH)
    elif name == "SUSPEND":
        notify(dom.uuid, base.GUEST_SUSPEND)
    elif name == "DEVICE_DELETED" and data.get("device"):
        spawn(hotplug.device_gone(dom, data["device"]))
