"""A VM.clone that fails part-way leaves nothing behind: no VM, VBD or VDI records
and no image files of the snapshots it had already made.

In process, on a real daemon object (sim backend, real qcow2 images in a real SR
directory): the failure is injected at the second disk's snapshot and at the
records' commit, the two places a clone can fail after making files."""

import os

import pytest
from harness import ROOT_PEER as ROOT

from xen.xend.api.errors import ApiError
from xen.xend.api.handlers.storage import VBDHandler, VDIHandler
from xen.xend.daemon import config as configmod
from xen.xend.daemon.app import Xend

MIB = 1024 * 1024


@pytest.fixture
def app(tmp_path):
    cfg = configmod.load(None, {"state_dir": str(tmp_path / "state"), "backend": "sim",
                                "socket": "none", "listen": "none"})
    app = Xend(cfg)
    app.test_session = app.sessions.login("root", "", "", ROOT)
    yield app
    app.close()


def call(app, name, *args):
    reply = app.dispatcher.dispatch(name, (app.test_session,) + args, ROOT)
    assert reply["Status"] == "Success", reply
    return reply["Value"]


def failure(app, name, *args):
    reply = app.dispatcher.dispatch(name, (app.test_session,) + args, ROOT)
    assert reply["Status"] == "Failure", reply
    return reply["ErrorDescription"]


@pytest.fixture
def two_disk_vm(app, tmp_path):
    sr_dir = tmp_path / "sr"
    sr = call(app, "SR.create", {"name_label": "sr", "location": str(sr_dir)})
    vm = call(app, "VM.create", {"name_label": "orig", "memory_static_max": str(64 * MIB),
                                 "memory_dynamic_max": str(64 * MIB),
                                 "memory_dynamic_min": str(64 * MIB),
                                 "memory_static_min": str(16 * MIB)})
    for device in ("xvda", "xvdb"):
        vdi = call(app, "VDI.create", {"SR": sr, "name_label": device,
                                       "virtual_size": str(MIB)})
        call(app, "VBD.create", {"VM": vm, "VDI": vdi, "device": device, "mode": "RW",
                                 "driver": "paravirtualised"})
    return vm, sr_dir


def inventory(app, sr_dir):
    """What a clone makes: records of each class, and the SR directory's files."""
    counts = {cls: len(call(app, cls + ".get_all")) for cls in ("VM", "VBD", "VDI")}
    files = sorted(os.path.relpath(os.path.join(d, f), sr_dir)
                   for d, _, names in os.walk(sr_dir) for f in names)
    return counts, files


def test_a_failed_second_snapshot_removes_the_first(app, two_disk_vm, monkeypatch):
    vm, sr_dir = two_disk_vm
    before = inventory(app, sr_dir)
    real = VDIHandler.snapshot_files
    made = []

    def second_fails(self, vdi):
        if made:
            raise ApiError("SR_FULL", "1", "0")
        made.append(real(self, vdi))
        return made[-1]

    monkeypatch.setattr(VDIHandler, "snapshot_files", second_fails)
    assert failure(app, "VM.clone", vm, "copy")[0] == "SR_FULL"
    assert made, "the first disk was snapshotted before the failure"
    assert inventory(app, sr_dir) == before


def test_a_failed_commit_removes_every_snapshot(app, two_disk_vm, monkeypatch):
    vm, sr_dir = two_disk_vm
    before = inventory(app, sr_dir)

    def refuse(self, txn, ref, record):
        raise ApiError("INVALID_VALUE", "VBD", "injected")

    monkeypatch.setattr(VBDHandler, "insert", refuse)
    assert failure(app, "VM.clone", vm, "copy")[0] == "INVALID_VALUE"
    assert inventory(app, sr_dir) == before
