"""Live migration between two simulated backends (backend/sim.py): the guest moves from
one to the other, a cancel or a failure leaves it where it ran and nothing on the target."""

import threading
import uuid as uuidlib

import pytest
from harness import as_task

from xen.xend.backend.base import BackendError
from xen.xend.backend.sim import SimBackend
from xen.xend.backend.spec import DomainSpec
from xen.xend.util import progress


@pytest.fixture
def pair(tmp_path):
    """A source and a target backend, each with its own state directory."""
    made = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        made.append(SimBackend(str(tmp_path / name), op_seconds=0.2))
    yield made
    for backend in made:
        backend.close()


def running(sim):
    spec = DomainSpec(uuid=str(uuidlib.uuid4()))
    sim.start(spec, paused=False)
    return spec


def test_the_guest_moves_to_the_target(pair):
    source, target = pair
    spec = running(source)
    incoming = target.migrate_receive(spec, "127.0.0.1")
    seen = []
    with as_task(seen.append):
        figures = source.migrate_send(spec.uuid, incoming["uri"], {})
    assert target.migrate_finish(spec.uuid, True) == {"sim": True}
    assert source.reattach(spec.uuid, {}) is None
    assert target.reattach(spec.uuid, {}) == "Running"
    assert figures["transferred_bytes"] > 0 and figures["total_time_ms"] > 0
    assert seen and seen == sorted(seen)


def test_a_cancel_leaves_the_guest_on_the_source_and_nothing_on_the_target(pair):
    source, target = pair
    spec = running(source)
    incoming = target.migrate_receive(spec, "127.0.0.1")
    with as_task(lambda fraction: threading.Thread(target=tracker.request_cancel).start()) \
            as tracker, pytest.raises(progress.Cancelled):
        source.migrate_send(spec.uuid, incoming["uri"], {})
    assert target.migrate_finish(spec.uuid, False) is None
    assert source.reattach(spec.uuid, {}) == "Running"
    assert target.reattach(spec.uuid, {}) is None
    # What was received is gone: a later finish finds nothing to run.
    with pytest.raises(BackendError) as err:
        target.migrate_finish(spec.uuid, True)
    assert err.value.code == "VM_MIGRATE_FAILED"


def test_nothing_receiving_or_a_guest_not_running_is_refused(pair):
    source, target = pair
    spec = running(source)
    with pytest.raises(BackendError) as err:
        source.migrate_send(spec.uuid, "sim:/nonexistent/incoming", {})
    assert err.value.code == "VM_MIGRATE_FAILED"
    assert err.value.params[0] == spec.uuid
    source.pause(spec.uuid)
    incoming = target.migrate_receive(spec, "127.0.0.1")
    with pytest.raises(BackendError) as err:
        source.migrate_send(spec.uuid, incoming["uri"], {})
    assert err.value.params == [spec.uuid, "Running", "Paused"]
    assert source.reattach(spec.uuid, {}) == "Paused"


def test_finish_never_touches_a_guest_it_did_not_receive(pair):
    source, _ = pair
    spec = running(source)
    with pytest.raises(BackendError) as err:
        source.migrate_finish(spec.uuid, True)
    assert err.value.code == "VM_MIGRATE_FAILED"
    assert source.migrate_finish(spec.uuid, False) is None
    assert source.reattach(spec.uuid, {}) == "Running"
