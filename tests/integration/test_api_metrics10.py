"""The metrics classes of Xen-API 1.0 (docs/api.md, "Objects that belong to another"):
VM_metrics' per-vCPU figures and state; VM_guest_metrics, host_metrics, VIF_metrics and
VBD_metrics as views of their owners; xend 3.1's io_read_kbs/io_write_kbs on VBD and VIF.
Read through the SDK in a 1.0 session (``v10``) and a draft one (``root``), from a sim
daemon that samples every 0.5 s.
"""

import pytest
from harness import (
    CONTROL_DOMAIN,
    STATE_WAIT,
    Daemon,
    crash_sim_guest,
    failure,
    new_network,
    new_vbd,
    new_vdi,
    new_vif,
    new_vm,
    wait_until,
)


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


def test_the_control_domains_vcpus_are_the_machines_cpus(v10):
    """On the sim (as on QEMU) the control domain is the machine the daemon runs in: its
    CPU N is vCPU N, online, running or blocked as it was busy."""
    metrics = v10.VM.get_metrics(CONTROL_DOMAIN)
    rec = v10.VM_metrics.get_record(metrics)
    cpus = int(v10.VM.get_VCPUs_max(CONTROL_DOMAIN))
    assert rec["VCPUs_CPU"] == {str(i): str(i) for i in range(cpus)}
    flags = rec["VCPUs_flags"]
    assert all(f in (["online", "running"], ["online", "blocked"]) for f in flags.values())
    busy = any("running" in f for f in flags.values())
    assert rec["state"] == (["running"] if busy else ["blocked"])


# -- every metrics class: a view of its owner ------------------------------------------------

def _vm(api):
    vm = new_vm(api)
    api.VM.start(vm, False)
    return "VM", vm


def _vbd(api):
    vm = new_vm(api)
    vbd = new_vbd(api, vm, new_vdi(api))
    api.VM.start(vm, False)
    return "VBD", vbd


def _vif(api):
    vm = new_vm(api)
    vif = new_vif(api, vm, new_network(api))
    api.VM.start(vm, False)
    return "VIF", vif


def _host(api):
    return "host", api.host.get_all()[0]


# class, the owner's ref field naming it, a factory of an owner (running, where it has a
# guest), and (metrics field, the owner's field it shows)
CASES = [
    ("VM_metrics", "metrics", _vm, [("memory_actual", "memory_actual"),
                                    ("VCPUs_number", "VCPUs_number"),
                                    ("start_time", "start_time")]),
    ("VM_guest_metrics", "guest_metrics", _vm, [("PV_drivers_version", "tools_version")]),
    ("host_metrics", "metrics", _host, [("memory_total", "memory_total"),
                                        ("memory_free", "memory_free")]),
    # A VIF's read is what the host reads from it: what the guest sent (xend 3.1's).
    ("VIF_metrics", "metrics", _vif, [("io_read_kbs", "IO_bandwidth_outgoing_kbs"),
                                      ("io_write_kbs", "IO_bandwidth_incoming_kbs")]),
    ("VBD_metrics", "metrics", _vbd, [("io_read_kbs", "IO_bandwidth_incoming_kbs"),
                                      ("io_write_kbs", "IO_bandwidth_outgoing_kbs")]),
]


@pytest.fixture(scope="module", params=["1.0", "0.2"])
def session(request, root, v10):
    """Each test below in a 1.0 session, then in a draft one."""
    return v10 if request.param == "1.0" else root


@pytest.mark.parametrize("cls, ref_field, make, pairs", CASES, ids=[c[0] for c in CASES])
def test_a_metrics_object_shows_its_owners_figures(root, session, cls, ref_field, make,
                                                   pairs):
    owner_cls, owner = make(root)
    api = getattr(session, cls)
    metrics = getattr(getattr(session, owner_cls), "get_" + ref_field)(owner)
    assert metrics != owner
    all_metrics = api.get_all()
    assert metrics in all_metrics
    assert len(all_metrics) == len(getattr(root, owner_cls).get_all())
    assert api.get_by_uuid(metrics) == metrics
    assert api.get_uuid(metrics) == metrics

    def same():
        """The figures agree, read within one sample (the sampler may land between two
        reads: then they are read again)."""
        rec = api.get_record(metrics)
        owner_rec = getattr(root, owner_cls).get_record(owner)
        return rec if all(rec[m] == owner_rec[o] for m, o in pairs) else None
    rec = wait_until(same, STATE_WAIT, "the %s figures to be its owner's" % cls)
    assert rec["uuid"] == metrics and rec["last_updated"]
    assert api.get_all_records()[metrics].keys() == rec.keys()
    for field in rec:
        assert getattr(api, "get_" + field)(metrics) is not None
    if cls == "VM_guest_metrics":   # the sim has no guest agent: every report empty
        assert [rec[f] for f in ("os_version", "memory", "disks", "networks", "other")] == [
            {}, {}, {}, {}, {}]


@pytest.mark.parametrize("cls, ref_field, make, pairs", CASES, ids=[c[0] for c in CASES])
def test_a_ref_that_is_no_metrics_object_is_refused(root, session, cls, ref_field, make,
                                                    pairs):
    api = getattr(session, cls)
    other = root.VM.get_all()[0] if cls != "VM_metrics" else root.host.get_all()[0]
    assert failure(api.get_record, other) == ["HANDLE_INVALID", cls, other]
    assert failure(api.get_record, "not-a-ref")[:2] == ["HANDLE_INVALID", cls]
    assert failure(api.get_by_uuid, other)[0] == "UUID_INVALID"
    assert failure(api.get_last_updated, other)[:2] == ["HANDLE_INVALID", cls]


@pytest.mark.parametrize("make, cls", [(_vbd, "VBD_metrics"), (_vif, "VIF_metrics"),
                                       (_vm, "VM_guest_metrics")])
def test_a_metrics_object_goes_with_its_owner(root, v10, make, cls):
    owner_cls, owner = make(root)
    ref_field = "guest_metrics" if cls == "VM_guest_metrics" else "metrics"
    metrics = getattr(v10, owner_cls).get_record(owner)[ref_field]
    vm = owner if owner_cls == "VM" else getattr(root, owner_cls).get_VM(owner)
    root.VM.hard_shutdown(vm)
    root.VM.destroy(vm)      # its VBDs and VIFs with it
    assert failure(getattr(v10, cls).get_record, metrics) == ["HANDLE_INVALID", cls, metrics]
    assert metrics not in getattr(v10, cls).get_all()


def test_xend_3_1s_io_names_on_vbd_and_vif_are_their_io_bandwidth(root, v10):
    """xapi.py 3.1's vbd-stats calls VBD.get_io_read_kbs; vm-stat reads VIF records."""
    _, vbd = _vbd(root)
    _, vif = _vif(root)
    for api in (root, v10):
        vbd_rec, vif_rec = api.VBD.get_record(vbd), api.VIF.get_record(vif)
        assert (vbd_rec["io_read_kbs"], vbd_rec["io_write_kbs"]) == (
            vbd_rec["IO_bandwidth_incoming_kbs"], vbd_rec["IO_bandwidth_outgoing_kbs"])
        assert (vif_rec["io_read_kbs"], vif_rec["io_write_kbs"]) == (
            vif_rec["IO_bandwidth_outgoing_kbs"], vif_rec["IO_bandwidth_incoming_kbs"])
        assert api.VBD.get_io_read_kbs(vbd) == 0.0 and api.VIF.get_io_write_kbs(vif) == 0.0
    # Read only, as the figures they name.
    assert failure(root.VBD.set_io_read_kbs, vbd, 1.0)[0] == "FIELD_READ_ONLY"


def test_a_host_alone_is_live(v10):
    """A host on its own (SQLite) has no lease: it is always live."""
    metrics = v10.host.get_metrics(v10.host.get_all()[0])
    assert v10.host_metrics.get_live(metrics) is True
    assert v10.host_metrics.get_record(metrics)["live"] is True
