"""The metrics classes of Xen-API 1.0 (docs/api.md, "Objects that belong to another"):
VM_metrics' per-vCPU figures and state, read through the SDK in a 1.0 session (``v10``)
and a draft one (``root``), from a sim daemon that samples every 0.5 s.
"""

import pytest
from harness import STATE_WAIT, Daemon, crash_sim_guest, new_vm, wait_until


@pytest.fixture(scope="module")
def daemon(daemon_stop_signal):
    """The module's daemon: the sampler every 0.5 s, so that a VM's figures come soon."""
    d = Daemon(extra_config="sampler_interval = 0.5\n").start()
    yield d
    d.cleanup(daemon_stop_signal)


@pytest.fixture(scope="module")
def v10(daemon, root):
    s = daemon.sdk_unix(version="1.0")
    yield s.xenapi
    s.xenapi.session.logout()


def sampled(api, metrics):
    """VM_metrics' record once the sampler has seen every vCPU online."""
    def online():
        rec = api.VM_metrics.get_record(metrics)
        flags = rec["VCPUs_flags"]
        return rec if flags and all("online" in f for f in flags.values()) else None
    return wait_until(online, STATE_WAIT, "a sample of the VM's vCPUs")


# -- VM_metrics: VCPUs/CPU, VCPUs/flags, state ---------------------------------------------

def test_a_halted_vm_has_no_vcpu_figures_and_no_state(root, v10):
    metrics = v10.VM.get_metrics(new_vm(root, VCPUs_max="2"))
    rec = v10.VM_metrics.get_record(metrics)
    assert (rec["VCPUs_CPU"], rec["VCPUs_flags"], rec["state"]) == ({}, {}, [])
    assert root.VM_metrics.get_state(metrics) == []


def test_a_running_vms_vcpus_are_online_on_host_cpus_and_blocked_while_idle(root, v10):
    vm = new_vm(root, VCPUs_max="2")
    root.VM.start(vm, False)
    metrics = v10.VM.get_metrics(vm)
    rec = sampled(v10, metrics)
    cpus = len(root.host.get_host_CPUs(root.host.get_all()[0]))
    assert set(rec["VCPUs_CPU"]) == {"0", "1"}
    assert all(0 <= int(c) < cpus for c in rec["VCPUs_CPU"].values())
    # The sim's guests idle: every vCPU blocked, the guest too (xm list's "-b----").
    assert rec["VCPUs_flags"] == {"0": ["online", "blocked"], "1": ["online", "blocked"]}
    assert rec["state"] == ["blocked"]
    assert root.VM_metrics.get_VCPUs_CPU(metrics) == rec["VCPUs_CPU"]
    assert v10.VM_metrics.get_VCPUs_flags(metrics) == rec["VCPUs_flags"]

    root.VM.pause(vm)
    assert v10.VM_metrics.get_state(metrics) == ["paused"]
    wait_until(lambda: v10.VM_metrics.get_VCPUs_flags(metrics) == {
        "0": ["online"], "1": ["online"]}, STATE_WAIT, "a sample of the paused vCPUs")
    root.VM.hard_shutdown(vm)
    rec = v10.VM_metrics.get_record(metrics)
    assert (rec["VCPUs_CPU"], rec["VCPUs_flags"], rec["state"]) == ({}, {}, [])


def test_a_vcpu_that_is_not_online_is_on_no_cpu(root, v10):
    vm = new_vm(root, VCPUs_max="2", VCPUs_at_startup="1")
    root.VM.start(vm, False)
    metrics = v10.VM.get_metrics(vm)
    wait_until(lambda: v10.VM_metrics.get_VCPUs_flags(metrics).get("0"), STATE_WAIT,
               "a sample of the VM's vCPUs")
    rec = v10.VM_metrics.get_record(metrics)
    assert rec["VCPUs_CPU"]["1"] == "-1" and rec["VCPUs_flags"]["1"] == []
    assert int(rec["VCPUs_CPU"]["0"]) >= 0


def test_a_crashed_vm_kept_for_inspection_shows_crashed(root, v10, daemon):
    vm = new_vm(root, actions_after_crash="preserve")
    root.VM.start(vm, False)
    crash_sim_guest(daemon, vm)
    assert v10.VM_metrics.get_state(v10.VM.get_metrics(vm)) == ["crashed"]
