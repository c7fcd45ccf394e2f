"""lock_holder reads the daemon's own lock file only: a link planted in its place is
no holder, however locked and pid-like the file it points at."""

import fcntl
import os

from xen.xend.daemon.locks import lock_holder


def held_file(path, text):
    """``path`` holding ``text``, locked by an open descriptor (returned)."""
    path.write_text(text)
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_held_lock_names_its_holder(tmp_path):
    fd = held_file(tmp_path / "xend.lock", "4242\n")
    try:
        assert lock_holder(str(tmp_path / "xend.lock")) == 4242
    finally:
        os.close(fd)


def test_a_symlink_to_a_held_file_is_no_holder(tmp_path):
    fd = held_file(tmp_path / "other", "4242\n")
    os.symlink(tmp_path / "other", tmp_path / "xend.lock")
    try:
        assert lock_holder(str(tmp_path / "xend.lock")) is None
    finally:
        os.close(fd)


def test_a_fifo_is_no_holder(tmp_path):
    os.mkfifo(tmp_path / "xend.lock")
    assert lock_holder(str(tmp_path / "xend.lock")) is None
