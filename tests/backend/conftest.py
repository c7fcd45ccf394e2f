"""Fixtures for the QEMU backend tests: a backend, VM specs, event capture, cleanup.

Every QEMU process a test starts carries ``-uuid`` of a spec made by the ``vms``
fixture; at teardown any such process still alive is ended by its pid, so no
test leaves a guest behind even when it fails half-way.
"""

import os
import signal
import subprocess
import uuid

import pytest

from helpers import qemu_pids, tiny_args
from qemutest import Events, skip_without_taps, wait_until
from xen.xend.host import srdrivers
from xen.xend.backend.base import DiskSpec, DomainSpec, NicSpec


@pytest.fixture
def events():
    return Events()


@pytest.fixture
def backend_factory(events):
    """Make QemuBackend objects (several simulate daemon restarts); all closed at teardown."""
    from xen.xend.backend.qemu import QemuBackend
    made = []

    def make():
        backend = QemuBackend(events, accel="tcg")
        made.append(backend)
        return backend
    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def backend(backend_factory):
    return backend_factory()


class Vms:
    """Builds DomainSpecs in a test's tmp dir and remembers them for cleanup."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.specs = []

    def spec(self, disks=(), nics=(), **record):
        """A no-OS VM: 64 MiB, one vCPU, BIOS boot from a disk it does not have."""
        vm = str(uuid.uuid4())
        fields = {"name_label": "test-" + vm[:8], "memory_static_max": str(64 << 20),
                  "memory_dynamic_max": str(64 << 20), "VCPUs_max": 1,
                  "boot_method": "bios", "bios_boot": "HD"}
        fields.update(record)
        spec = DomainSpec(uuid=vm, record=fields, disks=list(disks), nics=list(nics),
                          state_dir=str(self.tmp / vm[:8]))
        self.specs.append(spec)
        return spec

    def disk(self, backend, name="disk", size=16 << 20, **kw):
        """A fresh qcow2 image attached as a paravirtualised RW disk unless overridden."""
        path = str(self.tmp / f"{name}.qcow2")
        srdrivers.create_image(path, size)
        args = {"vbd": str(uuid.uuid4()), "path": path, "format": "qcow2",
                "device": "xvda", "mode": "RW", "driver": "paravirtualised"}
        args.update(kw)
        return DiskSpec(**args)

    def nic(self, **kw):
        """A VIF with a locally administered MAC."""
        args = {"vif": str(uuid.uuid4()), "mac": "52:54:00:%02x:%02x:%02x" % tuple(os.urandom(3)),
                "mtu": 1500, "driver": "paravirtualised"}
        args.update(kw)
        return NicSpec(**args)

    def cleanup(self):
        for spec in self.specs:
            for pid in qemu_pids(spec.uuid):
                os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not qemu_pids(spec.uuid), 10)


@pytest.fixture
def vms(tmp_path, backend_factory):
    # Set up after backend_factory, so torn down before it: a killed guest is
    # still reaped by the backend that started it.
    made = Vms(tmp_path)
    yield made
    made.cleanup()


@pytest.fixture
def bridge():
    """A bridge with no host interface in it (nothing can leave the machine)."""
    skip_without_taps()
    name = "xtbr" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    yield name
    subprocess.run(["ip", "link", "del", name], check=True)


@pytest.fixture
def linux_spec(vms, tiny_guest):
    """Make a spec that boots the tiny guest with ``xend.test=MODE`` (or no mode)."""
    def make(mode="", disks=(), **record):
        fields = {"memory_static_max": str(128 << 20), "memory_dynamic_max": str(128 << 20),
                  "boot_method": "kernel_external", "kernel_kernel": tiny_guest["kernel"],
                  "kernel_initrd": tiny_guest["initrd"],
                  "kernel_args": tiny_args(tiny_guest, mode)}
        fields.update(record)
        return vms.spec(disks=disks, **fields)
    return make
