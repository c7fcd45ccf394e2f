"""Networks on QEMU: private networks (a bridge the daemon makes), host bridges, VLANs,
the VIFs' tap devices and their counters, and what is left after stops and failures.

Test traffic stays on bridges with no host interface in them, between link-local
addresses: nothing leaves the machine. Bridges and taps are found by the names
docs/api.md gives them.
"""

import subprocess
import uuid

import pytest
from harness import (
    EVENT_WAIT,
    console,
    failure,
    new_no_os_vm,
    new_tiny_vm,
    qemu_pids,
    requires_qemu,
    skip_without_taps,
    tiny_args,
    unique,
    wait_ready,
    wait_until,
)
from qemuapi import link_exists, master, ports, private_bridge, tap, vlan_device

pytestmark = [pytest.mark.qemu, requires_qemu]


@pytest.fixture(autouse=True)
def _taps():
    skip_without_taps()


def _vif(api, vm, net, **fields):
    return api.VIF.create(dict({"VM": vm, "network": net, "device": "eth0", "MAC": ""},
                               **fields))


def test_two_guests_on_a_private_network_ping_each_other(api, qemu_daemon, tiny_guest):
    net = api.network.create({"name_label": unique("private")})
    addresses = ("169.254.77.1", "169.254.77.2")
    vms, vifs = [], []
    for me, peer in (addresses, addresses[::-1]):
        args = tiny_args(tiny_guest, "ping") + " xend.ip=%s/16 xend.peer=%s" % (me, peer)
        vm = new_tiny_vm(api, tiny_guest, "ping", kernel_args=args)
        vifs.append(_vif(api, vm, net))
        vms.append(vm)
    for vm in vms:
        api.VM.start(vm, False)
    bridge = private_bridge(net)
    assert ports(bridge) == sorted(tap(v) for v in vifs)    # no host interface in it
    for vm, peer in zip(vms, addresses[::-1]):
        wait_ready(qemu_daemon, vm)
        wait_until(lambda: "xend-test: ping %s ok" % peer in console(qemu_daemon, vm),
                   EVENT_WAIT, "a ping reply from %s on the console of %s" % (peer, vm))
    # The guests keep pinging: both VIFs count traffic in and out.
    for vif in vifs:
        wait_until(lambda: all(api.VIF.get_record(vif)[f] > 0 for f in (
            "network_read_kbs", "network_write_kbs", "IO_bandwidth_incoming_kbs",
            "IO_bandwidth_outgoing_kbs")), EVENT_WAIT, "VIF %s to count traffic" % vif)

    for vm in vms:
        api.VM.hard_shutdown(vm)
    assert not any(link_exists(tap(v)) for v in vifs)
    assert ports(bridge) == []
    assert failure(api.network.destroy, net)[0] == "OBJECT_IN_USE"
    for vm in vms:
        api.VM.destroy(vm)
    api.network.destroy(net)
    assert not link_exists(bridge)


def test_a_host_bridge(api, host_bridge):
    net = api.network.create({"name_label": unique("host"), "NIC": host_bridge})
    vm = new_no_os_vm(api)
    vif = _vif(api, vm, net, MTU="1400")
    api.VM.start(vm, False)
    assert master(tap(vif)) == host_bridge
    with open("/sys/class/net/%s/mtu" % tap(vif)) as f:
        assert f.read().strip() == "1400"
    assert not link_exists(private_bridge(net))
    # While a VM uses it, where the network leads stays as it is.
    assert failure(api.network.set_NIC, net, "")[0] == "OPERATION_NOT_ALLOWED"
    api.VM.hard_shutdown(vm)
    assert not link_exists(tap(vif))
    api.VM.destroy(vm)
    api.network.destroy(net)
    assert link_exists(host_bridge)                # the administrator's, not the daemon's


@pytest.mark.parametrize("nic", ["xtnobr0", "lo"])
def test_a_nic_that_is_no_bridge(api, nic):
    net = api.network.create({"name_label": unique("bad"), "NIC": nic})
    vm = new_no_os_vm(api)
    vif = _vif(api, vm, net)
    d = failure(api.VM.start, vm, False)
    assert d[:3] == ["VALUE_NOT_SUPPORTED", "network/NIC", nic], d
    assert api.VM.get_power_state(vm) == "Halted" and qemu_pids(vm) == []
    assert not link_exists(tap(vif))


def _kernel_has_vlans(bridge):
    probe = "xtvl" + uuid.uuid4().hex[:8]
    made = subprocess.run(["ip", "link", "add", "link", bridge, "name", probe, "type", "vlan",
                           "id", "4000"], capture_output=True).returncode == 0
    if made:
        subprocess.run(["ip", "link", "del", probe], check=True)
    return made


@pytest.mark.parametrize("through", ["network", "PIF.create_VLAN"])
def test_a_vlan_network(api, host_bridge, through):
    if through == "network":
        net = api.network.create({"name_label": unique("vlan"), "NIC": host_bridge,
                                  "VLAN": "42"})
    else:   # Xen-API 1.0's way: the network connected through a VLAN PIF
        net = api.network.create({"name_label": unique("vlan")})
        pif = api.PIF.create_VLAN(host_bridge, net, api.host.get_all()[0], "42")
        assert api.network.get_PIFs(net) == [pif]
    vm = new_no_os_vm(api)
    vif = _vif(api, vm, net)
    bridge, vlan = private_bridge(net), vlan_device(net)
    if not _kernel_has_vlans(host_bridge):
        d = failure(api.VM.start, vm, False)
        assert d[:3] == ["VALUE_NOT_SUPPORTED", "network/VLAN", "42"] and "8021q" in d[3], d
        assert api.VM.get_power_state(vm) == "Halted" and qemu_pids(vm) == []
        assert not any(link_exists(x) for x in (bridge, vlan, tap(vif)))
        return
    api.VM.start(vm, False)
    assert master(tap(vif)) == bridge and master(vlan) == bridge
    out = subprocess.run(["ip", "-d", "-j", "link", "show", "dev", vlan], capture_output=True,
                         text=True, check=True).stdout
    assert '"id":42' in out.replace(" ", "") and host_bridge in out
    api.VM.hard_shutdown(vm)
    api.VM.destroy(vm)
    if through != "network":
        api.PIF.destroy(pif)           # disconnected: the daemon's bridge and VLAN go
        assert not link_exists(bridge) and not link_exists(vlan)
    api.network.destroy(net)
    assert not link_exists(bridge) and not link_exists(vlan)


def test_a_failed_start_leaves_no_tap(api, qemu_daemon, tiny_guest, tmp_path):
    net = api.network.create({"name_label": unique("fail")})
    garbage = tmp_path / "not-a-kernel"       # there and readable: QEMU itself refuses it
    garbage.write_bytes(b"\0" * 4096)
    vm = new_tiny_vm(api, tiny_guest, kernel_kernel=str(garbage))
    vif = _vif(api, vm, net)
    d = failure(api.VM.start, vm, False)        # QEMU had the tap, then could not boot
    assert d[0] == "INTERNAL_ERROR" and "kernel" in d[1], d
    assert api.VM.get_power_state(vm) == "Halted" and qemu_pids(vm) == []
    assert not link_exists(tap(vif))
    assert ports(private_bridge(net)) == []
