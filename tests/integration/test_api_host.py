"""host (§2.7) and host_cpu (§2.8): the machine the daemon runs on."""

import os
import platform
import socket

import XenAPI
from harness import failure, make_user, new_sr, new_vm

from xen.xend.host import facts

# conftest's ``api``: the SDK over the Unix socket, and its interface over JSON-RPC.
API_TRANSPORTS = ("unix", "jsonrpc")


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


def test_host_cpu_facts_are_the_machines(api, v10):
    """Xen-API 1.0's vendor, speed, modelname, stepping and flags, from /proc/cpuinfo."""
    cpus = {c.number: c for c in facts.read_cpus()}
    for ref, rec in v10.host_cpu.get_all_records().items():
        cpu = cpus[int(rec["number"])]
        assert (rec["vendor"], rec["modelname"], rec["stepping"]) == (
            cpu.vendor, cpu.model_name, cpu.stepping)
        assert rec["flags"] == " ".join(cpu.flags)
        assert set(api.host_cpu.get_features(ref)) == set(
            facts.features_from_flags(rec["flags"].split()))
        # MHz as the daemon read it at start (a scaling CPU's figure moves since)
        assert rec["speed"].isdigit() and (int(rec["speed"]) > 0) == (cpu.mhz > 0)
        assert api.host_cpu.get_modelname(ref) == rec["modelname"]


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


# -- Xen-API 1.0's host facts ------------------------------------------------------------------

def test_api_version_is_1_0_whatever_the_sessions_revision(daemon, api, v10, host):
    rec = v10.host.get_record(host)
    assert (rec["API_version_major"], rec["API_version_minor"]) == ("1", "0")
    assert rec["API_version_vendor"] == "xend"
    assert rec["API_version_vendor_implementation"] == {
        "xend": rec["software_version"]["xend"], "backend": "sim"}
    for version in ("0.2", "1.0"):
        s = XenAPI.Session(daemon.url)
        _, name, pw = make_user(api)
        s.xenapi.login_with_password(name, pw, version)
        try:
            assert s.xenapi.host.get_API_version_major(host) == "1"
            assert s.xenapi.host.get_API_version_minor(host) == "0"
        finally:
            s.xenapi.session.logout()


def test_capabilities_scheduler_and_bootloaders(api, host):
    caps = api.host.get_capabilities(host)
    assert caps and all(c.startswith("hvm-3.0-") for c in caps)
    if platform.machine() == "x86_64":
        assert caps == ["hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64"]
    assert api.host.get_sched_policy(host) == "credit"
    loaders = api.host.get_supported_bootloaders(host)
    assert loaders == (["pygrub"] if any(os.access(p, os.X_OK)
                                         for p in facts.BOOTLOADERS["pygrub"]) else [])


def test_cpu_configuration_counts_the_cpus(api, host):
    conf = api.host.get_cpu_configuration(host)
    assert set(conf) == {"nr_cpus", "nr_nodes", "sockets_per_node", "cores_per_socket",
                         "threads_per_core"}
    n = {k: int(v) for k, v in conf.items()}
    assert n["nr_cpus"] == os.cpu_count() == len(api.host.get_host_CPUs(host))
    assert all(v >= 1 for v in n.values())
    assert n["nr_nodes"] * n["sockets_per_node"] * n["cores_per_socket"] * \
        n["threads_per_core"] >= n["nr_cpus"] // max(1, n["nr_nodes"])


def test_logging_and_other_config_are_root_writable_maps(daemon, api, v10, host):
    api.host.add_to_other_config(host, "owner", "lab")
    api.host.add_to_logging(host, "level", "debug")
    assert api.host.get_other_config(host) == {"owner": "lab"}
    assert v10.host.get_record(host)["logging"] == {"level": "debug"}
    api.host.remove_from_other_config(host, "owner")
    assert api.host.get_other_config(host) == {}
    user = daemon.sdk_tcp(*make_user(api)[1:])
    try:
        assert failure(user.xenapi.host.add_to_other_config, host, "k", "v")[0] == \
            "PERMISSION_DENIED"
        assert user.xenapi.host.get_logging(host) == {"level": "debug"}
    finally:
        user.xenapi.session.logout()


def test_suspend_and_crash_dump_srs_are_nullable_refs(api, v10, host):
    assert api.host.get_suspend_image_sr(host) == ""
    sr = new_sr(api)
    api.host.set_suspend_image_sr(host, sr)
    api.host.set_crash_dump_sr(host, sr)
    assert (api.host.get_suspend_image_sr(host), api.host.get_crash_dump_sr(host)) == (sr, sr)
    assert failure(api.host.set_crash_dump_sr, host, "no-such-sr") == [
        "HANDLE_INVALID", "SR", "no-such-sr"]
    assert api.host.get_crash_dump_sr(host) == sr         # unchanged by the refused write
    api.host.set_crash_dump_sr(host, "OpaqueRef:NULL")
    assert api.host.get_crash_dump_sr(host) == ""
    api.SR.destroy(sr)                                       # a deleted SR reads as null
    assert v10.host.get_record(host)["suspend_image_sr"] == ""


def test_list_methods_lists_what_the_session_may_call(daemon, api):
    methods = api.host.list_methods()
    assert methods == sorted(methods)
    assert {"VM.start", "host.list_methods", "session.get_this_host", "event.from",
            "host.get_log", "host.send_debug_keys"} <= set(methods)
    user = daemon.sdk_tcp(*make_user(api)[1:])
    try:
        theirs = user.xenapi.host.list_methods()
    finally:
        user.xenapi.session.logout()
    assert "VM.start" in theirs and "host.list_methods" in theirs
    assert set(theirs) < set(methods)
    assert "host.get_log" not in theirs and "user.set_password" not in theirs


def test_get_log_is_the_daemons_log_for_root_only(daemon, api, host):
    api.VM.set_name_label(new_vm(api), "logged-name")
    text = api.host.get_log(host)
    assert 0 < len(text.encode()) <= 64 * 1024 and text.endswith("\n")
    assert "VM.set_name_label by root: Success" in text
    with open(daemon.log, encoding="utf-8", errors="replace") as f:
        assert text in f.read()
    user = daemon.sdk_tcp(*make_user(api)[1:])
    try:
        assert failure(user.xenapi.host.get_log, host)[0] == "PERMISSION_DENIED"
        assert failure(user.xenapi.host.send_debug_keys, host, "q")[0] == "PERMISSION_DENIED"
    finally:
        user.xenapi.session.logout()


def test_send_debug_keys_reaches_the_hypervisors_log(api, host):
    assert api.host.send_debug_keys(host, "q") == ""
    assert "debug-keys q" in api.host.dmesg(host)
    for bad in ("", "-h", "a b", "k\n", "x" * 65):
        assert failure(api.host.send_debug_keys, host, bad) == ["INVALID_VALUE", "keys", bad]
