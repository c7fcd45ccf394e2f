"""Fixtures for the QEMU backend tests: a backend, VM specs, event capture, cleanup.

Every QEMU process a test starts carries ``-uuid`` of a spec made by the ``vms``
fixture; at teardown any such process still alive is ended by its pid, so no
test leaves a guest behind even when it fails half-way.
"""

import pytest
from harness import tiny_args
from qemutest import Events, Vms


@pytest.fixture
def events():
    return Events()


@pytest.fixture
def backend_factory(events):
    """Make QemuBackend objects (several simulate daemon restarts), with QemuBackend's
    keyword ``options``; all closed at teardown."""
    from xen.xend.backend.qemu import QemuBackend
    made = []

    def make(**options):
        backend = QemuBackend(events, accel="tcg", **options)
        made.append(backend)
        return backend
    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def backend(backend_factory):
    return backend_factory()


@pytest.fixture
def vms(tmp_path, backend_factory):
    # Set up after backend_factory, so torn down before it: a killed guest is
    # still reaped by the backend that started it.
    made = Vms(tmp_path)
    yield made
    made.cleanup()


@pytest.fixture
def bridge(host_bridge):
    """A bridge with no host interface in it (tests/conftest.py's ``host_bridge``)."""
    return host_bridge


@pytest.fixture
def linux_spec(vms, tiny_guest):
    """Make a spec that boots the tiny guest with ``xend.test=MODE`` (or no mode)."""
    def make(mode="", disks=(), **more):
        fields = {"memory_static_max": 128 << 20, "memory_dynamic_max": 128 << 20,
                  "boot_method": "kernel_external", "kernel_kernel": tiny_guest["kernel"],
                  "kernel_initrd": tiny_guest["initrd"],
                  "kernel_args": tiny_args(tiny_guest, mode)}
        fields.update(more)
        return vms.spec(disks=disks, **fields)
    return make
