"""The nested Xen host itself (tests/xen/xenhost.py): Xen and dom0 work and the daemon's
dependencies are there. What the PV test guest does on it (boot with a NIC on xenbr0, a
raw disk served by blkback and a qcow2 one by the device model; power off on its own) is
tested through the daemon in test_xen_backend.py, which saves the tier two guest boots.
"""

import pytest
import xenhost

pytestmark = [pytest.mark.xen, pytest.mark.qemu]

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
        "cryptography, tomllib, qemu.qmp; import xen.xend.api.datamodel as d; print(d.__file__)'"
        % (xen_host.repo_in_dom0, xen_host.repo_in_dom0), timeout=120)
    assert out.strip() == xen_host.repo_in_dom0 + "/xen/xend/api/datamodel.py"


def test_pyxs_reads_the_real_xenstore(xen_host):
    out = xen_host.check("python3 -c 'from pyxs import Client\n"
                         "with Client() as c: print(c.read(b\"/local/domain/0/name\").decode())'")
    assert out.strip() == "Domain-0"


def test_the_daemon_can_reach_qemu_img_and_the_bridge(xen_host):
    assert "qemu-img version" in xen_host.check("qemu-img --version")
    assert xenhost.BRIDGE_ADDRESS in xen_host.check("ip -br addr show " + xenhost.BRIDGE)
