"""host (§2.7) and host_cpu (§2.8): the machine the daemon runs on."""

import os
import socket

import pytest
from harness import failure, new_vm


@pytest.fixture(scope="module")
def api(root):
    return root


def test_exactly_one_host_named_after_the_hostname(api):
    hosts = api.host.get_all()
    assert len(hosts) == 1
    assert api.host.list() == hosts
    assert api.host.get_name_label(hosts[0]) == socket.gethostname()
    assert list(api.host.get_all_records()) == hosts


def test_the_host_is_the_same_over_tcp(root_tcp, api, host):
    assert root_tcp.host.get_all() == [host]
    assert root_tcp.host.get_record(host)["host_CPUs"] == api.host.get_record(host)[
        "host_CPUs"]


def test_one_host_cpu_per_cpu(api, host):
    cpus = api.host_cpu.get_all()
    assert len(cpus) == os.cpu_count()
    assert sorted(api.host.get_host_CPUs(host)) == sorted(cpus)
    assert sorted(int(api.host_cpu.get_number(c)) for c in cpus) == list(range(os.cpu_count()))
    records = api.host_cpu.get_all_records()
    assert sorted(records) == sorted(cpus)
    for ref, rec in records.items():
        assert rec["host"] == host
        assert isinstance(rec["utilisation"], float) and rec["utilisation"] >= 0.0
        assert isinstance(rec["features"], list)


def test_host_cpu_features_are_spec_values(api):
    from xen.xend.api import datamodel
    allowed = set(datamodel.ENUMS["cpu_feature"].values)
    for cpu in api.host_cpu.get_all():
        features = api.host_cpu.get_features(cpu)
        assert set(features) <= allowed
        assert len(features) == len(set(features))


def test_software_version_is_a_map_of_strings(api, host):
    sv = api.host.get_software_version(host)
    assert sv and all(isinstance(k, str) and isinstance(v, str) for k, v in sv.items())


def test_resident_vms_follow_vm_starts_and_stops(api, host):
    a, b = new_vm(api), new_vm(api)
    before = set(api.host.get_resident_VMs(host))
    api.VM.start(a, False)
    api.VM.start(b, True)
    assert set(api.host.get_resident_VMs(host)) == before | {a, b}
    api.VM.suspend(b, False)
    assert set(api.host.get_resident_VMs(host)) == before | {a}
    api.VM.clean_reboot(a)
    assert set(api.host.get_resident_VMs(host)) == before | {a}
    api.VM.clean_shutdown(a)
    assert set(api.host.get_resident_VMs(host)) == before
    api.VM.resume(b, False)
    assert set(api.host.get_resident_VMs(host)) == before | {b}
    assert api.VM.get_resident_on(b) == host
    api.VM.hard_shutdown(b)
    assert set(api.host.get_resident_VMs(host)) == before
    assert api.VM.get_resident_on(b) == ""


def test_disable_and_enable(api, host):
    assert api.host.get_enabled(host) is True
    assert api.host.disable(host) == ""
    try:
        assert api.host.get_enabled(host) is False
        assert api.host.disable(host) == ""       # idempotent
    finally:
        assert api.host.enable(host) == ""
    assert api.host.get_enabled(host) is True
    vm = new_vm(api)
    api.VM.start(vm, False)
    api.VM.hard_shutdown(vm)


def test_host_is_neither_creatable_nor_deletable(api, host):
    assert failure(api.host.create, {"name_label": "another"})[0] == "OPERATION_NOT_ALLOWED"
    assert failure(api.host.destroy, host)[0] == "OPERATION_NOT_ALLOWED"
    assert failure(api.host_cpu.create, {"host": host, "number": "9"})[0] == \
        "OPERATION_NOT_ALLOWED"
    assert api.host.get_all() == [host]
