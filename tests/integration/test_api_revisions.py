"""Xen-API 1.0 beside the draft 0.2: a session's login version picks its revision where
the two disagree (docs/api.md, "Two revisions"); every other name works in both.

Through the SDK over the Unix socket: ``root`` speaks the draft (no version given),
``v10`` logged in with version "1.0".
"""

import http.client
import xmlrpc.client

import pytest
import XenAPI
from harness import (
    MIB,
    Daemon,
    failure,
    make_user,
    new_network,
    new_vbd,
    new_vdi,
    new_vif,
    new_vm,
    wait_until,
)
from xapi_helpers import ROOT_PASSWORD

from xen.xend.api import datamodel


def raw_call(api, method, *args):
    """``method`` through the SDK's own proxy, whatever its name (no attribute magic)."""
    return getattr(api, method)(*args)


# -- which revision a login picks -------------------------------------------------------------

@pytest.mark.parametrize("version, revision", [("1.0", "1.0"), ("1.2", "1.0"), ("2.21", "1.0"),
                                               ("0.2", "0.2"), ("", "0.2")])
def test_the_login_version_picks_the_revision(daemon, version, revision):
    s = XenAPI.Session("http://%s/" % daemon.socket.replace("/", "_"),
                       transport=XenAPI.UDSTransport())
    s.xenapi.login_with_password("root", "", version, "t")
    try:   # the revision shows in VCPUs_params' type
        vm = new_vm(s.xenapi)
        value = s.xenapi.VM.get_VCPUs_params(vm)
        assert isinstance(value, dict if revision == "1.0" else str), value
        s.xenapi.VM.destroy(vm)
    finally:
        s.xenapi.session.logout()


def test_a_version_that_is_no_number_is_refused(daemon):
    s = XenAPI.Session("http://%s/" % daemon.socket.replace("/", "_"),
                       transport=XenAPI.UDSTransport())
    with pytest.raises(XenAPI.Failure) as e:
        s.xenapi.login_with_password("root", "", "one", "t")
    assert e.value.details[:3] == ["VALUE_NOT_SUPPORTED", "version", "one"]


def test_a_daemon_configured_for_1_0_gives_1_0_to_a_login_without_version():
    d = Daemon(extra_config='api_version_default = "1.0"\n').start()
    try:
        api = d.sdk_unix().xenapi
        assert isinstance(api.VM.get_VCPUs_params(new_vm(api)), dict)
        draft = d.sdk_unix(version="0.2").xenapi
        assert isinstance(draft.VM.get_VCPUs_params(new_vm(draft)), str)
    finally:
        d.cleanup()


# -- the disagreements, each resolved per session -----------------------------------------------

def test_task_get_status_is_xml_in_the_draft_and_the_status_in_1_0(root, v10):
    task = root.Async.VM.clone(new_vm(root), "c")
    wait_until(lambda: root.task.get_record(task)["status"] != "pending", 30, "the clone")
    assert root.task.get_status(task).startswith("<task>")
    assert v10.task.get_status(task) == "success"
    assert v10.task.get_progress(task) == "100"          # a percentage (Int) in 1.0
    assert root.task.get_progress(task) == 1.0           # a fraction in the draft


def test_suspend_takes_live_in_the_draft_and_not_in_1_0(root, v10):
    vm = new_vm(root)
    root.VM.start(vm, False)
    assert failure(v10.VM.suspend, vm, False) == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.suspend", "1", "2"]
    assert failure(root.VM.suspend, vm) == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.suspend", "2", "1"]
    v10.VM.suspend(vm)
    assert root.VM.get_power_state(vm) == "Suspended"
    root.VM.resume(vm, False)
    root.VM.suspend(vm, False)
    assert v10.VM.get_power_state(vm) == "Suspended"


def test_start_takes_force_in_1_0_only(root, v10):
    vm = new_vm(root)
    assert failure(root.VM.start, vm, False, True)[:2] == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start"]
    v10.VM.start(vm, False, True)
    assert root.VM.get_power_state(vm) == "Running"
    v10.VM.hard_shutdown(vm)
    v10.VM.start(vm, True)
    assert root.VM.get_power_state(vm) == "Paused"


def test_vcpus_params_is_a_string_in_the_draft_and_a_map_in_1_0(root, v10):
    vm = new_vm(root, VCPUs_max="2")
    root.VM.set_VCPUs_params(vm, "weight=512 cpumap1=0")
    assert v10.VM.get_VCPUs_params(vm) == {"weight": "512", "cpumap1": "0"}
    v10.VM.set_VCPUs_params(vm, {"cap": "50"})
    assert root.VM.get_VCPUs_params(vm) == "cap=50"
    v10.VM.add_to_VCPUs_params(vm, "weight", "300")
    assert v10.VM.get_record(vm)["VCPUs_params"] == {"cap": "50", "weight": "300"}
    v10.VM.remove_from_VCPUs_params(vm, "cap")
    assert root.VM.get_record(vm)["VCPUs_params"] == "weight=300"
    # The draft's checks apply to both spellings.
    assert failure(v10.VM.set_VCPUs_params, vm, {"weight": "0"})[:2] == [
        "INVALID_VALUE", "VCPUs_params"]
    made = v10.VM.create({"name_label": "p", "VCPUs_params": {"weight": "700"}})
    assert root.VM.get_VCPUs_params(made) == "weight=700"
    assert failure(v10.VM.create, {"name_label": "p", "VCPUs_params": "weight=1"}) == [
        "FIELD_TYPE_ERROR", "VCPUs_params"]


def test_a_vdis_virtual_size_counts_sectors_in_the_draft_and_bytes_in_1_0(root, v10):
    vdi = new_vdi(root, size=16 * MIB)
    assert root.VDI.get_virtual_size(vdi) == str(16 * MIB // 512)
    assert v10.VDI.get_virtual_size(vdi) == str(16 * MIB)
    v10.VDI.set_virtual_size(vdi, str(32 * MIB))
    assert root.VDI.get_virtual_size(vdi) == str(32 * MIB // 512)
    made = v10.VDI.create({"name_label": "b", "SR": root.SR.get_all()[0],
                           "virtual_size": str(8 * MIB + 1), "sharable": False,
                           "read_only": False, "type": "user"})
    assert root.VDI.get_virtual_size(made) == str(8 * MIB // 512 + 1)   # rounded up
    assert v10.VDI.get_record(made)["virtual_size"] == str(8 * MIB + 512)


def test_a_session_names_its_user_and_time_alike_in_both_revisions(daemon, root):
    """1.0's document declares this_user a user ref and last_active an Int; its clients
    (libxen reads a string and a dateTime) and xend 3.1 used the name and a dateTime."""
    _, name, pw = make_user(root)
    s = XenAPI.Session(daemon.url)
    s.xenapi.login_with_password(name, pw, "1.0", "t")
    alice = s.xenapi
    own = alice.session.get_all()[0]      # a user sees only their own session
    record = alice.session.get_record(own)
    assert record["this_user"] == alice.session.get_this_user(own) == name
    assert isinstance(record["last_active"], xmlrpc.client.DateTime)
    assert root.session.get_this_user(own) == name
    alice.session.logout()


def test_host_cpu_features_are_names_in_the_draft_and_a_bitmap_in_1_0(root, v10):
    cpu = root.host_cpu.get_all()[0]
    names = root.host_cpu.get_features(cpu)
    bitmap = v10.host_cpu.get_features(cpu)
    words = bitmap.split(":")
    assert all(len(w) == 8 for w in words)
    value = sum(int(w, 16) << (32 * i) for i, w in enumerate(words))
    order = list(datamodel.cpu_feature.values)
    assert {order[i] for i in range(len(order)) if value >> i & 1} == set(names)


# -- records: each revision's names -------------------------------------------------------------

def test_a_draft_record_has_the_drafts_names_a_1_0_record_every_name(root, v10):
    vm = new_vm(root)
    draft, full = root.VM.get_record(vm), v10.VM.get_record(vm)
    vm_cls = datamodel.CLASSES["VM"]
    assert set(draft) == {f.wire for f in datamodel.draft_fields(vm_cls)}
    assert set(full) == {f.wire for f in vm_cls.fields_for("1.0")}
    assert "metrics" in full and "metrics" not in draft
    # A name 1.0 added can be read in a draft session all the same.
    assert root.VM.get_metrics(vm) == full["metrics"]


def test_create_ignores_runtime_fields_of_a_whole_1_0_record(root, v10):
    vm = new_vm(root)
    record = v10.VM.get_record(vm)
    record["name_label"] = "copy"
    copy = v10.VM.create(record)
    got = v10.VM.get_record(copy)
    assert got["name_label"] == "copy" and got["uuid"] == copy != vm
    assert got["metrics"] != record["metrics"] and got["power_state"] == "Halted"
    assert failure(v10.VM.create, dict(record, nonsense="1")) == ["FIELD_UNKNOWN", "nonsense"]
    assert failure(v10.VM.create, dict(record, user_version="x")) == [
        "FIELD_TYPE_ERROR", "user_version"]


# -- VM_metrics: a VM's figures under their own object ------------------------------------------

def test_every_vm_has_one_vm_metrics_showing_its_figures(root, v10):
    vm = new_vm(root, VCPUs_params="weight=400")
    root.VM.start(vm, False)
    metrics = v10.VM.get_metrics(vm)
    assert metrics in v10.VM_metrics.get_all()
    assert len(v10.VM_metrics.get_all()) == len(v10.VM.get_all())
    rec = v10.VM_metrics.get_record(metrics)
    vm_rec = v10.VM.get_record(vm)
    assert rec["uuid"] == metrics != vm
    for wire in ("memory_actual", "VCPUs_number", "start_time"):
        assert rec[wire] == vm_rec[wire], wire
    # As it applies, every key spelled out (xm of Xen 3.x reads cpumapN of each vCPU).
    cpus = ",".join(str(i) for i in range(len(root.host.get_host_CPUs(root.host.get_all()[0]))))
    assert rec["VCPUs_params"] == {"weight": "400", "cap": "0", "cpumap0": cpus}
    assert rec["last_updated"]
    assert v10.VM_metrics.get_by_uuid(metrics) == metrics
    assert root.VM_metrics.get_VCPUs_number(metrics) == vm_rec["VCPUs_number"]
    # The same record in the whole table, but for what the sampler may have moved on
    # since (a vCPU's placement, state and load, when it was read).
    sampled = {"last_updated", "VCPUs_CPU", "VCPUs_flags", "VCPUs_utilisation", "state"}
    again = v10.VM_metrics.get_all_records()[metrics]
    assert again.keys() == rec.keys()
    assert {k: v for k, v in again.items() if k not in sampled} == \
        {k: v for k, v in rec.items() if k not in sampled}
    root.VM.hard_shutdown(vm)
    root.VM.destroy(vm)
    assert failure(v10.VM_metrics.get_record, metrics) == ["HANDLE_INVALID", "VM_metrics",
                                                           metrics]
    assert failure(v10.VM_metrics.get_by_uuid, metrics)[0] == "UUID_INVALID"


def test_vm_metrics_are_neither_made_nor_deleted_by_clients(root, v10):
    metrics = v10.VM.get_metrics(new_vm(root))
    assert failure(raw_call, v10.VM_metrics, "destroy", metrics)[0] == "MESSAGE_METHOD_UNKNOWN"
    assert failure(raw_call, v10.VM_metrics, "create", {})[0] == "MESSAGE_METHOD_UNKNOWN"
    assert failure(v10.VM_metrics.get_record, root.VM.get_all()[0])[0] == "HANDLE_INVALID"


def test_events_give_a_1_0_session_its_own_names(root, v10):
    vm = new_vm(root)
    token = raw_call(v10.event, "from", ["vm"], "", 0.0)["token"]
    root.VM.set_VCPUs_params(vm, "weight=600")
    batch = raw_call(v10.event, "from", ["vm"], token, 5.0)
    snaps = [e["snapshot"] for e in batch["events"] if e["ref"] == vm]
    assert snaps and snaps[-1]["VCPUs_params"] == {"weight": "600"}
    assert "metrics" in snaps[-1]


# -- the wire: typed strings for 1.0 sessions ----------------------------------------------------

def _post(daemon, method, *params):
    """The raw methodResponse body of one call over TCP."""
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    try:
        conn.request("POST", "/", xmlrpc.client.dumps(params, method), {"Content-Type":
                                                                        "text/xml"})
        return conn.getresponse().read()
    finally:
        conn.close()


def test_replies_to_a_1_0_session_type_their_strings(daemon, root_tcp):
    """libxen of Xen 3.0.4 reads a string only as <value><string>; the draft's replies
    keep the shorter untyped form."""
    login = _post(daemon, "session.login_with_password", "root", ROOT_PASSWORD, "1.0")
    assert b"<value><string>Success</string></value>" in login
    session = xmlrpc.client.loads(login)[0][0]["Value"]
    reply = _post(daemon, "VM.get_all_records", session)
    assert b"<string>" in reply and b"<value>Success</value>" not in reply
    draft = _post(daemon, "session.login_with_password", "root", ROOT_PASSWORD, "0.2")
    assert b"<string>" not in draft
    draft_session = xmlrpc.client.loads(draft)[0][0]["Value"]
    assert b"<string>" not in _post(daemon, "VM.get_all_records", draft_session)


def test_an_attached_devices_runtime_properties_name_its_handle(root, v10):
    vm = new_vm(root)
    vif = new_vif(root, vm, new_network(root), device="eth1")
    vbd = new_vbd(root, vm, new_vdi(root), device="xvdb")
    assert v10.VIF.get_runtime_properties(vif) == {}          # not attached: no facts
    root.VM.start(vm, False)
    assert v10.VIF.get_runtime_properties(vif)["handle"] == "1"
    assert v10.VBD.get_runtime_properties(vbd)["handle"] == str(202 << 8 | 16)
    root.VM.hard_shutdown(vm)
