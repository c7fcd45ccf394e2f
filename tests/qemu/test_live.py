"""Live changes of a running tiny Linux guest through the API: vCPUs hot-plugged and
unplugged (VM.set_VCPUs_number_live), seen from inside the guest, which reports its
online CPUs on its console ("xend-test: cpus: cpu0 cpu1 ..."), and from the host (the
QEMU process's vCPU threads), and kept over a suspend and resume; vCPU affinity
(VCPUs/params) seen in the threads' Cpus_allowed_list; weight and cap in the files of
the guest's CPU cgroup."""

import os
import re
import signal

import pytest
from harness import (
    BOOT_WAIT,
    EVENT_WAIT,
    cgroups_left,
    console,
    failure,
    new_no_os_vm,
    new_tiny_vm,
    requires_qemu,
    wait_ready,
    wait_until,
)
from qemuapi import cmdline, the_pid, vcpu_threads, wait_state

from xen.xend.host import cgroups

pytestmark = [pytest.mark.qemu, requires_qemu]


def cpus_seen(daemon, vm):
    """The tiny guest's last report of its online CPUs, e.g. ["cpu0", "cpu1"]."""
    reports = re.findall(r"xend-test: cpus:(.*)", console(daemon, vm))
    return reports[-1].split() if reports else None


def wait_cpus(daemon, vm, count):
    expected = ["cpu%d" % i for i in range(count)]
    wait_until(lambda: cpus_seen(daemon, vm) == expected, BOOT_WAIT,
               "the guest to report CPUs %s (it reports %s)"
               % (expected, cpus_seen(daemon, vm)))


def allowed_cpus(pid):
    """{vCPU: the Cpus_allowed_list of its QEMU thread} ("CPU N/TCG" or "CPU N/KVM")."""
    out = {}
    for tid in vcpu_threads(pid):
        with open("/proc/%d/task/%d/comm" % (pid, tid)) as f:
            vcpu = int(f.read().split()[1].split("/")[0])
        with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
            out[vcpu] = re.search(r"Cpus_allowed_list:\s*(\S+)", f.read()).group(1)
    return out


def test_vcpus_plugged_and_unplugged_live_and_pinned(api, qemu_daemon, tiny_guest):
    vm = new_tiny_vm(api, tiny_guest, VCPUs_max="3", VCPUs_at_startup="2")
    api.VM.start(vm, False)
    wait_ready(qemu_daemon, vm)
    wait_cpus(qemu_daemon, vm, 2)
    pid = the_pid(vm)
    assert len(vcpu_threads(pid)) == 2

    api.VM.set_VCPUs_number_live(vm, "3")
    wait_cpus(qemu_daemon, vm, 3)                     # online in the guest
    assert len(vcpu_threads(pid)) == 3
    assert api.VM.get_VCPUs_number(vm) == api.VM.get_VCPUs_at_startup(vm) == "3"

    # vCPU 1 pinned to CPU 1: its thread may run there only, the others anywhere.
    api.VM.set_VCPUs_params(vm, "cpumap1=1")
    assert allowed_cpus(pid) == {0: "0-1", 1: "1", 2: "0-1"}

    # The saved state holds three vCPUs: the VM resumes with exactly those
    # (VCPUs/at_startup), and the guest goes on with them.
    api.VM.suspend(vm, False)
    api.VM.resume(vm, False)
    assert the_pid(vm) != pid and len(vcpu_threads(the_pid(vm))) == 3
    assert api.VM.get_VCPUs_number(vm) == "3"
    pid = the_pid(vm)

    # Pinned before the suspend, vCPU 1 is pinned in the resumed process too.
    assert allowed_cpus(pid) == {0: "0-1", 1: "1", 2: "0-1"}
    d = failure(api.VM.set_VCPUs_params, vm, "cpumap1=7")
    assert d[:3] == ["VALUE_NOT_SUPPORTED", "VCPUs/params", "cpumap1=7"]
    assert api.VM.get_VCPUs_params(vm) == "cpumap1=1"
    assert allowed_cpus(pid) == {0: "0-1", 1: "1", 2: "0-1"}

    if any(arg.endswith("accel=tcg") for arg in cmdline(pid)):
        # QEMU 7.2 under TCG corrupts its heap once a vCPU is unplugged (it aborts
        # at the next plug or migration): refused before anything changes.
        d = failure(api.VM.set_VCPUs_number_live, vm, "1")
        assert d[:3] == ["VALUE_NOT_SUPPORTED", "VCPUs/number", "1"] and "TCG" in d[3]
        assert len(vcpu_threads(pid)) == 3 and api.VM.get_VCPUs_at_startup(vm) == "3"
        return
    # Down to one: the guest lets go of both (ACPI eject), the highest first, and
    # QEMU's vCPU threads end with them.
    api.VM.set_VCPUs_number_live(vm, "1")
    wait_cpus(qemu_daemon, vm, 1)
    assert len(vcpu_threads(pid)) == 1
    assert api.VM.get_VCPUs_number(vm) == api.VM.get_VCPUs_at_startup(vm) == "1"


def cgroup_of(hierarchy, vm):
    """{file: value} of VM ``vm``'s CPU cgroup, the files ``hierarchy`` writes."""
    out = {}
    for name, _ in hierarchy.values(0, 0):
        with open(os.path.join(hierarchy.path(vm), name)) as f:
            out[name] = f.read().strip()
    return out


def test_weight_and_cap_in_the_guests_cpu_cgroup_from_start_to_stop(make_daemon):
    hierarchy, why = cgroups.probe()    # the one the daemon picks on this host
    if hierarchy is None:
        pytest.skip(why)
    d = make_daemon()
    api = d.api
    vm = new_no_os_vm(api, VCPUs_max="2", VCPUs_at_startup="2",
                      VCPUs_params="weight=512 cap=150", actions_after_crash="destroy")
    api.VM.start(vm, False)
    assert hierarchy.pids(vm) == [the_pid(vm)]
    assert cgroup_of(hierarchy, vm) == dict(hierarchy.values(512, 150))

    # Live: a cap no longer listed is lifted, a key added is applied.
    api.VM.set_VCPUs_params(vm, "weight=128")
    assert cgroup_of(hierarchy, vm) == dict(hierarchy.values(128, 0))
    api.VM.add_to_VCPUs_params_live(vm, "cap", "50")
    assert cgroup_of(hierarchy, vm) == dict(hierarchy.values(128, 50))

    # A suspend ends the process and its cgroup; the resumed one gets both again.
    api.VM.suspend(vm, False)
    assert not os.path.exists(hierarchy.path(vm))
    api.VM.resume(vm, False)
    assert hierarchy.pids(vm) == [the_pid(vm)]
    assert cgroup_of(hierarchy, vm) == dict(hierarchy.values(128, 50))

    # A restarted daemon finds the cgroup again by its name: a live change reaches it.
    d.restart()
    api = d.relogin()
    api.VM.add_to_VCPUs_params_live(vm, "weight", "1024")
    assert cgroup_of(hierarchy, vm) == dict(hierarchy.values(1024, 50))
    assert hierarchy.pids(vm) == [the_pid(vm)]

    # Gone with the guest: a destroy, and a QEMU killed from outside.
    api.VM.hard_shutdown(vm)
    assert not os.path.exists(hierarchy.path(vm))
    api.VM.start(vm, True)
    assert cgroup_of(hierarchy, vm) == dict(hierarchy.values(1024, 50))
    api.VM.add_to_VCPUs_params_live(vm, "cap", "25")     # a Paused guest takes it too
    assert cgroup_of(hierarchy, vm) == dict(hierarchy.values(1024, 25))
    os.kill(the_pid(vm), signal.SIGKILL)
    wait_state(api, vm, "Halted", EVENT_WAIT)
    assert not os.path.exists(hierarchy.path(vm))
    # A start that fails once QEMU runs (no such host CPU to pin to) leaves none either.
    api.VM.set_VCPUs_params(vm, "weight=1024 cap=50 cpumap0=%d" % os.cpu_count())
    assert failure(api.VM.start, vm, False)[0] == "VALUE_NOT_SUPPORTED"
    assert cgroups_left(api.VM.get_all()) == []
