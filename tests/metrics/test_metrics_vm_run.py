"""Live RO_run fields of VMs on the QEMU backend (sampler every 0.5 s): VCPUs/number,
VCPUs/utilisation and CPU_time, memory/actual following the balloon, VBD IO bandwidth,
VM_metrics' VCPUs/CPU, VCPUs/flags and state.

Guests are the tiny Linux guest of tests/guest/build.py (TCG); at most two boot at once.
CPU figures are compared with each other (a burning guest against an idle one), memory
with the balloon target it was given; no absolute CPU thresholds.
"""

import os
import time

import pytest
from harness import (
    EVENT_WAIT,
    MIB,
    failure,
    guest_builder,
    memory,
    new_no_os_vm,
    new_tiny_vm,
    new_vbd,
    new_vdi,
    qemu_pids,
    wait_ready,
    wait_until,
)

pytestmark = pytest.mark.qemu


def _rss(vm):
    """The resident memory of the VM's QEMU process, in bytes."""
    (pid,) = qemu_pids(vm)
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _utilisation(api, vm):
    u = api.VM.get_VCPUs_utilisation(vm)
    assert all(0.0 <= v <= 1.0 for v in u.values()), u
    return u


# -- VCPUs/number ----------------------------------------------------------------------------

def test_vcpus_number_is_vcpus_max_while_running_and_0_when_not(qemu_api):
    api = qemu_api
    # 256 MiB, so that the process's resident memory is well below the RAM it was given.
    vm = new_no_os_vm(api, VCPUs_max="2", **memory(256 * MIB))
    assert int(api.VM.get_VCPUs_number(vm)) == 0
    assert api.VM.get_VCPUs_utilisation(vm) == {}
    api.VM.start(vm, False)
    assert int(api.VM.get_VCPUs_number(vm)) == 2
    assert int(api.VM.get_record(vm)["VCPUs_number"]) == 2
    time.sleep(1.2)                                         # two samples
    assert sorted(_utilisation(api, vm)) == ["0", "1"]
    # No OS, so no balloon driver: memory/actual is the QEMU process's RSS, not the
    # balloon device's figure (which would be the whole 256 MiB).
    actual = int(api.VM.get_memory_actual(vm))
    assert 0 < actual < 128 * MIB, actual
    assert abs(actual - _rss(vm)) < 16 * MIB, (actual, _rss(vm))
    metrics = api.VM.get_metrics(vm)
    _check_vcpus_of_a_running_guest(api, metrics)
    api.VM.pause(vm)
    assert int(api.VM.get_VCPUs_number(vm)) == 2
    # QEMU parked the vCPUs: online, neither running nor blocked; the guest paused.
    assert api.VM_metrics.get_state(metrics) == ["paused"]
    wait_until(lambda: api.VM_metrics.get_VCPUs_flags(metrics) == {
        "0": ["online"], "1": ["online"]}, 10, "a sample of the paused vCPUs")
    assert sorted(api.VM_metrics.get_VCPUs_CPU(metrics)) == ["0", "1"]
    api.VM.unpause(vm)
    api.VM.suspend(vm, False)
    assert api.VM_metrics.get_record(metrics)["state"] == []
    assert int(api.VM.get_VCPUs_number(vm)) == 0
    assert api.VM.get_VCPUs_utilisation(vm) == {}
    api.VM.resume(vm, False)
    assert int(api.VM.get_VCPUs_number(vm)) == 2
    api.VM.hard_shutdown(vm)
    assert int(api.VM.get_VCPUs_number(vm)) == 0
    assert int(api.VM.get_record(vm)["VCPUs_number"]) == 0
    assert api.VM.get_VCPUs_utilisation(vm) == {}
    assert int(api.VM.get_memory_actual(vm)) == 0


def _check_vcpus_of_a_running_guest(api, metrics):
    """VM_metrics of a sampled running guest of two vCPUs: each on a host CPU, online
    and running or blocked; the guest running if one of them is, else blocked."""
    rec = api.VM_metrics.get_record(metrics)
    cpus = len(api.host.get_host_CPUs(api.host.get_all()[0]))
    assert sorted(rec["VCPUs_CPU"]) == ["0", "1"]
    assert all(0 <= int(c) < cpus for c in rec["VCPUs_CPU"].values()), rec["VCPUs_CPU"]
    flags = rec["VCPUs_flags"]
    assert sorted(flags) == ["0", "1"]
    assert all(f in (["online", "running"], ["online", "blocked"]) for f in flags.values())
    busy = any("running" in f for f in flags.values())
    assert rec["state"] == (["running"] if busy else ["blocked"]), rec


# -- VCPUs/utilisation -------------------------------------------------------------------------

def test_a_burning_guest_shows_more_vcpu_utilisation_than_an_idle_one(qemu_daemon, qemu_api,
                                                                      tiny_guest):
    api = qemu_api
    idle = new_tiny_vm(api, tiny_guest)
    burn = new_tiny_vm(api, tiny_guest, mode="burn")
    api.VM.start(idle, False)
    api.VM.start(burn, False)
    wait_ready(qemu_daemon, idle)
    wait_ready(qemu_daemon, burn)
    time.sleep(1.0)                     # let the boot's own CPU time leave the samples
    reads = {idle: [], burn: []}
    for _ in range(6):                  # six reads over ~3 s: several samples of each
        for vm, values in reads.items():
            u = _utilisation(api, vm)
            assert sorted(u) == ["0"], u
            values.append(u["0"])
        time.sleep(0.5)
    idle_mean = sum(reads[idle]) / len(reads[idle])
    burn_mean = sum(reads[burn]) / len(reads[burn])
    assert burn_mean > idle_mean + 0.2, {"idle": reads[idle], "burn": reads[burn]}
    # VM_metrics.state as xm list shows it: the burning guest's vCPU thread is found on a
    # CPU ("r"), the idle guest's asleep in its halt ("b").
    for vm, state in ((burn, "running"), (idle, "blocked")):
        metrics = api.VM.get_metrics(vm)
        wait_until(lambda: api.VM_metrics.get_state(metrics) == [state], 10,
                   "the %s guest's state" % state)
    # VCPUs/CPU_time (xm list's Time(s)) grows while the guest burns, and more than the
    # idle guest's over the same time.
    before = {vm: float(api.VM.get_VCPUs_CPU_time(vm)) for vm in reads}
    wait_until(lambda: float(api.VM.get_VCPUs_CPU_time(burn)) > before[burn] + 1.0, 30,
               "the burning guest's CPU time to grow by a second")
    grown = {vm: float(api.VM.get_VCPUs_CPU_time(vm)) - before[vm] for vm in reads}
    assert grown[burn] > grown[idle], grown
    api.VM.hard_shutdown(burn)
    assert float(api.VM.get_VCPUs_CPU_time(burn)) == 0.0


# -- memory/actual and the balloon -------------------------------------------------------------

def test_memory_actual_follows_the_balloon_target(qemu_daemon, qemu_api, tiny_guest):
    api = qemu_api
    full = 128 * MIB
    vm = new_tiny_vm(api, tiny_guest, **memory(full, full, 64 * MIB))
    api.VM.start(vm, False)
    wait_ready(qemu_daemon, vm)         # the balloon driver is loaded by now
    # Without a target below static_max the guest keeps all of its memory.
    wait_until(lambda: int(api.VM.get_memory_actual(vm)) == full, 10,
               "memory_actual to be the full 128 MiB")

    api.VM.set_memory_dynamic_max(vm, str(96 * MIB))
    assert int(api.VM.get_memory_dynamic_max(vm)) == 96 * MIB
    wait_until(lambda: int(api.VM.get_memory_actual(vm)) < full, 15,
               "memory_actual to fall after dynamic_max was lowered")
    wait_until(lambda: int(api.VM.get_memory_actual(vm)) <= 96 * MIB, 15,
               "memory_actual to reach the new dynamic_max")

    # A refused setter does not move the balloon.
    err = failure(api.VM.set_memory_dynamic_max, vm, str(2 * full))
    assert err[0] == "INVALID_VALUE", err
    time.sleep(1.2)
    assert int(api.VM.get_memory_actual(vm)) <= 96 * MIB

    api.VM.set_memory_dynamic_max(vm, str(full))
    wait_until(lambda: int(api.VM.get_memory_actual(vm)) == full, 15,
               "memory_actual to grow back after dynamic_max was raised")


def test_a_guest_started_with_dynamic_max_below_static_max_is_ballooned(qemu_daemon, qemu_api,
                                                                         tiny_guest):
    api = qemu_api
    vm = new_tiny_vm(api, tiny_guest, **memory(128 * MIB, 96 * MIB, 64 * MIB))
    api.VM.start(vm, False)
    wait_ready(qemu_daemon, vm)
    wait_until(lambda: int(api.VM.get_memory_actual(vm)) <= 96 * MIB, 15,
               "memory_actual to settle at dynamic_max")
    assert int(api.VM.get_memory_actual(vm)) > 0


# -- VBD IO_bandwidth --------------------------------------------------------------------------

def test_a_guest_reading_its_disk_shows_incoming_kbs(qemu_daemon, qemu_api, tiny_guest):
    """The tiny guest reads /dev/vda while it boots (the kernel's partition scan, then 1 MiB
    by /init before it says ready)."""
    api = qemu_api
    vm = new_tiny_vm(api, tiny_guest)
    vbd = new_vbd(api, vm, new_vdi(api))
    assert float(api.VBD.get_IO_bandwidth_incoming_kbs(vbd)) == 0.0
    api.VM.start(vm, False)
    seen = []

    metrics = api.VBD.get_metrics(vbd)

    def read_seen():
        # The same figure under 1.0's names: VBD_metrics' io_read_kbs, xend 3.1's on the VBD.
        rec, shown = api.VBD.get_record(vbd), api.VBD_metrics.get_record(metrics)
        seen.append((float(rec["IO_bandwidth_incoming_kbs"]),
                     float(rec["IO_bandwidth_outgoing_kbs"])))
        return seen[-1][0] > 0.0 and rec["io_read_kbs"] == shown["io_read_kbs"] == \
            rec["IO_bandwidth_incoming_kbs"]
    wait_until(read_seen, 60, "VBD incoming_kbs > 0 while the guest reads its disk, under "
               "each of its names", interval=0.05)
    wait_ready(qemu_daemon, vm)
    assert all(rd >= 0.0 and wr >= 0.0 for rd, wr in seen), seen
    # Once the reads are over, the rate falls back to 0 within a few samples.
    wait_until(lambda: float(api.VBD.get_IO_bandwidth_incoming_kbs(vbd)) == 0.0, 10,
               "VBD incoming_kbs back to 0 after the boot's reads")
    api.VM.hard_shutdown(vm)
    wait_until(lambda: float(api.VBD.get_IO_bandwidth_incoming_kbs(vbd)) == 0.0, 3,
               "VBD incoming_kbs of a halted VM to be 0")


def test_vbd_bandwidth_of_a_halted_vm_is_0_at_once(qemu_api, tiny_guest):
    api = qemu_api
    vm = new_tiny_vm(api, tiny_guest)
    vbd = new_vbd(api, vm, new_vdi(api))
    api.VM.start(vm, False)
    # Polled every 20 ms: the rate is seen within 20 ms of the sample that made it, and
    # the next sample is 0.5 s later, long after hard_shutdown (~15 ms) has returned.
    wait_until(lambda: float(api.VBD.get_IO_bandwidth_incoming_kbs(vbd)) > 0.0, 60,
               "VBD incoming_kbs > 0 while the guest reads its disk", interval=0.02)
    api.VM.hard_shutdown(vm)
    assert api.VM.get_VCPUs_utilisation(vm) == {}
    assert int(api.VM.get_memory_actual(vm)) == 0
    assert float(api.VBD.get_IO_bandwidth_incoming_kbs(vbd)) == 0.0
    assert float(api.VBD.get_IO_bandwidth_outgoing_kbs(vbd)) == 0.0


def test_vcpus_utilisation_after_a_quick_restart_has_the_new_vcpus(make_daemon):
    # A long sampling interval, and the moment of a sample seen through memory_actual: before
    # its first sample a running VM answers memory/dynamic_max (48 MiB), after it the QEMU
    # process's RSS (a no-OS guest has no balloon driver to report a figure of its own).
    d = make_daemon("sampler_interval = 3.0\n", backend="qemu")
    api = d.api
    vm = new_no_os_vm(api, VCPUs_max="2", **memory(64 * MIB, 48 * MIB, 32 * MIB))
    api.VM.start(vm, False)
    wait_until(lambda: int(api.VM.get_memory_actual(vm)) != 48 * MIB, EVENT_WAIT,
               "the first sample of the VM", interval=0.02)
    assert sorted(api.VM.get_VCPUs_utilisation(vm)) == ["0", "1"]
    # Well inside one interval (~0.1 s of 3 s):
    api.VM.hard_shutdown(vm)
    api.VM.set_VCPUs_max(vm, "1")
    api.VM.start(vm, False)
    assert int(api.VM.get_VCPUs_number(vm)) == 1
    assert sorted(api.VM.get_VCPUs_utilisation(vm)) == ["0"]


def _has_write_mode():
    try:
        return "write)" in guest_builder().INIT
    except Exception:
        return False


@pytest.mark.skipif(not _has_write_mode(), reason=(
    "the tiny guest (tests/guest/build.py) has no mode that writes to a disk: its /init only "
    "reads /dev/vda; add e.g. a 'xend.test=write' mode looping dd to /dev/vda with conv=fsync"))
def test_a_guest_writing_its_disk_shows_outgoing_kbs(qemu_daemon, qemu_api, tiny_guest):
    api = qemu_api
    vm = new_tiny_vm(api, tiny_guest, mode="write")
    vbd = new_vbd(api, vm, new_vdi(api))
    api.VM.start(vm, False)
    wait_ready(qemu_daemon, vm)
    wait_until(lambda: float(api.VBD.get_IO_bandwidth_outgoing_kbs(vbd)) > 0.0, 20,
               "VBD outgoing_kbs > 0 while the guest writes its disk", interval=0.1)
