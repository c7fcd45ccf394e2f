"""The domain owner of the unit tests: state/domains.py's Domains on a given store, with
the sim backend and the least of an app it asks for."""

import types

from xen.xend.backend.sim import SimBackend
from xen.xend.state import domains


def make_owner(store, tmp_path, vm_fields):
    """A Domains over ``store`` (VM, host, VBD and VIF tables) holding host "h" and a
    Halted VM "vm1" with ``vm_fields``; the sim backend keeps its guests in ``tmp_path``."""
    with store.transaction() as txn:
        txn.create("host", "h", {"enabled": True})
        txn.create("VM", "vm1", dict({"power_state": "Halted", "resident_on": ""}, **vm_fields))
    app = types.SimpleNamespace(store=store, host_ref="h", config={},
                                state_dir=str(tmp_path), host_features=set,
                                sampler=types.SimpleNamespace(forget=lambda vm: None))
    return domains.Domains(app, SimBackend(str(tmp_path)))
