"""xen.xend.host.netdev on the real host: bridges, VLAN devices and taps, and what is left
when making them fails (nothing). Every interface made here has a name of the test's
own and is removed again."""

import os
import shutil
import subprocess
import sys
import textwrap
import uuid

import pytest
from harness import skip_without_taps

from xen.xend.host import netdev

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def _taps():
    skip_without_taps()


def _name(prefix="xt"):
    return prefix + uuid.uuid4().hex[:8]


def test_names_fit_ifnamsiz():
    ref = str(uuid.uuid4())
    for name, prefix in ((netdev.bridge_name(ref), "xenbr-"), (netdev.vlan_name(ref), "xvlan-"),
                         (netdev.tap_name(ref), "xvif")):
        assert len(name) == 15 and name.startswith(prefix)
        assert name[len(prefix):] == ref.replace("-", "")[:15 - len(prefix)]


def test_private_bridge_and_tap():
    bridge, tap = _name("xtbr"), _name("xttap")
    try:
        netdev.ensure_bridge(bridge)
        netdev.ensure_bridge(bridge)              # made once, found the second time
        assert netdev.is_bridge(bridge)
        assert os.listdir("/sys/class/net/%s/brif" % bridge) == []
        fd = netdev.open_tap(tap, bridge, 9000, "52:54:00:0a:0b:0c")
        try:
            assert netdev.master_of(tap) == bridge
            with open("/sys/class/net/%s/address" % tap) as f:
                assert f.read().strip() == "fe:54:00:0a:0b:0c"
            assert netdev.tap_counters(tap) == {"rx_bytes": 0, "tx_bytes": 0}
        finally:
            os.close(fd)
        assert not netdev.exists(tap)             # gone with its last descriptor
        assert netdev.tap_counters(tap) is None
    finally:
        netdev.remove_bridge(bridge)
    assert not netdev.exists(bridge)
    netdev.remove_bridge(bridge)                  # nothing to remove is no error


def test_what_cannot_be_made_leaves_nothing():
    tap = _name("xttap")
    with pytest.raises(netdev.NetdevError, match="Device does not exist"):
        netdev.open_tap(tap, _name("xtnone"), 1500)
    assert not netdev.exists(tap)
    with pytest.raises(netdev.NetdevError, match="not a bridge"):
        netdev.require_bridge("lo")
    with pytest.raises(netdev.NetdevError, match="no interface"):
        netdev.require_bridge(_name("xtnone"))
    with pytest.raises(netdev.NetdevError, match="not a bridge"):
        netdev.ensure_bridge("lo")
    bridge = _name("xtbr")
    with pytest.raises(netdev.NetdevError, match="no interface"):
        netdev.ensure_bridge(bridge, (_name("xtvl"), _name("xtnone"), 5))
    assert not netdev.exists(bridge)


def test_vlan_bridge():
    uplink, bridge, vlan = _name("xtup"), _name("xtbr"), _name("xtvl")
    subprocess.run(["ip", "link", "add", uplink, "type", "bridge"], check=True)
    try:
        try:
            netdev.ensure_bridge(bridge, (vlan, uplink, 42))
        except netdev.NetdevError as e:
            # This kernel has no 802.1Q: the error says so, and nothing is left.
            assert "8021q" in str(e)
            assert not netdev.exists(bridge) and not netdev.exists(vlan)
            return
        assert netdev.master_of(vlan) == bridge
        out = subprocess.run(["ip", "-d", "link", "show", "dev", vlan], capture_output=True,
                             text=True, check=True).stdout
        assert "vlan protocol 802.1Q id 42" in out and "@" + uplink in out
        netdev.remove_bridge(bridge, vlan)
        assert not netdev.exists(bridge) and not netdev.exists(vlan)
    finally:
        netdev.remove_bridge(bridge, vlan)
        subprocess.run(["ip", "link", "del", uplink], check=True)


# A QEMU backend whose process may not administer the network: the start fails with
# a Failure that says why, and leaves no QEMU behind.
_UNPRIVILEGED = textwrap.dedent("""
    import sys, uuid
    from xen.xend.backend.base import BackendError
    from xen.xend.backend.spec import DomainSpec, NicSpec, VMConfig
    from xen.xend.backend.qemu import QemuBackend
    backend = QemuBackend(accel="tcg")
    nic = NicSpec(vif=str(uuid.uuid4()), mac="52:54:00:00:00:01", mtu=1500,
                  driver="paravirtualised", bridge=sys.argv[1])
    spec = DomainSpec(uuid=str(uuid.uuid4()), nics=[nic], state_dir=sys.argv[2],
                      vm=VMConfig(memory_static_max=64 << 20, boot_method="bios"))
    try:
        backend.start(spec, paused=True)
        print("started")
    except BackendError as e:
        print(e.code, *e.params, sep="|")
    backend.close()
""")


def test_without_the_right_to_make_taps(bridge, tmp_path):
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    out = subprocess.run(
        ["setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin", sys.executable,
         "-c", _UNPRIVILEGED, bridge, str(tmp_path / "vm")],
        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    code, field, _, why = out.stdout.strip().split("|")
    assert (code, field) == ("VALUE_NOT_SUPPORTED", "VIF")
    assert "Operation not permitted" in why and "need root" in why
    assert os.listdir("/sys/class/net/%s/brif" % bridge) == []
