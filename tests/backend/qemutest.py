"""Helpers for the QEMU backend tests (imported by conftest.py and the test modules)."""

import os
import threading
import time

import pytest

from helpers import BOOT_WAIT, EVENT_WAIT, console_text


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
    return console_text(spec.state_dir)


def wait_console(spec, text, count=1, timeout=BOOT_WAIT):
    """Wait until ``text`` appears ``count`` times on the guest's console."""
    return wait_until(lambda: console(spec).count(text) >= count, timeout)


def skip_without_taps():
    """Skip where tap devices and bridges cannot be made (they need root and a tun device)."""
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        pytest.skip("bridges and tap devices need root and /dev/net/tun")
