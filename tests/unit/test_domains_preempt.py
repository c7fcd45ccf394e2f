"""A hard shutdown that overtakes a waiting clean shutdown owns the final state: when it
returns the VM is Halted, and the overtaken call, finishing later, never changes that; its
answer is that outcome (docs/api.md, "VM lifecycle"), whatever its backend call said."""

import threading
import types

import pytest

from xen.xend.api.errors import ApiError
from xen.xend.backend.base import BackendError
from xen.xend.backend.sim import SimBackend
from xen.xend.state import domains
from xen.xend.state.store import Store


class WaitingBackend(SimBackend):
    """clean_shutdown waits until hard_shutdown ends the 'guest'."""

    def __init__(self, state_dir):
        super().__init__(state_dir)
        self.killed = threading.Event()
        self.waiting = threading.Event()

    def clean_shutdown(self, uuid, timeout):
        self.waiting.set()
        self.killed.wait(10)

    clean_reboot = clean_shutdown

    def hard_shutdown(self, uuid):
        self.killed.set()


class KilledBackend(WaitingBackend):
    """As QEMU's: the waiting call fails once its guest is killed under it."""

    def clean_shutdown(self, uuid, timeout):
        super().clean_shutdown(uuid, timeout)
        raise BackendError("INTERNAL_ERROR", "QEMU exited during a clean shutdown")

    clean_reboot = clean_shutdown


def _owner(tmp_path, backend_class, **fields):
    store = Store(None, ["VM", "host", "VBD", "VIF", "console"],
                  reverse_fields=[("console", "VM"), ("VBD", "VM"), ("VIF", "VM")])
    with store.transaction() as txn:
        txn.create("VM", "vm1", dict({"power_state": "Running", "resident_on": "h"}, **fields))
    backend = backend_class(str(tmp_path))
    app = types.SimpleNamespace(store=store, host_ref="h", control_domain="dom0", config={},
                                sampler=types.SimpleNamespace(forget=lambda vm: None))
    return store, backend, domains.Domains(app, backend)


@pytest.mark.parametrize("backend_class", [WaitingBackend, KilledBackend])
@pytest.mark.parametrize("call, answer", [
    ("clean_shutdown", None),
    ("clean_reboot", ("VM_BAD_POWER_STATE", ["vm1", "Running", "Halted"])),
])
def test_the_overtaken_call_answers_the_outcome(tmp_path, backend_class, call, answer):
    # actions/after_*: what would bring the VM back were the overtaken call followed.
    store, backend, owner = _owner(tmp_path, backend_class, actions_after_shutdown="restart",
                                   actions_after_reboot="restart")
    answers = []

    def overtaken():
        try:
            getattr(owner, call)("vm1")
            answers.append(None)
        except ApiError as e:
            answers.append((e.code, e.params))

    thread = threading.Thread(target=overtaken)
    thread.start()
    assert backend.waiting.wait(10)
    owner.hard_shutdown("vm1")
    thread.join(10)
    assert answers == [answer]
    assert store.get("VM", "vm1")["power_state"] == "Halted"


def test_hard_shutdown_overtaking_clean_shutdown_sets_halted_before_it_returns(tmp_path):
    store = Store(None, ["VM", "host", "VBD", "VIF", "console"],
                  reverse_fields=[("console", "VM"), ("VBD", "VM"), ("VIF", "VM")])
    with store.transaction() as txn:
        txn.create("VM", "vm1", {"power_state": "Running", "resident_on": "h"})
    backend = WaitingBackend(str(tmp_path))
    app = types.SimpleNamespace(store=store, host_ref="h", control_domain="dom0", config={},
                                sampler=types.SimpleNamespace(forget=lambda vm: None))
    owner = domains.Domains(app, backend)
    seen_after_clean = []
    states_at_hard_return = []

    def clean():
        owner.clean_shutdown("vm1")
        seen_after_clean.append(store.get("VM", "vm1")["power_state"])

    thread = threading.Thread(target=clean)
    thread.start()
    assert backend.waiting.wait(10)
    assert store.get("VM", "vm1")["power_state"] == "ShuttingDown"
    owner.hard_shutdown("vm1")
    states_at_hard_return.append(store.get("VM", "vm1")["power_state"])
    thread.join(10)
    assert states_at_hard_return == ["Halted"]
    assert seen_after_clean == ["Halted"]
    assert store.get("VM", "vm1")["resident_on"] == ""
