"""A domain owner (state/domains.py) in process, on the sim backend and a store of its
own, for the unit tests of what it does with the store."""

import types

from xen.xend.backend.sim import SimBackend
from xen.xend.state import domains
from xen.xend.state.sqlite import SqliteEngine
from xen.xend.state.store import Store


def sim_owner(tmp_path, **vm_fields):
    """A Domains over a store in ``tmp_path`` holding host "h" and the Halted VM "vm1"
    (with ``vm_fields``), made unless the store has them already (a daemon restart);
    close its store (``owner.store.close()``) when done."""
    store = Store(SqliteEngine(str(tmp_path / "xend.db")), ["VM", "host", "VBD", "VIF", "console"],
                  reverse_fields=[("VBD", "VM"), ("VIF", "VM"), ("console", "VM"),
                                  ("VM", "resident_on")])
    if store.get("host", "h") is None:
        with store.transaction() as txn:
            txn.create("host", "h", {"enabled": True})
            txn.create("VM", "vm1", dict({"power_state": "Halted", "resident_on": ""},
                                         **vm_fields))
    app = types.SimpleNamespace(store=store, host_ref="h", control_domain="dom0", config={},
                                leases=None,
                                state_dir=str(tmp_path), host_features=set,
                                sampler=types.SimpleNamespace(forget=lambda vm: None))
    return domains.Domains(app, SimBackend(str(tmp_path)))
