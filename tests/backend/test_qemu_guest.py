"""QemuBackend with the tiny Linux guest: what needs a guest OS to answer.

One booting guest per test (boots are CPU-bound under TCG). "xend-test: ready"
on the serial console means the guest's /init listens for the power button
and Ctrl-Alt-Del; see tests/guest/build.py for the modes.
"""

import os
import signal

import pytest
from harness import READY, qemu_pids, requires_qemu, wait_until
from qemutest import console, wait_console

from xen.xend.backend.base import BackendError

pytestmark = [pytest.mark.qemu, requires_qemu]

WAIT = 90   # seconds: an upper bound, never an expectation


def test_clean_shutdown(backend, linux_spec, events):
    spec = linux_spec()
    pid = backend.start(spec, paused=False)["pid"]
    wait_console(spec, READY)
    backend.clean_shutdown(spec.uuid, WAIT)
    assert "power button, powering off" in console(spec)
    assert qemu_pids(spec.uuid) == []
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert backend.power_state(spec.uuid) is None
    # The caller got the outcome; it is not reported again as an event.
    assert events.of(spec.uuid) == []


def test_guest_poweroff_is_reported_after_the_process_is_gone(backend, linux_spec, events):
    spec = linux_spec("poweroff")
    seen = []
    backend.on_guest_event = lambda vm, kind: seen.append((kind, qemu_pids(vm))) or \
        events(vm, kind)
    backend.start(spec, paused=False)
    events.wait(spec.uuid, "shutdown", WAIT)
    assert seen == [("shutdown", [])]


def test_clean_and_hard_reboot_are_not_reported_as_guest_reboots(backend, linux_spec, events):
    spec = linux_spec()
    pid = backend.start(spec, paused=False)["pid"]
    wait_console(spec, READY)
    backend.clean_reboot(spec.uuid, WAIT)
    wait_console(spec, READY, count=2)
    assert "ctrl-alt-del, rebooting" in console(spec)
    backend.hard_reboot(spec.uuid)
    wait_console(spec, READY, count=3)
    assert qemu_pids(spec.uuid) == [pid]
    assert backend.power_state(spec.uuid) == "Running"
    # Neither the resets asked for nor SeaBIOS's follow-up resets are guest reboots.
    assert events.of(spec.uuid) == []


def test_guest_reboot_is_reported_once_per_reboot(backend, linux_spec, events):
    spec = linux_spec("reboot")          # reboots as soon as it is up, every time
    backend.start(spec, paused=False)
    wait_console(spec, READY, count=3)
    backend.hard_shutdown(spec.uuid)
    boots = console(spec).count(READY)
    # Each boot but perhaps the last (cut short by hard_shutdown) rebooted once.
    assert boots - 1 <= len(events.of(spec.uuid)) <= boots
    assert set(events.of(spec.uuid)) == {"reboot"}


def test_guest_crash_leaves_a_paused_process_to_dump(backend, linux_spec, events, tmp_path):
    spec = linux_spec("panic")
    pid = backend.start(spec, paused=False)["pid"]
    events.wait(spec.uuid, "crash", WAIT)
    assert qemu_pids(spec.uuid) == [pid]
    assert backend.power_state(spec.uuid) == "Paused"
    core = str(tmp_path / "crash.core")
    backend.dump_core(spec.uuid, core)
    with open(core, "rb") as f:
        assert f.read(4) == b"\x7fELF"
    assert os.path.getsize(core) >= 128 << 20      # all of the guest's RAM
    # A hard reboot brings the crashed guest back (coredump_and_restart).
    backend.hard_reboot(spec.uuid)
    assert backend.power_state(spec.uuid) == "Running"
    wait_console(spec, READY, count=2)


def test_guest_suspend_to_ram_is_reported(backend, linux_spec, events):
    spec = linux_spec("s3")
    backend.start(spec, paused=False)
    events.wait(spec.uuid, "suspend", WAIT)
    assert events.of(spec.uuid) == ["suspend"]


def test_metrics_and_suspend_resume_of_a_booted_guest(backend, vms, linux_spec, events):
    disk = vms.disk(backend)
    spec = linux_spec("burn", disks=[disk], VCPUs_max=2)
    backend.start(spec, paused=False)
    wait_console(spec, READY)

    first = backend.metrics(spec.uuid)
    assert len(first["cpu_seconds"]) == 2
    assert first["vbd"][disk.vbd]["rd_bytes"] >= 1 << 20   # /init read 1 MiB of it
    assert first["vbd"][disk.vbd]["rd_operations"] > 0
    wait_until(lambda: sum(backend.metrics(spec.uuid)["cpu_seconds"])
               > sum(first["cpu_seconds"]), WAIT, "the guest's CPU time to grow")

    backend.set_memory_target(spec.uuid, 96 << 20)
    wait_until(lambda: backend.metrics(spec.uuid)["memory_actual"] == 96 << 20, WAIT,
               "the balloon to reach 96 MiB")

    before = backend.metrics(spec.uuid)
    state = os.path.join(spec.state_dir, "suspend.state")
    backend.suspend(spec.uuid, False, state)
    assert qemu_pids(spec.uuid) == []
    backend.resume(spec, state, paused=False)
    after = backend.metrics(spec.uuid)
    # Counters carry over into the new process.
    assert sum(after["cpu_seconds"]) >= sum(before["cpu_seconds"])
    assert after["vbd"][disk.vbd]["rd_bytes"] >= before["vbd"][disk.vbd]["rd_bytes"]
    # The same guest OS carries on: it still answers the power button.
    backend.clean_shutdown(spec.uuid, WAIT)
    assert console(spec).count(READY) == 1
    assert events.of(spec.uuid) == []


def test_reattached_guest_still_shuts_down_cleanly(backend_factory, linux_spec, events):
    first = backend_factory()
    spec = linux_spec()
    private = first.start(spec, paused=False)
    first.close()
    second = backend_factory()
    assert second.reattach(spec.uuid, private) == "Running"
    wait_console(spec, READY)
    second.clean_shutdown(spec.uuid, WAIT)
    assert qemu_pids(spec.uuid) == []
    assert events.of(spec.uuid) == []


def test_clean_shutdown_timeout_then_a_late_poweroff(backend, linux_spec, events):
    spec = linux_spec()
    pid = backend.start(spec, paused=False)["pid"]
    wait_console(spec, READY)
    os.kill(pid, signal.SIGSTOP)         # a hung QEMU acts on nothing
    try:
        with pytest.raises(BackendError) as err:
            backend.clean_shutdown(spec.uuid, 1)
        assert err.value.code == "VM_SHUTDOWN_TIMEOUT"
        assert qemu_pids(spec.uuid) == [pid]     # never a silent hard kill
    finally:
        os.kill(pid, signal.SIGCONT)
    # The button press is still delivered; nobody waits for it any more, so
    # the power-off that follows is a guest event.
    events.wait(spec.uuid, "shutdown", WAIT)
    assert qemu_pids(spec.uuid) == []
