"""``--backend auto``: xen in a Xen dom0, qemu wherever QEMU is installed, sim otherwise;
a named backend is taken as named."""

import shutil

import pytest

from xen.xend.daemon import app


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A host whose Xen capabilities file and installed programs the test decides."""
    capabilities = tmp_path / "capabilities"
    monkeypatch.setattr(app, "XEN_CAPABILITIES", str(capabilities))
    installed = set()
    monkeypatch.setattr(shutil, "which",
                        lambda prog: "/usr/bin/" + prog if prog in installed else None)
    return capabilities, installed


def test_auto_picks_qemu_where_it_is_installed(host):
    _, installed = host
    installed.add("qemu-system-x86_64")
    assert app.choose_backend("auto") == "qemu"


def test_auto_falls_back_to_sim_without_qemu(host):
    assert app.choose_backend("auto") == "sim"


def test_auto_picks_xen_in_dom0_only(host):
    capabilities, installed = host
    installed.add("qemu-system-x86_64")
    capabilities.write_text("")                 # a Xen guest (domU): not the control domain
    assert app.choose_backend("auto") == "qemu"
    capabilities.write_text("control_d\n")
    assert app.choose_backend("auto") == "xen"


@pytest.mark.parametrize("name", ["sim", "qemu", "xen"])
def test_a_named_backend_is_taken_as_named(host, name):
    assert app.choose_backend(name) == name
