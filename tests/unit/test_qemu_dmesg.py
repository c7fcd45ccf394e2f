"""QEMU's host-side log (backend/qemu/debug.py): each guest's qemu.log of its present
process, headed by it, the newest 64 KiB; a clear's mark makes the next read start
after what was read."""

import types

from xen.xend.backend.base import DMESG_BYTES
from xen.xend.backend.qemu.debug import DmesgMark, host_log


def _guest(tmp_path, earlier=b""):
    """A Domain as host_log reads it, whose qemu.log holds ``earlier`` (an earlier
    process's output) before its own."""
    (tmp_path / "qemu.log").write_bytes(earlier)
    return types.SimpleNamespace(uuid="vm-1", pid=42, state_dir=str(tmp_path),
                                 log_start=len(earlier))


def _append(tmp_path, data):
    with open(tmp_path / "qemu.log", "ab") as f:
        f.write(data)


def test_a_guests_log_from_its_process_start_then_past_the_mark(tmp_path):
    dom = _guest(tmp_path, earlier=b"old process said this\n")
    _append(tmp_path, b"warning: one\n")
    text, mark = host_log([dom], DmesgMark())
    assert "== VM vm-1 (qemu pid 42): qemu.log ==\nwarning: one\n" in text
    assert "old process" not in text
    _append(tmp_path, b"warning: two\n")
    again, _ = host_log([dom], DmesgMark())          # not cleared: all of it again
    assert "warning: one\nwarning: two\n" in again
    after, _ = host_log([dom], mark)                  # cleared: only what came since
    assert "warning: two\n" in after and "warning: one" not in after


def test_the_newest_64_kib_only(tmp_path):
    dom = _guest(tmp_path)
    _append(tmp_path, b"".join(b"line %06d\n" % i for i in range(20000)))
    text, _ = host_log([dom], DmesgMark())
    assert len(text.encode()) <= DMESG_BYTES
    assert text.endswith("line 019999\n") and text.startswith("line ")
