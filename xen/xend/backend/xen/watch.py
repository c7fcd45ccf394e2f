"""What guests do on their own: the checker that finds domains which shut down by
themselves, finishes what the guest asked for and reports it.

Every domain is created with ``on_* = preserve``: when a guest powers off,
reboots or crashes on its own, its domain stays, shut down with a reason code.
A watch on ``@releaseDomain`` (which xenstored fires whenever a domain shuts
down or goes away) wakes the checker, which lists the domains (``xl list -v``)
and hands each of ours that changed to a thread of its own:

====================================  ==================================  ============
the domain                            what the checker does               event
====================================  ==================================  ============
gone                                  forgets it                          ``died``
crashed (or shut down by a watchdog)  keeps it, for a core dump           ``crash``
shut down to reboot (or soft reset)   rebuilds it from its configuration  ``reboot``
shut down to suspend                  keeps it                            ``suspend``
shut down otherwise (power-off)       destroys it                         ``shutdown``
====================================  ==================================  ============

Shutdowns an operation of ours asked for (the domain is ``expected``) are left
to that operation. The checker also looks every RECHECK_INTERVAL seconds, in
case a watch event was lost.
"""

import logging
import threading

from .. import base
from .xl import (
    SHUTDOWN_CRASH,
    SHUTDOWN_REBOOT,
    SHUTDOWN_SOFT_RESET,
    SHUTDOWN_SUSPEND,
    SHUTDOWN_WATCHDOG,
    power_state,
)

log = logging.getLogger("xend.backend.xen")

RECHECK_INTERVAL = 5.0      # a check even without a watch event (a lost watch)


class GuestWatch:
    """Watches the domains of ``domains`` (a Domains table) through the Xl runner
    ``xl`` and reports what their guests did to ``on_guest_event(uuid, kind)``."""

    def __init__(self, xl, domains, on_guest_event):
        self._xl = xl
        self._domains = domains
        self._on_guest_event = on_guest_event
        self._dirty = threading.Event()
        self._closed = threading.Event()

    def start(self, xenstore):
        """Start checking, on every ``@releaseDomain`` event of the Xenstore
        ``xenstore`` and every RECHECK_INTERVAL seconds."""
        threading.Thread(target=self._check_loop, name="xend-xen-check", daemon=True).start()
        threading.Thread(target=xenstore.watch_released, args=(self.wake, self._closed),
                         name="xend-xen-watch", daemon=True).start()

    def wake(self):
        """Check soon: a domain may have shut down."""
        self._dirty.set()

    def close(self):
        """Stop checking."""
        self._closed.set()
        self._dirty.set()

    def _check_loop(self):
        while not self._closed.is_set():
            self._dirty.wait(RECHECK_INTERVAL)
            self._dirty.clear()
            if self._closed.is_set():
                return
            try:
                self._check()
            except Exception:   # xl hiccups must not end the checker
                log.exception("checking domains failed")

    def _check(self):
        """Hand every domain of ours that shut down or vanished to a handler thread."""
        listing = self._xl.list(max_age=0)
        for uuid, dom in self._domains.all().items():
            entry = listing.get(uuid)
            changed = entry is None or (power_state(entry) is None
                                        and not dom.kept)
            if changed and not dom.expected and not dom.handling:
                dom.handling = True
                threading.Thread(target=self._handle, args=(dom,), daemon=True,
                                 name="xend-xen-guest").start()

    def _handle(self, dom):
        """Finish what the guest did to its domain and report it (one domain)."""
        try:
            with dom.lock:
                if dom.expected or not self._domains.holds(dom):
                    return
                entry = self._xl.list(max_age=0).get(dom.uuid)
                if entry is not None and (power_state(entry) is not None
                                          or dom.kept):
                    return
                kind = self._finish(dom, entry)
            log.info("guest %s: %s", dom.uuid, kind)
            self._on_guest_event(dom.uuid, kind)
        except Exception:
            log.exception("handling a guest event of %s failed", dom.uuid)
        finally:
            dom.handling = False

    def _finish(self, dom, entry):
        """Do what the guest asked of its domain (listed as ``entry``, None once gone);
        returns the GUEST_* event to report."""
        if entry is None:
            self._domains.forget(dom)
            return base.GUEST_DIED
        reason = entry["reason"]
        if "c" in entry["state"] or reason in (SHUTDOWN_CRASH,
                                               SHUTDOWN_WATCHDOG):
            dom.kept = True                  # kept, so that it can be dumped
            return base.GUEST_CRASH
        if reason in (SHUTDOWN_REBOOT, SHUTDOWN_SOFT_RESET):
            self._domains.rebuild(dom)       # the reboot the guest asked for
            return base.GUEST_REBOOT
        if reason == SHUTDOWN_SUSPEND:
            dom.kept = True
            return base.GUEST_SUSPEND
        self._domains.destroy(dom)
        return base.GUEST_SHUTDOWN
