"""The objects Xen-API 1.0 added beside the draft's (docs/api.md, "The host's objects"):
PIF and PIF_metrics, PBD, crashdump, VTPM, the later API's pool, and console's and VM's
1.0 declarations, through the SDK over the Unix socket, in a 1.0 session (``v10``) and a
draft one (``root``).

Host interfaces are real: a bridge of the test's own (MTU changes), and the loopback
(traffic the sampler sees).
"""

import os
import socket
import subprocess
import uuid

import pytest
import XenAPI
from harness import (
    crash_sim_guest,
    failure,
    make_user,
    new_network,
    new_sr,
    new_vdi,
    new_vm,
    serving,
    wait_until,
)


@pytest.fixture(scope="module")
def daemon():
    """The module's daemon, sampling every 0.2 s: rates appear after two samples."""
    with serving(extra_config="sampler_interval = 0.2\n") as d:
        yield d


@pytest.fixture(scope="module")
def iface():
    """An interface of the module's own on the host (root only): a bridge without ports,
    which every kernel that runs guests has."""
    name = "xtpif" + uuid.uuid4().hex[:8]
    made = subprocess.run(["ip", "link", "add", name, "type", "bridge"], capture_output=True)
    if made.returncode != 0:
        pytest.skip("cannot make a bridge: %s" % made.stderr.decode().strip())
    yield name
    subprocess.run(["ip", "link", "del", name], check=True)


@pytest.fixture(scope="module")
def alice(daemon, root):
    """A 1.0 session of a user who is not root, over TCP."""
    _, name, pw = make_user(root)
    s = XenAPI.Session(daemon.url)
    s.xenapi.login_with_password(name, pw, "1.0", "t")
    yield s.xenapi
    s.xenapi.session.logout()


def sys_net(name, key):
    with open("/sys/class/net/%s/%s" % (name, key)) as f:
        return f.read().strip()


# -- PIF ------------------------------------------------------------------------------------

def test_a_network_with_a_nic_has_a_pif_and_a_private_one_none(root, v10, iface):
    host = v10.host.get_all()[0]
    private = new_network(v10)
    net = new_network(v10, NIC=iface)
    pif = v10.network.get_PIFs(net)[0]
    assert v10.network.get_PIFs(private) == []
    assert pif in v10.host.get_PIFs(host) and pif in v10.PIF.get_all()
    assert v10.PIF.get_record(pif) == {
        "uuid": pif, "device": iface, "network": net, "host": host,
        "MAC": sys_net(iface, "address"), "MTU": sys_net(iface, "mtu"), "VLAN": "-1",
        "metrics": v10.PIF.get_metrics(pif)}
    # A draft session reads the same objects; its records of the draft's classes keep
    # the draft's fields only.
    assert root.PIF.get_device(pif) == iface
    assert root.network.get_PIFs(net) == [pif]
    assert "PIFs" not in root.network.get_record(net)
    v10.network.set_NIC(net, "")
    assert failure(v10.PIF.get_record, pif) == ["HANDLE_INVALID", "PIF", pif]
    assert pif not in v10.host.get_PIFs(host)


def test_create_VLAN_connects_a_network_and_destroy_disconnects_it(v10, iface):
    host = v10.host.get_all()[0]
    net = new_network(v10)
    pif = v10.PIF.create_VLAN(iface, net, host, "12")
    assert v10.network.get_record(net)["NIC"] == iface
    assert v10.network.get_VLAN(net) == "12"
    assert v10.PIF.get_VLAN(pif) == "12" and v10.network.get_PIFs(net) == [pif]
    assert failure(v10.PIF.create_VLAN, iface, net, host, "13") == [
        "NETWORK_ALREADY_CONNECTED", net, pif]
    v10.PIF.destroy(pif)
    assert v10.network.get_NIC(net) == "" and v10.network.get_VLAN(net) == ""
    assert v10.PIF.get_all().count(pif) == 0


@pytest.mark.parametrize("tag", ["-1", "4095", "70000"])
def test_create_VLAN_refuses_a_tag_outside_0_to_4094(v10, iface, tag):
    net = new_network(v10)
    assert failure(v10.PIF.create_VLAN, iface, net, v10.host.get_all()[0], tag) == [
        "VLAN_TAG_INVALID", tag]
    assert v10.network.get_NIC(net) == ""


def test_the_host_s_own_interface_is_not_destroyed(v10, iface):
    pif = v10.network.get_PIFs(new_network(v10, NIC=iface))[0]
    assert failure(v10.PIF.destroy, pif) == ["PIF_IS_PHYSICAL", pif]


def test_device_and_VLAN_are_the_network_s(root, v10, iface):
    net = new_network(v10, NIC="eth9")
    pif = v10.network.get_PIFs(net)[0]
    v10.PIF.set_device(pif, iface)
    v10.PIF.set_VLAN(pif, "7")
    assert v10.network.get_NIC(net) == iface and v10.network.get_VLAN(net) == "7"
    assert failure(v10.PIF.set_VLAN, pif, "5000") == ["VLAN_TAG_INVALID", "5000"]
    root.PIF.set_VLAN(pif, "-1")           # every session has PIF's own names
    assert v10.network.get_VLAN(net) == ""
    assert failure(v10.PIF.set_MAC, pif, "02:00:00:00:00:01")[:2] == [
        "VALUE_NOT_SUPPORTED", "MAC"]


def test_set_MTU_sets_the_interface_s_mtu(v10, iface):
    pif = v10.network.get_PIFs(new_network(v10, NIC=iface))[0]
    v10.PIF.set_MTU(pif, "1280")
    assert sys_net(iface, "mtu") == "1280" and v10.PIF.get_MTU(pif) == "1280"
    assert failure(v10.PIF.set_MTU, pif, "67")[:2] == ["INVALID_VALUE", "MTU"]
    assert sys_net(iface, "mtu") == "1280"


def test_only_root_changes_pifs(v10, alice, iface):
    host = v10.host.get_all()[0]
    net = new_network(v10)
    vlan = v10.PIF.create_VLAN(iface, new_network(v10), host, "3")
    physical = v10.network.get_PIFs(new_network(v10, NIC=iface))[0]
    for call in ((alice.PIF.create_VLAN, iface, net, host, "4"), (alice.PIF.destroy, vlan),
                 (alice.PIF.set_MTU, physical, "1400"), (alice.PIF.set_VLAN, vlan, "9"),
                 (alice.PIF.set_device, physical, "eth3")):
        assert failure(*call)[0] == "PERMISSION_DENIED"
    assert alice.PIF.get_VLAN(vlan) == "3"             # every user reads them
    assert v10.network.get_NIC(net) == ""


# -- PIF_metrics ------------------------------------------------------------------------------

def test_pif_metrics_are_the_interface_s_rates_as_sampled(v10):
    pif = v10.network.get_PIFs(new_network(v10, NIC="lo"))[0]
    metrics = v10.PIF.get_metrics(pif)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def traffic_seen():
        # Traffic on the loopback at every poll, so that two samples find it.
        for _ in range(16):
            sender.sendto(b"x" * 8192, sink.getsockname())
        rec = v10.PIF_metrics.get_record(metrics)
        return rec if float(rec["io_read_kbs"]) > 0 and float(rec["io_write_kbs"]) > 0 else None
    try:
        rec = wait_until(traffic_seen, 30, "the sampler to see the loopback's traffic")
    finally:
        sender.close()
        sink.close()
    assert rec["uuid"] == metrics and isinstance(rec["last_updated"], XenAPI.xmlrpclib.DateTime)
    assert metrics in v10.PIF_metrics.get_all()


# -- PBD ---------------------------------------------------------------------------------------

def test_every_sr_has_one_pbd_on_this_host(root, v10):
    host = v10.host.get_all()[0]
    sr = new_sr(root, type="file")
    pbd, = v10.SR.get_PBDs(sr)
    assert v10.PBD.get_record(pbd) == {
        "uuid": pbd, "host": host, "SR": sr, "currently_attached": True,
        "device_config": {"location": v10.SR.get_location(sr), "format": "raw"}}
    assert sorted(v10.host.get_PBDs(host)) == sorted(
        p for s in v10.SR.get_all() for p in v10.SR.get_PBDs(s))
    assert root.PBD.get_SR(pbd) == sr and "PBDs" not in root.SR.get_record(sr)
    root.SR.destroy(sr)
    assert pbd not in v10.PBD.get_all() and pbd not in v10.host.get_PBDs(host)
    assert failure(v10.PBD.create, {"SR": sr})[0] == "MESSAGE_METHOD_UNKNOWN"


def test_a_pbd_s_device_config_has_its_sr_type_s_keys(root, v10, tmp_path):
    sr = root.SR.introduce("iso", str(tmp_path), "isos")
    pbd, = v10.SR.get_PBDs(sr)
    assert v10.PBD.get_device_config(pbd) == {
        "location": str(tmp_path), "adopted": "true", "read_only": "true"}
    assert v10.PBD.get_device_config(v10.SR.get_PBDs(new_sr(root))[0])["format"] == "qcow2"
    root.SR.forget(sr)
    assert pbd not in v10.PBD.get_all()


# -- crashdump ---------------------------------------------------------------------------------

def crashed(daemon, api):
    """A VM whose guest crashed once under coredump_and_destroy, and its one crashdump."""
    vm = new_vm(api, actions_after_crash="coredump_and_destroy")
    api.VM.start(vm, False)
    crash_sim_guest(daemon, vm)
    dumps = wait_until(lambda: api.VM.get_crash_dumps(vm), 30, "the crash dump")
    assert len(dumps) == 1
    return vm, dumps[0]


def test_a_crash_with_coredump_keeps_the_core_in_a_vdi(daemon, root, v10, alice):
    vm, dump = crashed(daemon, v10)
    assert wait_until(lambda: v10.VM.get_power_state(vm) == "Halted", 30, "the halt")
    vdi = v10.crashdump.get_VDI(dump)
    assert v10.crashdump.get_record(dump) == {"uuid": dump, "VM": vm, "VDI": vdi}
    record = v10.VDI.get_record(vdi)
    assert record["type"] == "crashdump" and record["crash_dumps"] == [dump]
    default_sr = v10.SR.get_by_name_label("Local storage")[0]
    assert record["SR"] == default_sr and root.VM.get_crash_dumps(vm) == [dump]
    assert os.path.getsize(record["location"]) > 0
    assert failure(v10.VDI.destroy, vdi)[0] == "OBJECT_IN_USE"
    assert failure(alice.crashdump.destroy, dump)[0] == "PERMISSION_DENIED"
    v10.crashdump.destroy(dump)
    assert failure(v10.VDI.get_record, vdi)[0] == "HANDLE_INVALID"
    assert not os.path.exists(record["location"]) and v10.VM.get_crash_dumps(vm) == []


def test_deleting_the_vm_drops_its_crashdumps_records_not_their_vdis(daemon, v10):
    vm, dump = crashed(daemon, v10)
    vdi = v10.crashdump.get_VDI(dump)
    wait_until(lambda: v10.VM.get_power_state(vm) == "Halted", 30, "the halt")
    v10.VM.destroy(vm)
    assert dump not in v10.crashdump.get_all()
    assert v10.VDI.get_crash_dumps(vdi) == [] and v10.VDI.get_type(vdi) == "crashdump"
    v10.VDI.destroy(vdi)


def test_root_makes_a_crashdump_of_an_existing_vdi(v10, alice):
    vm, vdi = new_vm(v10), new_vdi(v10)
    assert failure(alice.crashdump.create, {"VM": vm, "VDI": vdi})[0] == "PERMISSION_DENIED"
    dump = v10.crashdump.create({"VM": vm, "VDI": vdi})
    assert v10.VM.get_crash_dumps(vm) == [dump]
    assert failure(v10.crashdump.create, {"VM": vm, "VDI": vdi})[0] == "OBJECT_IN_USE"
    v10.crashdump.destroy(dump)
    assert failure(v10.VDI.get_record, vdi)[0] == "HANDLE_INVALID"


# -- VTPM --------------------------------------------------------------------------------------

def test_a_vtpm_is_refused_naming_the_missing_tpm_backend(root, v10):
    vm = new_vm(v10)
    for api in (v10, root):
        err = failure(api.VTPM.create, {"VM": vm, "backend": ""})
        assert err[:3] == ["VALUE_NOT_SUPPORTED", "VTPM", vm] and "no TPM backend" in err[3]
    assert failure(v10.VTPM.create, {"backend": vm}) == ["FIELD_MISSING", "VM"]
    assert v10.VM.get_VTPMs(vm) == [] and v10.VTPM.get_all() == []


# -- pool ----------------------------------------------------------------------------------------

def test_the_one_pool_is_this_host_s(root, v10, alice):
    host = v10.host.get_all()[0]
    pool, = v10.pool.get_all()
    assert root.pool.get_all() == [pool]
    default = v10.SR.get_by_name_label("Local storage")[0]
    assert v10.pool.get_record(pool) == {
        "uuid": pool, "name_label": "", "name_description": "", "master": host,
        "default_SR": default, "suspend_image_SR": "", "crash_dump_SR": "",
        "other_config": {}}
    v10.pool.set_name_label(pool, "the pool")
    v10.pool.add_to_other_config(pool, "k", "v")
    assert v10.pool.get_name_label(pool) == "the pool"
    assert v10.host.get_name_label(host) != "the pool"          # a name of its own
    assert v10.pool.get_other_config(pool) == {"k": "v"}
    assert v10.host.get_other_config(host).get("k") is None
    v10.pool.remove_from_other_config(pool, "k")
    assert v10.pool.get_other_config(pool) == {}
    for call in ((alice.pool.set_name_label, pool, "x"),
                 (alice.pool.set_default_SR, pool, default),
                 (alice.pool.add_to_other_config, pool, "a", "b")):
        assert failure(*call)[0] == "PERMISSION_DENIED"


def test_the_pool_s_srs_are_the_host_s_and_its_default_sr_takes_crash_dumps(
        daemon, root, v10):
    host = v10.host.get_all()[0]
    pool, = v10.pool.get_all()
    first, other = v10.SR.get_by_name_label("Local storage")[0], new_sr(root)
    v10.pool.set_crash_dump_SR(pool, other)
    assert v10.host.get_crash_dump_sr(host) == other
    v10.host.set_suspend_image_sr(host, other)
    assert v10.pool.get_suspend_image_SR(pool) == other
    v10.pool.set_crash_dump_SR(pool, "")
    v10.pool.set_default_SR(pool, other)
    _, dump = crashed(daemon, v10)                 # no crash_dump_SR: the default SR
    assert v10.VDI.get_SR(v10.crashdump.get_VDI(dump)) == other
    v10.crashdump.destroy(dump)
    assert failure(v10.pool.set_default_SR, pool, "deadbeef")[0] == "HANDLE_INVALID"
    v10.pool.set_default_SR(pool, "")
    assert v10.pool.get_default_SR(pool) == first
    v10.host.set_suspend_image_sr(host, "")


# -- console and VM.suspend_VDI --------------------------------------------------------------------

def test_consoles_as_1_0_declares_them_and_no_suspend_vdi(root, v10):
    vm = new_vm(v10)
    v10.VM.start(vm, False)
    con = v10.VM.get_consoles(vm)[0]
    assert set(v10.console.get_record(con)) == {"uuid", "protocol", "location", "VM",
                                                "other_config"}
    assert root.VM.get_record(vm)["consoles"] == [con]       # draft records keep them
    v10.VM.suspend(vm)
    assert v10.VM.get_suspend_VDI(vm) == "" and root.VM.get_suspend_VDI(vm) == ""
    assert v10.VM.get_record(vm)["suspend_VDI"] == ""
