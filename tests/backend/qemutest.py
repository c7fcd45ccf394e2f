"""Helpers of the QEMU backend tests (imported by conftest.py and the test modules): the
backend's guest events, the guests' consoles and the specs of a test's VMs."""

import os
import re
import signal
import threading
import uuid

from harness import BOOT_WAIT, EVENT_WAIT, READY, console_text, qemu_pids, type_line, wait_until

from xen.xend.backend.spec import DiskSpec, DomainSpec, NicSpec, VMConfig
from xen.xend.host import cgroups, srdrivers


class Events:
    """Records the backend's on_guest_event calls and lets a test wait for one."""

    def __init__(self):
        self._lock = threading.Lock()
        self.seen = []

    def __call__(self, vm, kind):
        with self._lock:
            self.seen.append((vm, kind))

    def of(self, vm):
        """The event kinds reported for ``vm`` so far, in order."""
        with self._lock:
            return [kind for v, kind in self.seen if v == vm]

    def wait(self, vm, kind, timeout=EVENT_WAIT):
        """Wait until ``kind`` was reported for ``vm``."""
        wait_until(lambda: kind in self.of(vm), timeout,
                   lambda: "event %r of %s (seen: %s)" % (kind, vm, self.of(vm)))


def console(spec):
    """The guest's serial console so far."""
    return console_text(spec.state_dir)


# The tiny guest's counter, typed into its shell: each tick its number and the guest's
# uptime, every 0.1 s (a guest that migrates carries on counting).
COUNTER = ('i=0; while :; do i=$((i+1)); read u x < /proc/uptime; '
           'echo "tick $i $u"; sleep 0.1; done &')
TICK = re.compile(r"^tick (\d+) (\d+\.\d+)\r?$", re.M)


def ticks(spec):
    """The counter's complete lines so far on the console of ``spec``: [(n, uptime)]."""
    text = console(spec)
    text = text[:text.rfind("\n") + 1]      # not a line still being written
    return [(int(n), float(u)) for n, u in TICK.findall(text)]


def wait_ticks(spec, count, timeout=BOOT_WAIT):
    """Wait until the counter on the console of ``spec`` has ticked ``count`` times."""
    wait_until(lambda: len(ticks(spec)) >= count, timeout,
               "%d ticks of the counter on the console of %s" % (count, spec.uuid))


def start_counting(backend, spec, token):
    """Start the tiny guest of ``spec`` (mode shell) on ``backend``, write ``token`` at
    the start of its disk (written through to the image: the shell's line, then sync)
    and have it count (COUNTER) until it has ticked 5 times; its QEMU's pid."""
    pid = backend.start(spec, paused=False)["pid"]
    wait_console(spec, READY)
    type_line(backend, spec.uuid, "echo %s > /dev/vda; sync; %s" % (token, COUNTER))
    wait_ticks(spec, 5)
    return pid


def wait_console(spec, text, count=1, timeout=BOOT_WAIT):
    """Wait until ``text`` appears ``count`` times on the guest's console."""
    wait_until(lambda: console(spec).count(text) >= count, timeout,
               "%r x%d on the console of %s" % (text, count, spec.uuid))


class Vms:
    """Builds DomainSpecs in a test's tmp dir and remembers them for cleanup."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.specs = []

    def spec(self, disks=(), nics=(), **fields):
        """A no-OS VM: 64 MiB, one vCPU, BIOS boot from a disk it does not have;
        ``fields`` are VMConfig's."""
        vm = str(uuid.uuid4())
        config = {"name_label": "test-" + vm[:8], "memory_static_max": 64 << 20,
                  "memory_dynamic_max": 64 << 20, "VCPUs_max": 1,
                  "boot_method": "bios", "bios_boot": "HD"}
        config.update(fields)
        spec = DomainSpec(uuid=vm, vm=VMConfig(**config), disks=list(disks),
                          nics=list(nics), state_dir=str(self.tmp / vm[:8]))
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
        """SIGKILL the QEMU of every spec made, wait until each is gone, and remove its
        CPU cgroup (as a daemon finding the guest gone would)."""
        hierarchy, _ = cgroups.probe()
        for spec in self.specs:
            for pid in qemu_pids(spec.uuid):
                os.kill(pid, signal.SIGKILL)
                try:
                    # A closed backend's child: reaped here, or as a zombie it keeps
                    # its cgroup busy (cgroup v1).
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
            wait_until(lambda: not qemu_pids(spec.uuid), 10,
                       "the QEMU of %s to be gone" % spec.uuid)
            if hierarchy is not None:
                hierarchy.remove(spec.uuid)
