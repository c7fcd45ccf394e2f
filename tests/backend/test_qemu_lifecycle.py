"""QemuBackend lifecycle on real QEMU processes whose VMs have no OS."""

import asyncio
import dataclasses
import gc
import json
import logging
import os
import signal
import subprocess
import threading
import uuid

import pytest
from harness import qemu_pids, requires_qemu

from xen.xend.backend.base import BackendError
from xen.xend.host import netdev, srdrivers

pytestmark = [pytest.mark.qemu, requires_qemu]


def test_start_running_and_paused(backend, vms, events):
    running, paused = vms.spec(), vms.spec()
    private = backend.start(running, paused=False)
    backend.start(paused, paused=True)
    assert backend.power_state(running.uuid) == "Running"
    assert backend.power_state(paused.uuid) == "Paused"
    assert qemu_pids(running.uuid) == [private["pid"]]
    with open(f"/proc/{private['pid']}/cmdline", "rb") as f:
        args = f.read().split(b"\0")
    name = running.vm.name_label.encode()
    assert args[args.index(b"-name") + 1] == b"guest=%s,debug-threads=on" % name
    # Its own session: a signal to the daemon's process group never reaches it.
    assert os.getsid(private["pid"]) == private["pid"] != os.getsid(0)
    assert os.path.isfile(os.path.join(running.state_dir, "qemu.log"))
    assert os.path.isfile(os.path.join(running.state_dir, "console.log"))
    assert events.of(running.uuid) == []


def test_private_state_is_json(backend, vms):
    spec = vms.spec(disks=[vms.disk(backend)])
    private = backend.start(spec, paused=True)
    assert json.loads(json.dumps(private)) == private
    assert {"pid", "starttime", "qmp_socket", "state_dir"} <= set(private)


def test_pause_unpause(backend, vms):
    spec = vms.spec()
    backend.start(spec, paused=False)
    backend.pause(spec.uuid)
    assert backend.power_state(spec.uuid) == "Paused"
    backend.unpause(spec.uuid)
    assert backend.power_state(spec.uuid) == "Running"


def test_unpause_a_paused_start(backend, vms):
    spec = vms.spec()
    backend.start(spec, paused=True)
    backend.unpause(spec.uuid)
    assert backend.power_state(spec.uuid) == "Running"


def test_hard_shutdown_ends_and_reaps_the_process(backend, vms, events):
    spec = vms.spec()
    pid = backend.start(spec, paused=False)["pid"]
    backend.hard_shutdown(spec.uuid)
    assert qemu_pids(spec.uuid) == []
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)     # already reaped: no zombie left
    assert backend.power_state(spec.uuid) is None
    backend.hard_shutdown(spec.uuid)    # idempotent
    assert events.of(spec.uuid) == []


def test_operations_on_a_halted_vm_fail(backend, vms):
    spec = vms.spec()
    with pytest.raises(BackendError) as err:
        backend.pause(spec.uuid)
    assert err.value.code == "VM_BAD_POWER_STATE"
    assert err.value.params == [spec.uuid, "Running", "Halted"]


def test_starting_twice_is_refused(backend, vms):
    spec = vms.spec()
    backend.start(spec, paused=True)
    with pytest.raises(BackendError) as err:
        backend.start(spec, paused=True)
    assert err.value.code == "VM_BAD_POWER_STATE"
    assert len(qemu_pids(spec.uuid)) == 1


def test_start_failure_raises_and_leaves_no_process(backend, vms, events, tmp_path):
    missing = vms.disk(backend)
    os.unlink(missing.path)
    spec = vms.spec(disks=[missing])
    with pytest.raises(BackendError) as err:
        backend.start(spec, paused=False)
    assert err.value.code == "INTERNAL_ERROR"
    assert missing.path in err.value.params[0]     # QEMU's own complaint
    assert qemu_pids(spec.uuid) == []
    assert backend.power_state(spec.uuid) is None
    assert events.of(spec.uuid) == []


@pytest.mark.parametrize("field, fields", [
    ("kernel/kernel", {"boot_method": "kernel_external", "kernel_kernel": "/nonexistent/k2"}),
    ("bios/cdrom", {"boot_method": "bios", "bios_cdrom": "/nonexistent/x.iso"}),
    ("memory/static_max", {"memory_static_max": 1 << 50}),    # 1 PiB
])
def test_start_refuses_what_qemu_would_fail_on_before_spawning_it(backend, vms, field,
                                                                  fields):
    spec = vms.spec(**fields)
    with pytest.raises(BackendError) as err:
        backend.start(spec, paused=True)
    assert [err.value.code, err.value.params[0]] == ["VALUE_NOT_SUPPORTED", field]
    assert not os.path.exists(os.path.join(spec.state_dir, "qemu.log"))   # never spawned
    assert qemu_pids(spec.uuid) == []


def test_a_failed_start_quotes_only_its_own_qemu_output(backend, vms):
    """qemu.log keeps every attempt; the error of the second quotes the second alone."""
    spec = vms.spec(VCPUs_max=300)          # more than the pc machine takes: QEMU refuses
    with pytest.raises(BackendError):
        backend.start(spec, paused=True)
    second = dataclasses.replace(spec, vm=dataclasses.replace(spec.vm, VCPUs_max=301))
    with pytest.raises(BackendError) as err:
        backend.start(second, paused=True)
    message = err.value.params[0]
    assert "SMP CPUs 301" in message and "SMP CPUs 300" not in message, message
    with open(os.path.join(spec.state_dir, "qemu.log")) as f:
        assert "SMP CPUs 300" in f.read()   # the admin's log still has both


def test_hard_reboot_keeps_the_process(backend, vms):
    spec = vms.spec()
    pid = backend.start(spec, paused=False)["pid"]
    backend.hard_reboot(spec.uuid)
    assert backend.power_state(spec.uuid) == "Running"
    assert qemu_pids(spec.uuid) == [pid]


def test_hard_reboot_of_a_paused_vm_runs_it(backend, vms):
    spec = vms.spec()
    backend.start(spec, paused=True)
    backend.hard_reboot(spec.uuid)
    assert backend.power_state(spec.uuid) == "Running"   # as the lifecycle table says


def test_clean_shutdown_times_out_and_leaves_the_vm_running(backend, vms, events):
    spec = vms.spec()
    pid = backend.start(spec, paused=False)["pid"]
    with pytest.raises(BackendError) as err:
        backend.clean_shutdown(spec.uuid, 0.5)    # no OS: nobody presses the button
    assert err.value.code == "VM_SHUTDOWN_TIMEOUT"
    assert err.value.params == [spec.uuid, "0.5"]
    assert backend.power_state(spec.uuid) == "Running"
    assert qemu_pids(spec.uuid) == [pid]
    assert events.of(spec.uuid) == []


def test_clean_reboot_times_out_without_an_os(backend, vms):
    spec = vms.spec()
    backend.start(spec, paused=False)
    with pytest.raises(BackendError) as err:
        backend.clean_reboot(spec.uuid, 0.5)
    assert err.value.code == "VM_SHUTDOWN_TIMEOUT"
    assert backend.power_state(spec.uuid) == "Running"


@pytest.mark.parametrize("live", [False, True])
def test_suspend_resume_round_trip(backend, vms, events, live):
    spec = vms.spec(disks=[vms.disk(backend)])
    backend.start(spec, paused=False)
    state = os.path.join(spec.state_dir, "suspend.state")
    backend.suspend(spec.uuid, live, state)
    assert qemu_pids(spec.uuid) == []
    assert backend.power_state(spec.uuid) is None
    assert os.path.getsize(state) > 0
    assert os.stat(state).st_mode & 0o777 == 0o600
    private = backend.resume(spec, state, paused=False)
    assert backend.power_state(spec.uuid) == "Running"
    assert qemu_pids(spec.uuid) == [private["pid"]]
    assert events.of(spec.uuid) == []


def test_suspend_a_paused_vm_and_resume_paused(backend, vms):
    spec = vms.spec()
    backend.start(spec, paused=True)
    state = os.path.join(spec.state_dir, "suspend.state")
    backend.suspend(spec.uuid, False, state)
    backend.resume(spec, state, paused=True)
    assert backend.power_state(spec.uuid) == "Paused"
    backend.unpause(spec.uuid)
    assert backend.power_state(spec.uuid) == "Running"


def test_resume_from_a_missing_state_file(backend, vms):
    spec = vms.spec()
    missing = os.path.join(str(vms.tmp), "nothing.state")
    with pytest.raises(BackendError) as err:
        backend.resume(spec, missing, paused=False)
    assert err.value.code == "VM_STATE_FILE_MISSING"
    assert err.value.params == [missing]
    assert not os.path.exists(os.path.join(spec.state_dir, "qemu.log"))   # QEMU never ran


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_resume_from_a_corrupt_state_file(backend, vms, events, damage):
    spec = vms.spec()
    state = os.path.join(spec.state_dir, "suspend.state")
    if damage == "garbage":
        os.makedirs(spec.state_dir)
        with open(state, "wb") as f:
            f.write(b"this is not a migration stream\n" * 100)
    else:
        backend.start(spec, paused=False)
        backend.suspend(spec.uuid, False, state)
        os.truncate(state, os.path.getsize(state) // 2)
    with pytest.raises(BackendError) as err:
        backend.resume(spec, state, paused=False)
    assert err.value.code == "VM_STATE_FILE_CORRUPT"
    assert err.value.params == [state]
    assert qemu_pids(spec.uuid) == []
    assert backend.power_state(spec.uuid) is None
    assert events.of(spec.uuid) == []


def test_reattach_from_a_new_backend(backend_factory, vms, events):
    first = backend_factory()
    running, paused = vms.spec(disks=[vms.disk(first)]), vms.spec()
    p_running = first.start(running, paused=False)
    p_paused = first.start(paused, paused=True)
    first.close()                        # the daemon goes away...
    assert qemu_pids(running.uuid) == [p_running["pid"]]   # ...its guests do not

    second = backend_factory()
    assert second.reattach(running.uuid, p_running) == "Running"
    assert second.reattach(paused.uuid, p_paused) == "Paused"
    assert second.reattach(running.uuid, p_running) == "Running"   # already attached
    second.pause(running.uuid)
    assert second.power_state(running.uuid) == "Paused"
    assert set(second.metrics(running.uuid)["vbd"]) == {running.disks[0].vbd}

    # The reattached process is not our child: its exit is still noticed.
    os.kill(p_paused["pid"], signal.SIGKILL)
    events.wait(paused.uuid, "died")
    second.hard_shutdown(running.uuid)
    assert qemu_pids(running.uuid) == []


def test_close_while_a_guest_exit_is_being_handled_leaves_nothing_pending(
        backend_factory, vms, monkeypatch, caplog):
    # close() comes while the backend still waits for the QMP hang-up of a guest whose
    # QEMU is gone (held there on purpose): that handling is cut short, yet no task of
    # the backend or of qemu.qmp may be destroyed pending, nor an error left unread.
    from xen.xend.backend.qemu import qmp
    hang_up = qmp.Monitor.wait_hangup
    holding = threading.Event()

    async def held_hang_up(monitor, timeout):
        holding.set()
        await asyncio.sleep(3600)
        await hang_up(monitor, timeout)
    monkeypatch.setattr(qmp.Monitor, "wait_hangup", held_hang_up)
    backend = backend_factory()
    spec = vms.spec()
    pid = backend.start(spec, paused=True)["pid"]
    os.kill(pid, signal.SIGKILL)
    assert holding.wait(30), "the backend did not notice the exit of QEMU"
    caplog.set_level(logging.ERROR, logger="asyncio")
    backend.close()
    del backend
    gc.collect()
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


def test_reattach_to_a_gone_or_different_process(backend_factory, vms):
    first, second = backend_factory(), backend_factory()
    spec = vms.spec()
    private = first.start(spec, paused=True)
    # The pid runs another VM, or is a different process (pid reused).
    assert second.reattach(vms.spec().uuid, private) is None
    assert second.reattach(spec.uuid, dict(private, starttime=private["starttime"] - 1)) is None
    first.hard_shutdown(spec.uuid)
    assert second.reattach(spec.uuid, private) is None                # process gone
    assert second.reattach(spec.uuid, {"pid": 2 ** 22 + 1}) is None   # no such pid
    assert second.reattach(spec.uuid, {}) is None


def test_unexpected_exit_is_reported_as_died(backend, vms, events):
    spec = vms.spec()
    pid = backend.start(spec, paused=False)["pid"]
    os.kill(pid, signal.SIGKILL)
    events.wait(spec.uuid, "died")
    assert events.of(spec.uuid) == ["died"]
    assert backend.power_state(spec.uuid) is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)     # reaped by the backend


def test_metrics(backend, vms):
    disk = vms.disk(backend)
    ide = vms.disk(backend, name="ide", driver="ioemu", device="hda")
    spec = vms.spec(disks=[disk, ide], VCPUs_max=2, memory_dynamic_max=32 << 20)
    backend.start(spec, paused=False)
    m = backend.metrics(spec.uuid)
    assert len(m["cpu_seconds"]) == 2
    assert all(s >= 0 for s in m["cpu_seconds"])
    assert m["memory_rss"] > 0
    # No OS, so no balloon driver: the balloon's figure (the full RAM) is not reported.
    assert "memory_actual" not in m
    assert set(m["vbd"]) == {disk.vbd, ide.vbd}
    assert set(m["vbd"][disk.vbd]) == {"rd_bytes", "wr_bytes", "rd_operations", "wr_operations"}
    assert m["vif"] == {}


def test_metrics_of_a_halted_vm_fail(backend, vms):
    with pytest.raises(BackendError) as err:
        backend.metrics(vms.spec().uuid)
    assert err.value.code == "VM_BAD_POWER_STATE"


def test_dump_core(backend, vms):
    spec = vms.spec()
    backend.start(spec, paused=True)
    core = os.path.join(str(vms.tmp), "core.elf")
    backend.dump_core(spec.uuid, core)
    with open(core, "rb") as f:
        assert f.read(4) == b"\x7fELF"
    assert os.stat(core).st_mode & 0o777 == 0o600


def test_audio_and_platform_options_start(backend, vms):
    spec = vms.spec(platform_enable_audio=True, platform_std_VGA=True,
                    platform_localtime=True, platform_serial="pty",
                    VCPUs_features_force_on=("XMM2",))
    backend.start(spec, paused=False)
    assert backend.power_state(spec.uuid) == "Running"


def test_a_nic_needs_a_bridge(backend, vms):
    spec = vms.spec(nics=[vms.nic()])
    with pytest.raises(BackendError) as err:
        backend.start(spec, paused=False)
    assert err.value.code == "VALUE_NOT_SUPPORTED"
    assert err.value.params[:2] == ["VIF", spec.nics[0].vif]
    assert qemu_pids(spec.uuid) == []


def test_nics_on_a_bridge(backend, vms, bridge):
    pv, emu = vms.nic(bridge=bridge, mtu=1400), vms.nic(bridge=bridge, driver="ioemu")
    spec = vms.spec(nics=[pv, emu])
    backend.start(spec, paused=False)
    for nic, mtu in ((pv, "1400"), (emu, "1500")):
        tap = netdev.tap_name(nic.vif)
        assert netdev.master_of(tap) == bridge
        with open(f"/sys/class/net/{tap}/mtu") as f:
            assert f.read().strip() == mtu
        with open(f"/sys/class/net/{tap}/address") as f:
            assert f.read().strip() == "fe:" + nic.mac.split(":", 1)[1]
    assert set(backend.metrics(spec.uuid)["vif"]) == {pv.vif, emu.vif}
    backend.hard_shutdown(spec.uuid)
    for nic in (pv, emu):
        assert not netdev.exists(netdev.tap_name(nic.vif))   # the taps went with QEMU


def test_a_failed_start_leaves_no_tap(backend, vms, bridge):
    nic = vms.nic(bridge=bridge)
    # QEMU starts with the tap and exits: it finds no kernel.
    spec = vms.spec(nics=[nic], boot_method="kernel_external",
                    kernel_kernel=str(vms.tmp / "no-such-kernel"))
    with pytest.raises(BackendError):
        backend.start(spec, paused=False)
    assert not netdev.exists(netdev.tap_name(nic.vif))
    other = vms.nic(bridge="xtnobridge0")                 # the second tap cannot be made
    spec = vms.spec(nics=[vms.nic(bridge=bridge), other])
    with pytest.raises(BackendError) as err:
        backend.start(spec, paused=False)
    assert err.value.params[:2] == ["VIF", other.vif]
    assert not any(netdev.exists(netdev.tap_name(n.vif)) for n in spec.nics)
    assert qemu_pids(spec.uuid) == []


def test_failed_suspend_leaves_the_vm_running(backend, vms):
    spec = vms.spec()
    backend.start(spec, paused=False)
    with pytest.raises(BackendError) as err:
        backend.suspend(spec.uuid, False, os.path.join(str(vms.tmp), "no", "such", "dir"))
    assert err.value.code == "INTERNAL_ERROR"
    assert backend.power_state(spec.uuid) == "Running"


def test_state_dir_longer_than_a_socket_path(backend_factory, vms):
    first = backend_factory()
    spec = vms.spec()
    spec.state_dir = os.path.join(str(vms.tmp), "d" * 60, "e" * 60)
    assert len(os.path.join(spec.state_dir, "qmp.sock")) > 108
    private = first.start(spec, paused=False)
    assert first.power_state(spec.uuid) == "Running"
    first.close()
    assert backend_factory().reattach(spec.uuid, private) == "Running"


def test_snapshot_of_a_disk_in_use(backend, vms):
    disk = vms.disk(backend)
    spec = vms.spec(disks=[disk])
    backend.start(spec, paused=False)
    first, second = str(vms.tmp / "s1.qcow2"), str(vms.tmp / "s2.qcow2")
    backend.snapshot_disk(spec.uuid, disk.vbd, first)
    backend.snapshot_disk(spec.uuid, disk.vbd, second)
    assert srdrivers.backing_of(first) == disk.path
    assert srdrivers.backing_of(second) == first
    # QEMU now holds the newest overlay open for writing.
    locked = subprocess.run(["qemu-img", "info", second], capture_output=True, text=True)
    assert locked.returncode != 0 and "lock" in locked.stderr
    assert set(backend.metrics(spec.uuid)["vbd"]) == {disk.vbd}
    with pytest.raises(BackendError) as err:
        backend.snapshot_disk(spec.uuid, str(uuid.uuid4()), str(vms.tmp / "s3.qcow2"))
    assert err.value.code == "HANDLE_INVALID"


def test_qemu64_features_are_the_flags_of_this_qemus_model():
    """QEMU64_FEATURES (what a non-empty can_use may turn off) matches the binary's qemu64."""
    from xen.xend.backend.qemu.argv import CPU_FEATURES, QEMU64_FEATURES
    commands = [{"execute": "qmp_capabilities"},
                {"execute": "query-cpu-model-expansion",
                 "arguments": {"type": "full", "model": {"name": "qemu64"}}},
                {"execute": "quit"}]
    out = subprocess.run(["qemu-system-x86_64", "-machine", "none,accel=tcg", "-nodefaults",
                          "-display", "none", "-qmp", "stdio"],
                         input="".join(json.dumps(c) + "\n" for c in commands),
                         capture_output=True, text=True, timeout=30).stdout
    (props,) = [json.loads(line)["return"]["model"]["props"] for line in out.splitlines()
                if '"model"' in line]
    assert QEMU64_FEATURES == {f for f, flag in CPU_FEATURES.items() if props.get(flag) is True}
