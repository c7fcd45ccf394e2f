"""The nested Xen host itself (tests/xen/xenhost.py): Xen and dom0 work, the daemon's
dependencies are there, and the PV test guest boots with a NIC on xenbr0, a raw disk
(blkback) and a qcow2 disk (served by the Xen device model, qdisk), and goes away on its
own when told to.

The guests here are made by hand with ``xl``, not through the daemon.
"""

import pytest

import xenhost

pytestmark = [pytest.mark.xen, pytest.mark.qemu]

RAW = xenhost.HAND_MADE + "/smoke-idle.img"
QCOW2 = xenhost.HAND_MADE + "/smoke-idle.qcow2"
# name -> (mode, disks, vifs)
GUESTS = {
    "smoke-idle": ("", [RAW + ",raw,xvda,w",
                        "format=qcow2,vdev=xvdb,access=rw,backendtype=qdisk,target=" + QCOW2],
                   ["bridge=" + xenhost.BRIDGE]),
    "smoke-poweroff": ("poweroff", [], []),
}


def _info(host):
    return dict(line.split(":", 1) for line in host.check("xl info").splitlines()
                if ":" in line)


def test_xl_info_reports_xen_4_17(xen_host):
    info = {k.strip(): v.strip() for k, v in _info(xen_host).items()}
    assert info["xen_version"].startswith("4.17"), info["xen_version"]
    assert (info["xen_major"], info["xen_minor"]) == ("4", "17")
    assert "pv" in info["virt_caps"].split()


def test_xl_list_shows_domain0(xen_host):
    lines = xen_host.check("xl list").splitlines()
    assert lines[1].split()[:2] == ["Domain-0", "0"], lines


def test_dom0_python_has_the_daemons_dependencies(xen_host):
    out = xen_host.check(
        "cd %s && PYTHONPATH=%s python3 -c 'import lxml.etree, psutil, daemon, pyxs, "
        "cryptography, tomllib; import xen.xend.api.datamodel as d; print(d.__file__)'"
        % (xen_host.repo_in_dom0, xen_host.repo_in_dom0), timeout=120)
    assert out.strip() == xen_host.repo_in_dom0 + "/xen/xend/api/datamodel.py"


def test_pyxs_reads_the_real_xenstore(xen_host):
    out = xen_host.check("python3 -c 'from pyxs import Client\n"
                         "with Client() as c: print(c.read(b\"/local/domain/0/name\").decode())'")
    assert out.strip() == "Domain-0"


def test_the_daemon_can_reach_qemu_img_and_the_bridge(xen_host):
    assert "qemu-img version" in xen_host.check("qemu-img --version")
    assert xenhost.BRIDGE_ADDRESS in xen_host.check("ip -br addr show " + xenhost.BRIDGE)


@pytest.fixture(scope="module")
def smoke_guests(xen_host):
    """The GUESTS, each created by ``xl create`` at once, in the background (xl builds one
    domain at a time, the boots overlap); destroyed at the end."""
    xen_host.check("mkdir -p %s && truncate -s 64M %s && qemu-img create -q -f qcow2 %s 64M"
                   % (xenhost.HAND_MADE, RAW, QCOW2))
    for name, (mode, disks, vifs) in GUESTS.items():
        config = xen_host.guest_config(name, mode, disks=disks, vifs=vifs)
        xen_host.write_file("%s/%s.cfg" % (xenhost.HAND_MADE, name), config)
        xen_host.check("cd %s && (xl create %s.cfg >%s.create 2>&1; echo $? >%s.rc) "
                       ">/dev/null 2>&1 </dev/null &" % ((xenhost.HAND_MADE,) + (name,) * 3))
    yield
    for name in GUESTS:
        xen_host.run("xl destroy %s" % name)


def _created(host, name, timeout=300):
    """Wait for the background ``xl create`` of ``name``; AssertionError if it failed."""
    rc = host.wait_for("cat %s/%s.rc" % (xenhost.HAND_MADE, name), timeout=timeout,
                       interval=2, what="xl create %s" % name).strip()
    out = host.run("cat %s/%s.create" % (xenhost.HAND_MADE, name))[1]
    assert rc == "0", "xl create %s failed: %s" % (name, out)


def _device_states(host, kind, name):
    """The states of the guest's devices in ``xl block-list`` / ``xl network-list``."""
    lines = host.check("xl %s-list %s" % (kind, name)).splitlines()[1:]
    column = {"block": 3, "network": 4}[kind]     # after Vdev BE handle / Idx BE Mac handle
    return [line.split()[column] for line in lines]


def test_pv_guest_with_disks_and_a_vif_comes_up_and_is_destroyed(xen_host, smoke_guests):
    name = "smoke-idle"
    _created(xen_host, name)
    domid = xen_host.domid(name)
    console = xen_host.wait_guest_ready(name)
    assert "xend-test: ready domid=%d mode= disk=xvda" % domid in console
    assert _device_states(xen_host, "block", name) == ["4", "4"]      # both connected
    assert _device_states(xen_host, "network", name) == ["4"]
    assert "vif%d.0" % domid in xen_host.check("ls /sys/class/net/%s/brif" % xenhost.BRIDGE)
    # The raw disk is blkback's, the qcow2 one the device model's, started for it by xl.
    backends = xen_host.check("xenstore-list /local/domain/0/backend").split()
    assert {"vbd", "qdisk", "vif"} <= set(backends), backends
    assert xen_host.run("pgrep -f 'xen-qemu-system-i386 -xen-domid %d '" % domid)[0] == 0
    # What the guest wrote into xenstore, as a guest agent would.
    pv = xen_host.check("xenstore-ls /local/domain/%d/attr/PVAddons" % domid)
    assert [line.split() for line in pv.splitlines()] == [
        ["MajorVersion", "=", '"1"'], ["MinorVersion", "=", '"0"'],
        ["MicroVersion", "=", '"0"']]
    xen_host.check("xl destroy %s" % name)
    assert xen_host.domid(name) is None
    assert "vif%d.0" % domid not in xen_host.check("ls /sys/class/net")
    assert xen_host.run("pgrep -f 'xen-qemu-system-i386 -xen-domid %d '" % domid)[0] != 0


def test_guest_in_poweroff_mode_goes_away_on_its_own(xen_host, smoke_guests):
    name = "smoke-poweroff"
    _created(xen_host, name)
    xen_host.wait_for("! xl domid %s" % name, timeout=240, interval=2,
                      what="%s to power off" % name)
    assert "xend-test: ready" in xen_host.guest_console(name)
