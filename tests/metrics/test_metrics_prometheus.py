"""GET /metrics: valid Prometheus text (prometheus_client's parser), figures that agree with
the API, and who may scrape (the Unix socket; HTTP Basic of an API user over TCP)."""

import os
import time

import psutil
import pytest
from harness import (
    MIB,
    guest_records,
    make_user,
    new_no_os_vm,
    new_vbd,
    new_vdi,
    new_vm,
    resident_guests,
    unique,
)
from metricshelp import metrics_unix, parse, samples, scrape_tcp, scrape_unix

FAMILIES = {
    "xend_host_cpu_utilisation": "gauge",
    "xend_host_memory_total_bytes": "gauge",
    "xend_host_memory_free_bytes": "gauge",
    "xend_vms": "gauge",
    "xend_vm_power_state": "gauge",
    "xend_vm_memory_actual_bytes": "gauge",
    "xend_vm_vcpu_utilisation": "gauge",
    "xend_vbd_kbs": "gauge",
    "xend_vif_kbs": "gauge",
    "xend_tasks": "gauge",
    "xend_api_calls": "counter",            # samples xend_api_calls_total
    "xend_api_failures": "counter",
    "xend_api_call_seconds": "counter",
}


# -- who may scrape --------------------------------------------------------------------------

def test_unix_socket_needs_no_credentials(sim_daemon):
    status, headers, body = scrape_unix(sim_daemon)
    assert status == 200, (status, body)
    assert headers["Content-Type"].startswith("text/plain")
    assert "version=0.0.4" in headers["Content-Type"]
    parse(body)


def test_tcp_without_credentials_is_401(sim_daemon):
    status, headers, body = scrape_tcp(sim_daemon)
    assert status == 401
    assert headers.get("WWW-Authenticate", "").startswith("Basic")
    assert "xend_" not in body


@pytest.mark.parametrize("authorization", [
    "Bearer abc", "Basic", "Basic !!!notbase64", "Basic " + "bm9jb2xvbg==",   # "nocolon"
])
def test_tcp_with_malformed_credentials_is_401(sim_daemon, authorization):
    status, _, body = scrape_tcp(sim_daemon, authorization=authorization)
    assert status == 401 and "xend_" not in body


def test_tcp_with_a_users_basic_credentials_is_200(sim_daemon, sim_api):
    _, name, password = make_user(sim_api)
    status, headers, body = scrape_tcp(sim_daemon, name, password)
    assert status == 200, (status, body)
    assert "version=0.0.4" in headers["Content-Type"]
    assert set(FAMILIES) <= set(parse(body))
    status, _, body = scrape_tcp(sim_daemon, name, password + "x")
    assert status == 401 and "xend_" not in body
    status, _, _ = scrape_tcp(sim_daemon, unique("nobody"), password)
    assert status == 401


def test_tcp_basic_password_may_hold_colons(sim_daemon, sim_api):
    # RFC 7617: the user-id ends at the first colon; the password may contain more.
    _, name, password = make_user(sim_api, password="pw:with:colons")
    assert scrape_tcp(sim_daemon, name, password)[0] == 200


def test_tcp_with_roots_password_is_200(sim_daemon, sim_api):
    root = sim_api.user.get_by_short_name("root")[0]
    sim_api.user.set_password(root, "metrics root pw")
    assert scrape_tcp(sim_daemon, "root", "metrics root pw")[0] == 200
    assert scrape_tcp(sim_daemon, "root", "")[0] == 401


# -- the exposition --------------------------------------------------------------------------

def test_every_family_is_there_with_its_type(sim_daemon):
    families = metrics_unix(sim_daemon)
    for name, kind in FAMILIES.items():
        assert name in families, name
        assert families[name].type == kind, (name, families[name].type)


def test_host_cpu_utilisation_has_one_fraction_per_cpu(sim_daemon):
    cpus = samples(metrics_unix(sim_daemon), "xend_host_cpu_utilisation")
    assert sorted(int(labels["cpu"]) for labels, _ in cpus) == list(range(os.cpu_count()))
    assert all(0.0 <= value <= 1.0 for _, value in cpus), cpus


def _agreeing(read_both, what, tries=20):
    """The first (scraped, api) pair ``read_both()`` returns that agree. Both sides come
    from the sampler's last sample, so they differ only when a sample lands between the
    two reads; a few tries see them agree."""
    seen = []
    for _ in range(tries):
        scraped, api = read_both()
        if scraped == api:
            return scraped
        seen.append((scraped, api))
        time.sleep(0.1)
    raise AssertionError("%s never agreed: %s" % (what, seen[-3:]))


def test_host_cpu_utilisation_agrees_with_host_cpu_records(sim_daemon, sim_api):
    def read_both():
        scraped = {int(labels["cpu"]): v for labels, v in
                   samples(metrics_unix(sim_daemon), "xend_host_cpu_utilisation")}
        api = {int(r["number"]): float(r["utilisation"])
               for r in sim_api.host_cpu.get_all_records().values()}
        return scraped, api
    _agreeing(read_both, "host CPU utilisation")


def test_host_memory_is_the_machines(sim_daemon):
    families = metrics_unix(sim_daemon)
    [(_, total)] = samples(families, "xend_host_memory_total_bytes")
    [(_, free)] = samples(families, "xend_host_memory_free_bytes")
    assert total == psutil.virtual_memory().total
    assert 0 < free <= total


def test_task_counts_agree_with_the_task_records(sim_daemon, sim_api):
    api = sim_api
    vm = new_vm(api)
    api.task.get_record(api.Async.VM.start(vm, False))   # at least one task exists

    def read_both():
        scraped = {labels["status"]: v for labels, v in
                   samples(metrics_unix(sim_daemon), "xend_tasks")}
        made = {}
        for rec in api.task.get_all_records().values():   # root sees every user's tasks
            made[rec["status"]] = made.get(rec["status"], 0) + 1
        return scraped, made
    assert sum(_agreeing(read_both, "task counts").values()) >= 1


def _vms_by_state(families):
    return {labels["power_state"]: value for labels, value in samples(families, "xend_vms")}


def test_vms_by_power_state_agree_with_the_vm_records(sim_daemon, sim_api):
    api = sim_api
    made = {state: [new_vm(api) for _ in range(n)]
            for state, n in (("Running", 2), ("Paused", 1), ("Suspended", 3), ("Halted", 1))}
    for vm in made["Running"]:
        api.VM.start(vm, False)
    for vm in made["Paused"]:
        api.VM.start(vm, True)
    for vm in made["Suspended"]:
        api.VM.start(vm, False)
        api.VM.suspend(vm, False)
    records = guest_records(api)     # the guests: /metrics leaves the control domain out
    expected = {}
    for rec in records.values():
        expected[rec["power_state"]] = expected.get(rec["power_state"], 0) + 1
    families = metrics_unix(sim_daemon)
    assert _vms_by_state(families) == expected
    assert sum(expected.values()) == len(records)
    each = {labels["vm"]: (labels["power_state"], value)
            for labels, value in samples(families, "xend_vm_power_state")}
    assert each == {vm: (rec["power_state"], 1.0) for vm, rec in records.items()}
    assert expected["Suspended"] >= 3 and expected["Paused"] >= 1 and expected["Running"] >= 2


def test_only_resident_vms_have_per_vm_figures(sim_daemon, sim_api):
    api = sim_api
    running, halted, suspended = new_vm(api), new_vm(api), new_vm(api)
    api.VM.start(running, False)
    api.VM.start(suspended, False)
    api.VM.suspend(suspended, False)
    time.sleep(0.6)
    families = metrics_unix(sim_daemon)
    vms = {labels["vm"] for labels, _ in samples(families, "xend_vm_memory_actual_bytes")}
    assert running in vms
    assert halted not in vms and suspended not in vms
    assert vms == set(resident_guests(api, api.host.get_all()[0]))


def test_label_values_are_escaped(sim_daemon, sim_api):
    name = 'quote " backslash \\ newline \n end'
    vm = new_vm(sim_api, name_label=name)
    sim_api.VM.start(vm, False)
    families = metrics_unix(sim_daemon)
    mine = [labels for labels, _ in samples(families, "xend_vm_memory_actual_bytes")
            if labels["vm"] == vm]
    assert mine and mine[0]["name"] == name, mine


def test_api_call_counters_count_calls_and_failures(sim_daemon, sim_api):
    def counter(families, sample, method):
        return sum(v for labels, v in samples(families, sample) if labels["method"] == method)

    before = metrics_unix(sim_daemon)
    for _ in range(5):
        sim_api.VM.get_all()
    for _ in range(3):
        try:
            sim_api.VM.get_name_label("no-such-vm")
        except Exception:
            pass
    after = metrics_unix(sim_daemon)
    assert counter(after, "xend_api_calls_total", "VM.get_all") - \
        counter(before, "xend_api_calls_total", "VM.get_all") == 5
    assert counter(after, "xend_api_failures_total", "VM.get_all") == \
        counter(before, "xend_api_failures_total", "VM.get_all")
    assert counter(after, "xend_api_failures_total", "VM.get_name_label") - \
        counter(before, "xend_api_failures_total", "VM.get_name_label") == 3
    assert counter(after, "xend_api_call_seconds_total", "VM.get_all") >= \
        counter(before, "xend_api_call_seconds_total", "VM.get_all")


# -- live figures of a real guest ------------------------------------------------------------

def _figures(families, vm):
    """What GET /metrics says of ``vm``: memory, vCPU loads, and each device's rates."""
    def mine(name):
        return [(labels, v) for labels, v in samples(families, name) if labels["vm"] == vm]
    return {"memory": [v for _, v in mine("xend_vm_memory_actual_bytes")],
            "vcpus": {labels["vcpu"]: v for labels, v in mine("xend_vm_vcpu_utilisation")},
            "devices": {(labels["device"], labels["direction"]): v
                        for kind in ("vbd", "vif") for labels, v in mine("xend_%s_kbs" % kind)}}


def _api_figures(api, vm):
    """The same figures read through the API's RO_run fields."""
    devices = {}
    for cls, refs in (("VBD", api.VM.get_VBDs(vm)), ("VIF", api.VM.get_VIFs(vm))):
        for ref in refs:
            rec = getattr(api, cls).get_record(ref)
            devices[(ref, "in")] = float(rec["IO_bandwidth_incoming_kbs"])
            devices[(ref, "out")] = float(rec["IO_bandwidth_outgoing_kbs"])
    return {"memory": [float(api.VM.get_memory_actual(vm))],
            "vcpus": {k: float(v) for k, v in api.VM.get_VCPUs_utilisation(vm).items()},
            "devices": devices}


def _agree(daemon, api, vm):
    """Every per-VM figure of ``vm`` on GET /metrics equals the API's; the families."""
    last = {}

    def read_both():
        last["families"] = metrics_unix(daemon)
        return _figures(last["families"], vm), _api_figures(api, vm)
    _agreeing(read_both, "figures of %s" % vm)
    return last["families"]


@pytest.mark.qemu
def test_a_running_guests_figures_agree_with_the_api(qemu_daemon, qemu_api):
    api = qemu_api
    vm = new_no_os_vm(api, VCPUs_max="2")
    vbd = new_vbd(api, vm, new_vdi(api))
    net = api.network.create({"name_label": unique("metrics")})
    vif = api.VIF.create({"VM": vm, "network": net, "device": "eth0", "MAC": ""})
    try:
        api.VM.start(vm, False)
        time.sleep(1.2)                                     # two samples
        families = _agree(qemu_daemon, api, vm)
        assert 0 < int(api.VM.get_memory_actual(vm)) <= 64 * MIB
        figures = _figures(families, vm)
        assert sorted(figures["vcpus"]) == ["0", "1"]
        assert all(0.0 <= v <= 1.0 for v in figures["vcpus"].values()), figures
        assert sorted(figures["devices"]) == sorted(
            (dev, way) for dev in (vbd, vif) for way in ("in", "out"))
        assert _vms_by_state(families).get("Running", 0) == \
            sum(1 for r in guest_records(api).values() if r["power_state"] == "Running")

        api.VM.pause(vm)
        _agree(qemu_daemon, api, vm)
        api.VM.hard_shutdown(vm)
        families = metrics_unix(qemu_daemon)
        assert vm not in {labels["vm"] for labels, _ in
                          samples(families, "xend_vm_memory_actual_bytes")}
    finally:
        if api.VM.get_power_state(vm) != "Halted":
            api.VM.hard_shutdown(vm)
        api.VIF.destroy(vif)
        api.network.destroy(net)
