"""The unprivileged account guests' processes run as, and its access to /dev/kvm.

A daemon running as root runs each guest's QEMU as a system user of its own
(config key ``qemu_user``), made here when missing, with ``kvm`` as its only
supplementary group. Debian's udev makes /dev/kvm ``root:kvm 0660``; where no udev
ran (a container, a minimal install) ``prepare_kvm`` does the same, so that the
QEMU user can use KVM without any other privilege.
"""

import dataclasses
import grp
import logging
import os
import pwd
import stat
import subprocess

log = logging.getLogger("xend.host")

KVM_DEVICE = "/dev/kvm"
KVM_GROUP = "kvm"
NOLOGIN = "/usr/sbin/nologin"


class AccountError(Exception):
    """The account could not be made or read."""


@dataclasses.dataclass(frozen=True)
class Account:
    """Who a process runs as: user and group ids and supplementary groups."""
    name: str
    uid: int
    gid: int
    groups: tuple = ()


def _kvm_gid():
    try:
        return grp.getgrnam(KVM_GROUP).gr_gid
    except KeyError:
        return None


def _make(argv, exists):
    """Run a useradd/groupadd ``argv`` unless ``exists()``; another daemon making the
    same account at the same moment is no error."""
    if exists():
        return
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0 and not exists():
        raise AccountError("%s: %s" % (" ".join(argv), done.stderr.strip()))
    log.info("made %s", argv[-1])


def _user_exists(name):
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def ensure_user(name):
    """The Account of system user ``name``, made (no home, no login shell) when missing,
    with the kvm group as its only supplementary group where that group exists."""
    _make(["useradd", "--system", "--no-create-home", "--shell", NOLOGIN, name],
          lambda: _user_exists(name))
    user = pwd.getpwnam(name)
    kvm = _kvm_gid()
    return Account(name, user.pw_uid, user.pw_gid, () if kvm is None else (kvm,))


def prepare_kvm(device=KVM_DEVICE):
    """Make ``device`` ``root:kvm 0660`` as Debian's udev does, the kvm group made when
    missing; nothing where there is no device. Only widens: a device already
    group-accessible to kvm is left as it is. A failure is logged: QEMU then gets no
    KVM (choose_accel), nothing else."""
    if not os.path.exists(device):
        return
    try:
        _make(["groupadd", "--system", KVM_GROUP], lambda: _kvm_gid() is not None)
        st = os.stat(device)
        kvm = _kvm_gid()
        if st.st_gid != kvm or stat.S_IMODE(st.st_mode) & 0o060 != 0o060:
            os.chown(device, -1, kvm)
            os.chmod(device, stat.S_IMODE(st.st_mode) | 0o060)
            log.info("made %s root:%s 0660 (what udev does)", device, KVM_GROUP)
    except (OSError, AccountError) as err:
        # A read-only /dev (some containers) leaves QEMU on TCG, not the daemon down.
        log.warning("cannot give %s to the %s group: %s", device, KVM_GROUP, err)


def can_read_write(path, account):
    """Whether ``account`` may open ``path`` read-write, by its mode bits (the kernel's
    rule for a user who is not root); False where ``path`` is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if st.st_uid == account.uid:
        bits = 0o600
    elif st.st_gid == account.gid or st.st_gid in account.groups:
        bits = 0o060
    else:
        bits = 0o006
    return st.st_mode & bits == bits
