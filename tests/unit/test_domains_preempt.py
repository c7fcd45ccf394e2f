"""A hard shutdown that overtakes a waiting clean shutdown owns the final state: when it
returns the VM is Halted, and the overtaken call, finishing later, never changes that."""

import threading
import types

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

    def hard_shutdown(self, uuid):
        self.killed.set()


def test_hard_shutdown_overtaking_clean_shutdown_sets_halted_before_it_returns(tmp_path):
    store = Store(None, ["VM", "host", "console"], reverse_fields=[("console", "VM")])
    with store.transaction() as txn:
        txn.create("VM", "vm1", {"power_state": "Running", "resident_on": "h"})
    backend = WaitingBackend(str(tmp_path))
    app = types.SimpleNamespace(store=store, host_ref="h", config={},
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
