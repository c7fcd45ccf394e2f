"""SR_FULL [requested, maximum] (srdrivers.py): a copy of written image data that the SR's
file system has no room for is refused before it starts, and leaves nothing behind.

The file system's free space is what ``util.files.free_bytes`` says; the tests make it small.
(cp's ENOSPC during a copy, when room went meanwhile: tests/integration/test_sr_file.py.)
"""

import os

import pytest

from xen.xend.api.errors import ApiError
from xen.xend.host import srdrivers
from xen.xend.util import files

WRITTEN = 64 * 1024


@pytest.fixture
def sr(tmp_path):
    """A file SR's directory holding one raw image with WRITTEN bytes of data: (dir, leaf)."""
    location = tmp_path / "sr"
    d = srdrivers.driver("file")
    d.attach(str(location))
    leaf = d.create(str(location), "vdi", 1 << 20)
    with open(leaf, "r+b") as f:
        f.write(b"\xab" * WRITTEN)
        f.flush()
    return str(location), leaf


def _room(monkeypatch, free):
    monkeypatch.setattr(files, "free_bytes", lambda path: free)


def test_a_raw_snapshot_without_room_is_sr_full(sr, monkeypatch):
    location, leaf = sr
    _room(monkeypatch, WRITTEN - 1)
    with pytest.raises(ApiError) as e:
        srdrivers.driver("file").snapshot(location, leaf, "snap")
    assert e.value.description == ["SR_FULL", str(srdrivers.allocated(leaf)), str(WRITTEN - 1)]
    assert srdrivers.allocated(leaf) >= WRITTEN
    assert sorted(os.listdir(location)) == ["vdi.raw"]


def test_a_raw_snapshot_with_room_is_made(sr, monkeypatch):
    location, leaf = sr
    _room(monkeypatch, 1 << 30)
    path, _ = srdrivers.driver("file").snapshot(location, leaf, "snap")
    with open(path, "rb") as f:
        assert f.read(WRITTEN) == b"\xab" * WRITTEN


def test_an_sr_clone_without_room_is_sr_full_and_makes_no_directory(sr, tmp_path, monkeypatch):
    location, leaf = sr
    _room(monkeypatch, 1024)
    target = tmp_path / "copy"
    with pytest.raises(ApiError) as e:
        srdrivers.driver("file").clone(location, str(target), [leaf])
    assert e.value.code == "SR_FULL"
    assert int(e.value.description[1]) >= WRITTEN
    assert not target.exists()


def test_spare_bytes_are_the_free_bytes_beyond_the_reserve(tmp_path, monkeypatch):
    """What writers on guests' behalf may still use of the state directory's file system."""
    monkeypatch.setattr(files, "free_bytes", lambda path: 100)
    assert files.spare_bytes(str(tmp_path), 30) == 70
    assert files.spare_bytes(str(tmp_path), 0) == 100
    assert files.spare_bytes(str(tmp_path), 300) == 0


def test_a_copy_leaves_the_reserve_free(sr, monkeypatch):
    location, leaf = sr
    _room(monkeypatch, WRITTEN + 1000)
    with pytest.raises(ApiError) as e:
        srdrivers.driver("file").snapshot(location, leaf, "snap", reserve=1001)
    assert e.value.description == ["SR_FULL", str(srdrivers.allocated(leaf)), str(WRITTEN - 1)]
    assert sorted(os.listdir(location)) == ["vdi.raw"]
