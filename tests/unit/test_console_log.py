"""console.log's cap and rotation (backend/qemu/console.py's ConsoleLog), on plain files."""

import os

import pytest

from xen.xend.backend.qemu.console import ConsoleLog

CAP = 100


def read(path):
    with open(path, "rb") as f:
        return f.read()


@pytest.mark.parametrize("chunk", [1, 7, CAP, 3 * CAP + 1])
def test_the_log_keeps_the_last_bytes_in_two_generations(tmp_path, chunk):
    stream = bytes(range(256)) * 4
    log = ConsoleLog(str(tmp_path), CAP)
    for start in range(0, len(stream), chunk):
        log.write(stream[start:start + chunk])
    log.close()
    current, previous = read(tmp_path / "console.log"), read(tmp_path / "console.log.1")
    assert 0 < len(current) <= CAP and len(previous) == CAP
    assert stream.endswith(previous + current)


def test_a_log_already_over_the_cap_rotates_at_the_first_write(tmp_path):
    (tmp_path / "console.log").write_bytes(b"x" * (2 * CAP))
    log = ConsoleLog(str(tmp_path), CAP)
    log.write(b"new")
    log.close()
    assert read(tmp_path / "console.log") == b"new"
    assert read(tmp_path / "console.log.1") == b"x" * (2 * CAP)


def test_symlinks_are_never_followed(tmp_path):
    target = tmp_path / "target"
    target.write_bytes(b"precious")
    os.symlink(target, tmp_path / "console.log")
    with pytest.raises(OSError):
        ConsoleLog(str(tmp_path), CAP)
    os.unlink(tmp_path / "console.log")
    os.symlink(target, tmp_path / "console.log.1")     # replaced by a rotation, not written
    log = ConsoleLog(str(tmp_path), CAP)
    log.write(b"y" * (CAP + 1))
    log.close()
    assert target.read_bytes() == b"precious"
    assert read(tmp_path / "console.log.1") == b"y" * CAP



def test_nothing_is_written_into_the_state_reserve(tmp_path):
    """On a small file system of its own, filled by another file down to the reserve."""
    from harness import tmpfs

    from xen.xend.backend.qemu.console import RESERVE_CHECK
    mib = 1 << 20
    with tmpfs(str(tmp_path / "fs"), 4 * mib) as fs:
        log = ConsoleLog(fs, 1 << 30, reserve=2 * mib)
        log.write(b"before")
        with open(os.path.join(fs, "filler"), "wb") as f:
            f.write(b"f" * (2 * mib))       # now the free room is the reserve, or less
        log.write(b"x" * RESERVE_CHECK)     # the next look at the room comes after this
        log.write(b"dropped")
        log.close()
        assert read(os.path.join(fs, "console.log")) == b"before" + b"x" * RESERVE_CHECK
        assert log.dropped == len(b"dropped")
