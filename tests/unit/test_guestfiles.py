"""Opening guest files: unrestricted for root's paths, without links under roots."""

import os
import subprocess

import pytest

from xen.xend.backend.base import BackendError
from xen.xend.backend.qemu.handover import open_disk
from xen.xend.backend.spec import DiskSpec
from xen.xend.util.guestfiles import PathRefused, open_guest_file


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "boot"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "kernel").write_bytes(b"K")
    secret = tmp_path / "secret"
    secret.write_bytes(b"S")
    return root, secret


def read(fd):
    try:
        return os.pread(fd, 10, 0)
    finally:
        os.close(fd)


def test_under_roots_opens_a_plain_file(tree):
    root, _ = tree
    assert read(open_guest_file(str(root / "sub" / "kernel"), [str(root)])) == b"K"


@pytest.mark.parametrize("where", ["file", "dir"])
def test_a_link_under_a_root_is_refused_like_a_missing_file(tree, where):
    root, secret = tree
    if where == "file":
        os.symlink(secret, root / "link")
        path = root / "link"
    else:
        os.symlink(secret.parent, root / "dirlink")
        path = root / "dirlink" / "secret"
    with pytest.raises(PathRefused) as linked:
        open_guest_file(str(path), [str(root)])
    with pytest.raises(PathRefused) as missing:
        open_guest_file(str(root / "nothing"), [str(root)])
    assert linked.value.reason == missing.value.reason


def test_outside_the_roots_is_refused_whether_or_not_it_exists(tree):
    root, secret = tree
    with pytest.raises(PathRefused) as there:
        open_guest_file(str(secret), [str(root)])
    with pytest.raises(PathRefused) as absent:
        open_guest_file(str(secret) + "-absent", [str(root)])
    assert there.value.reason == absent.value.reason


def test_a_fifo_is_refused_without_hanging(tree):
    root, _ = tree
    os.mkfifo(root / "fifo")
    with pytest.raises(PathRefused):
        open_guest_file(str(root / "fifo"), [str(root)])
    with pytest.raises(PathRefused):
        open_guest_file(str(root / "fifo"))


def test_block_devices_only_unrestricted_and_where_allowed(tree):
    root, secret = tree
    assert read(open_guest_file(str(secret))) == b"S"
    dev = "/dev/loop0" if os.path.exists("/dev/loop0") else None
    if dev is None:
        pytest.skip("no block device to try")
    with pytest.raises(PathRefused):
        open_guest_file(dev)
    os.close(open_guest_file(dev, block_ok=True))


def test_an_image_a_user_adopted_is_opened_under_its_roots_chain_and_all(tree):
    """QEMU's descriptors of such an image (backend/qemu/handover.open_disk): the image
    and each backing file under the roots, without links; root's are unrestricted."""
    root, secret = tree
    base = str(root / "base.raw")
    with open(base, "wb") as f:
        f.truncate(1 << 20)
    top = str(root / "top.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", top],
                   check=True)

    def disk(path, roots, fmt="qcow2"):
        return DiskSpec(vbd="v", path=path, format=fmt, device="xvda", mode="RW",
                        driver="paravirtualised", roots=roots)
    opened = open_disk(disk(top, (str(root),)))
    assert [len(fds) for fds, *_ in opened] == [2, 1]          # the top RW too, the base RO
    for fds, *_ in opened:
        for fd in fds:
            os.close(fd)
    # The file swapped for a link after it was adopted: refused, naming the VDI's path.
    os.symlink(str(secret), str(root / "swapped.raw"))
    with pytest.raises(BackendError) as e:
        open_disk(disk(str(root / "swapped.raw"), (str(root),), "raw"))
    assert e.value.code == "VALUE_NOT_SUPPORTED"
    assert e.value.params[:2] == ["VDI", str(root / "swapped.raw")]
    for fds, *_ in open_disk(disk(str(root / "swapped.raw"), None, "raw")):   # root's
        for fd in fds:
            os.close(fd)
