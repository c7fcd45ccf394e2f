"""A guest's QEMU is contained: an unprivileged user, no capabilities, a seccomp
sandbox, and only the host files the daemon opened and handed it.

These run QEMU as the daemon would as root (the backend makes the QEMU user).
"""

import ctypes
import os
import pwd
import shutil
import subprocess

import pytest
from harness import READY, requires_qemu
from qemutest import wait_console

from xen.xend.backend.base import BackendError
from xen.xend.host import accounts

pytestmark = [pytest.mark.qemu, requires_qemu,
              pytest.mark.skipif(os.geteuid() != 0, reason="QEMU runs as root's daemon's")]

QEMU_USER = "xend-qemu"
_KCMP_FILE = 0
_SYS_KCMP = 312     # x86_64


def status(pid):
    """/proc/PID/status as {field: value}."""
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().decode().split("\0")


def links(pid):
    """{descriptor: what it links to} of process ``pid``."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


def same_open_file(pid, a, b):
    """Whether descriptors ``a`` and ``b`` of ``pid`` are one open file (kcmp): a
    dup of the other, not the same file opened twice."""
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(_SYS_KCMP, pid, pid, _KCMP_FILE, a, b) == 0


def qmp(backend, vm, command, arguments=None):
    """Run a QMP command on ``vm``'s QEMU, through the backend's own monitor."""
    return backend._on_guest(vm, "Running", lambda dom: dom.qmp(command, arguments))


def handed(backend, vm):
    """QEMU's descriptors of the files the daemon handed it in fd sets."""
    return [fd["fd"] for fdset in qmp(backend, vm, "query-fdsets") for fd in fdset["fds"]]


def root_only_copy(src, dst):
    shutil.copyfile(src, dst)
    os.chmod(dst, 0o600)
    return str(dst)


def test_qemu_runs_unprivileged_in_its_sandbox(backend, vms):
    spec = vms.spec()
    pid = backend.start(spec, paused=False)["pid"]
    user = pwd.getpwnam(QEMU_USER)
    fields = status(pid)
    assert fields["Uid"].split() == [str(user.pw_uid)] * 4
    assert fields["Gid"].split() == [str(user.pw_gid)] * 4
    kvm = accounts.ensure_user(QEMU_USER).groups
    assert {int(g) for g in fields["Groups"].split()} <= set(kvm)
    for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert int(fields[cap], 16) == 0, cap
    # The bounding set stays, but no_new_privs means no exec can ever gain from it.
    assert fields["NoNewPrivs"] == "1"
    assert fields["Seccomp"] == "2"       # filter mode: QEMU's -sandbox


def test_guest_files_are_handed_over_never_opened_by_name(backend, vms, linux_spec,
                                                          tiny_guest, tmp_path):
    """A disk chain, a kernel and an initrd root alone may read: the guest boots, and
    QEMU holds them only through descriptors the daemon opened."""
    base = vms.disk(backend, "base")
    leaf = vms.disk(backend, "leaf")
    os.unlink(leaf.path)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base.path,
                    "-F", "qcow2", leaf.path], check=True)
    kernel = root_only_copy(tiny_guest["kernel"], tmp_path / "vmlinux")
    initrd = root_only_copy(tiny_guest["initrd"], tmp_path / "initrd")
    for path in (base.path, leaf.path):
        os.chmod(path, 0o600)
    spec = linux_spec(disks=[leaf], kernel_kernel=kernel, kernel_initrd=initrd)
    pid = backend.start(spec, paused=False)["pid"]
    wait_console(spec, READY)

    guest_files = {base.path, leaf.path, kernel, initrd}
    assert not [a for a in cmdline(pid) if any(path in a for path in guest_files)]
    held = links(pid)
    assert not {kernel, initrd} & set(held.values())     # QEMU has sealed copies
    given = handed(backend, spec.uuid)
    for fd, target in held.items():
        if target in guest_files:
            assert any(same_open_file(pid, fd, mine) for mine in given), (fd, target)
    assert {base.path, leaf.path} <= set(held.values())


def test_an_iso_is_handed_over(backend, vms, tmp_path):
    iso = root_only_copy("/etc/hostname", tmp_path / "boot.iso")
    spec = vms.spec(bios_boot="CDROM", bios_cdrom=iso)
    pid = backend.start(spec, paused=True)["pid"]
    assert not [a for a in cmdline(pid) if iso in a]
    held = links(pid)
    assert [fd for fd, target in held.items() if target == iso]
    for fd, target in held.items():
        if target == iso:
            assert any(same_open_file(pid, fd, mine) for mine in handed(backend, spec.uuid))


@pytest.mark.parametrize("path", ["/etc/shadow", "state-dir"])
def test_qemu_cannot_open_host_files_by_name(backend, vms, path):
    spec = vms.spec()
    backend.start(spec, paused=True)
    if path == "state-dir":
        path = os.path.join(spec.state_dir, "qemu.log")
    with pytest.raises(BackendError) as err:
        qmp(backend, spec.uuid, "blockdev-add", {
            "driver": "file", "node-name": "stolen", "filename": path, "read-only": True})
    assert "Permission denied" in err.value.params[0]


def test_a_boot_file_a_user_named_is_opened_under_its_roots(backend, vms, tiny_guest,
                                                            tmp_path):
    """A kernel outside the roots the domain owner gave, or reached through a link,
    is refused before QEMU runs: the daemon would otherwise read it for the guest."""
    root = tmp_path / "kernels"
    root.mkdir()
    (root / "vmlinux").symlink_to(tiny_guest["kernel"])
    for path in (tiny_guest["kernel"], str(root / "vmlinux")):
        spec = vms.spec(boot_method="kernel_external", kernel_kernel=path)
        spec.host_path_roots = {"kernel/kernel": [str(root)]}
        with pytest.raises(BackendError) as err:
            backend.start(spec, paused=True)
        assert err.value.code == "VALUE_NOT_SUPPORTED"
        assert list(err.value.params[:2]) == ["kernel/kernel", path]
        assert backend.power_state(spec.uuid) is None
