"""The control domain's VM (Domain-0): the machine the daemon runs in, as a VM record
the SDK finds like any other, whose figures are the host's and which no operation or
write but its description and other_config changes."""

import os

import pytest
from harness import (
    LIFECYCLE_OPERATIONS,
    failure,
    guests,
    make_user,
    new_network,
    new_vbd,
    new_vdi,
    new_vif,
    new_vm,
)

DOM0 = "00000000-0000-0000-0000-000000000000"


def test_found_by_every_lookup(root):
    assert DOM0 in root.VM.get_all()
    assert DOM0 in root.VM.get_all_records()
    assert root.VM.get_by_name_label("Domain-0") == [DOM0]
    assert root.VM.get_by_uuid(DOM0) == DOM0
    assert DOM0 not in guests(root)


def test_record_is_the_host(root, v10, host):
    rec = root.VM.get_record(DOM0)
    host_rec = root.host.get_record(host)
    assert rec["name_label"] == "Domain-0"
    assert root.VM.get_is_control_domain(DOM0) is True
    assert v10.VM.get_record(DOM0)["is_control_domain"] is True
    assert rec["power_state"] == "Running"
    assert rec["resident_on"] == host
    assert DOM0 in host_rec["resident_VMs"]
    assert rec["domid"] == "0"
    assert int(rec["memory_actual"]) == int(host_rec["control_domain_memory"]) > 0
    assert int(rec["memory_static_max"]) == int(host_rec["control_domain_memory"])
    assert int(rec["VCPUs_number"]) == int(host_rec["control_domain_VCPUs"]) == os.cpu_count()
    assert sorted(rec["VCPUs_utilisation"], key=int) == [str(i) for i in range(os.cpu_count())]
    assert all(0.0 <= float(u) <= 1.0 for u in rec["VCPUs_utilisation"].values())
    assert float(rec["VCPUs_CPU_time"]) > 0.0
    assert rec["start_time"]


def test_other_vms_are_no_control_domain(root):
    assert root.VM.get_is_control_domain(new_vm(root)) is False


@pytest.mark.parametrize("call, op, args", LIFECYCLE_OPERATIONS + [
    ("destroy", "delete", ()), ("set_VCPUs_number_live", "set_VCPUs_number_live", ("1",)),
    ("set_memory_static_max", "set_memory_static_max", (str(64 << 20),)),
    ("send_sysrq", "send_sysrq", ("h",)), ("dump_core", "dump_core", ("",)),
], ids=lambda v: v if isinstance(v, str) else None)
def test_every_operation_is_refused(root, call, op, args):
    code, reason = failure(getattr(root.VM, call), DOM0, *args)[:2]
    assert code == "OPERATION_NOT_ALLOWED"
    assert "control domain" in reason and "Domain-0" in reason
    assert root.VM.get_power_state(DOM0) == "Running"


@pytest.mark.parametrize("setter, value", [
    ("set_name_label", "renamed"), ("set_memory_dynamic_max", str(64 << 20)),
    ("set_VCPUs_params", "weight=512"), ("set_is_a_template", True),
    ("set_VCPUs_max", str(os.cpu_count() + 1)), ("add_to_VCPUs_features_force_on", "FPU"),
])
def test_writes_are_refused_but_the_notes(root, setter, value):
    before = root.VM.get_record(DOM0)
    code, reason = failure(getattr(root.VM, setter), DOM0, value)[:2]
    assert code == "OPERATION_NOT_ALLOWED" and "control domain" in reason
    after = root.VM.get_record(DOM0)
    assert {k: after[k] for k in ("name_label", "memory_dynamic_max", "VCPUs_params",
                                  "is_a_template", "VCPUs_max")} == \
        {k: before[k] for k in ("name_label", "memory_dynamic_max", "VCPUs_params",
                                "is_a_template", "VCPUs_max")}


def test_devices_are_refused(root):
    code, reason = failure(new_vbd, root, DOM0, new_vdi(root))[:2]
    assert code == "OPERATION_NOT_ALLOWED" and "control domain" in reason
    assert failure(new_vif, root, DOM0, new_network(root))[0] == "OPERATION_NOT_ALLOWED"
    assert root.VM.get_VBDs(DOM0) == [] and root.VM.get_VIFs(DOM0) == []


def test_users_may_neither_stop_nor_annotate_it(daemon, root):
    _, name, password = make_user(root)
    user = daemon.sdk_tcp(name, password).xenapi
    assert failure(user.VM.hard_shutdown, DOM0)[0] == "OPERATION_NOT_ALLOWED"
    assert failure(user.VM.set_name_description, DOM0, "mine")[0] == "PERMISSION_DENIED"
    assert root.VM.get_name_description(DOM0) != "mine"


def test_notes_are_kept_over_a_restart(fresh_daemon):
    api = fresh_daemon.relogin()
    api.VM.set_name_description(DOM0, "the machine itself")
    api.VM.add_to_other_config(DOM0, "note", "kept")
    fresh_daemon.restart()
    api = fresh_daemon.relogin()
    rec = api.VM.get_record(DOM0)
    assert rec["name_description"] == "the machine itself"
    assert rec["other_config"] == {"note": "kept"}
    assert rec["power_state"] == "Running" and rec["domid"] == "0"
    assert api.VM.get_by_name_label("Domain-0") == [DOM0]
