"""Autostart: once the daemon serves after a host boot, start the VMs whose
other_config:auto_poweron is "true", one at a time, in their order.

A host boot is told from a mere daemon restart by a marker file in the run
directory (config.run_dir: /var/run/xend by default, a tmpfs a boot empties),
written once the sequence has run to its end. A restart finds the marker and
starts nothing: the guests that were running are reattached as always. Each start
is a task owned by root (``xm task-list`` shows it); a failed start is logged once
and never retried; a VM that is not Halted, or is a template, is skipped with a
log line. A daemon that stops meanwhile ends the sequence between two VMs (or
while waiting for one to start) and leaves the marker unwritten.
"""

import logging
import os
import threading
import time

from ..api import lifecycle
from ..api.dispatch import Call
from ..api.errors import ApiError
from ..api.sessions import ROOT, Session
from ..util.files import open_own
from .config import run_dir

log = logging.getLogger("xend.autostart")

MARKER = "xend.booted"

# Seconds between two looks, while a start runs, at whether the daemon is stopping.
_POLL = 0.5


def marker_path(cfg):
    """The marker that says autostart has run since the host booted."""
    return os.path.join(run_dir(cfg), MARKER)


def home_host(app, vm):
    """The host that autostarts ``vm`` in a pool: the one the SR of its first disk (by
    VBD device) is local to, which alone has its image; the master for a VM without
    disks. A single host is every VM's."""
    store = app.store
    vbds = sorted((store.get("VBD", v).get("device", ""), v)
                  for v in store.referrers("VBD", "VM", vm))
    for _, vbd in vbds:
        vdi = store.get("VDI", store.get("VBD", vbd).get("VDI", ""))
        sr = store.get("SR", vdi.get("SR", "")) if vdi else None
        if sr is not None:
            return app.host_of(sr)
    return app.master_ref


def autostart_vms(app):
    """The refs of the VMs this host autostarts, in the order they start: other_config
    auto_poweron = "true" (not a control domain's), this host their home_host; lower
    order first, then by name, then by UUID."""
    chosen = [(rec.get("order", 0), rec.get("name_label", ""), ref)
              for ref, rec in app.store.records("VM")
              if rec.get("other_config", {}).get("auto_poweron") == "true"
              and not rec.get("is_control_domain")      # it runs already: no guest
              and home_host(app, ref) == app.host_ref]
    return [ref for _, _, ref in sorted(chosen)]


class Autostart:
    """The autostart sequence of one daemon, on a thread of its own."""

    def __init__(self, app):
        self.app = app
        self.marker = marker_path(app.config)
        self._stop = threading.Event()
        self._thread = None
        now = time.time()
        self._call = Call(app, "VM.start", session=Session("", ROOT, now, now))

    def begin(self):
        """Run the sequence in the background, unless the marker says it has run."""
        if os.path.exists(self.marker):
            log.info("autostart: %s is there (a daemon restart, not a host boot): no VM "
                     "is started", self.marker)
            return
        self._thread = threading.Thread(target=self._run, name="autostart", daemon=True)
        self._thread.start()

    def stop(self, timeout):
        """End the sequence (a start in progress finishes as its task does)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self):
        vms = autostart_vms(self.app)
        log.info("autostart after a host boot: %d VM(s) to start", len(vms))
        for vm in vms:
            if self._stop.is_set():
                break
            if self._stop.wait(self._start_one(vm)):
                break
        else:
            self._mark_done()
            return
        log.info("autostart: the daemon is stopping; the sequence ends here")

    def _start_one(self, vm):
        """Start ``vm`` as a task and wait for it; the seconds to wait before the next
        VM (its start_delay once started, else 0)."""
        rec = self.app.store.get("VM", vm)
        if rec is None:     # deleted since the sequence began
            return 0
        name = rec.get("name_label", "")
        if rec.get("is_a_template"):
            log.info("VM '%s' (%s): autostart skipped: it is a template", name, vm)
            return 0
        if rec.get("power_state") != lifecycle.HALTED:
            log.info("VM '%s' (%s): autostart skipped: it is %s, not Halted",
                     name, vm, rec.get("power_state"))
            return 0
        method = self.app.dispatcher.resolve("VM.start")
        try:
            task = self.app.tasks.submit(self._call, method, [vm, False])
        except ApiError as e:
            self._failed(name, vm, e.description)
            return 0
        while not self.app.tasks.wait(task, _POLL):
            if self._stop.is_set():
                return 0
        outcome = self.app.store.get("task", task) or {}
        if outcome.get("status") != "success":
            self._failed(name, vm, outcome.get("error_info") or ["TASK_CANCELLED", task])
            return 0
        return rec.get("start_delay", 0)

    @staticmethod
    def _failed(name, vm, description):
        log.warning("VM '%s' (%s): autostart failed: %s", name, vm, " ".join(description))

    def _mark_done(self):
        os.makedirs(os.path.dirname(self.marker), mode=0o700, exist_ok=True)
        fd = open_own(self.marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            os.write(fd, b"autostart done at %d\n" % time.time())
        finally:
            os.close(fd)
        log.info("autostart done; %s written", self.marker)
