"""Helpers for the QEMU backend tests (imported by conftest.py and the test modules)."""

import os
import shutil
import threading
import time

import pytest

QEMU = shutil.which("qemu-system-x86_64")

requires_qemu = pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed")

# Upper bounds for waiting on a booting TCG guest; reaching one is a failure.
BOOT_WAIT = 90
EVENT_WAIT = 60


class Events:
    """Records on_guest_event calls and lets a test wait for one."""

    def __init__(self):
        self._cond = threading.Condition()
        self.seen = []

    def __call__(self, vm, kind):
        with self._cond:
            self.seen.append((vm, kind))
            self._cond.notify_all()

    def of(self, vm):
        """The event kinds reported for ``vm`` so far, in order."""
        with self._cond:
            return [kind for v, kind in self.seen if v == vm]

    def wait(self, vm, kind, timeout=EVENT_WAIT):
        """Wait until ``kind`` was reported for ``vm``; True if it was."""
        with self._cond:
            return self._cond.wait_for(lambda: (vm, kind) in self.seen, timeout)


def qemu_pids(vm):
    """Pids of live QEMU processes started for ``vm`` (found by -uuid)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if not zombie and any(a == b"-uuid" and b == vm.encode()
                              for a, b in zip(args, args[1:])):
            pids.append(int(entry))
    return pids


def wait_until(predicate, timeout):
    """Poll ``predicate`` until it is true or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def console(spec):
    """The guest's serial console so far."""
    try:
        with open(os.path.join(spec.state_dir, "console.log"), errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_console(spec, text, count=1, timeout=BOOT_WAIT):
    """Wait until ``text`` appears ``count`` times on the guest's console."""
    return wait_until(lambda: console(spec).count(text) >= count, timeout)
