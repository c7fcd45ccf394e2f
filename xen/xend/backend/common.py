"""What the hypervisor backends share: the checks made before a guest starts, the BIOS
boot letters, the daemon-only files guests' state goes into, and the lookup of a guest a
backend runs."""

import os
import stat

from ..util.files import open_own
from .base import BackendError

# bios/boot -> the firmware's boot device letter (QEMU's -boot order, xl's boot).
BIOS_BOOT = {"floppy": "a", "HD": "c", "CDROM": "d"}


def check_host_files(files):
    """VALUE_NOT_SUPPORTED [field, path, reason] for the first of ``files`` (a backend's
    boot_files: (API field, path, whether a block device will do)) that is not there as
    a readable regular file (or block device, where one will do).

    Called at start, before the hypervisor runs: VM.create and set accept a path
    whose file comes later, and without this check the hypervisor's own failure
    would come back as INTERNAL_ERROR.
    """
    for field, path, block_ok in files:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            reason = "no such file on the host"
        except OSError as err:
            reason = err.strerror
        else:
            if not (stat.S_ISREG(st.st_mode) or (block_ok and stat.S_ISBLK(st.st_mode))):
                reason = ("not a regular file or block device" if block_ok
                          else "not a regular file")
            elif not os.access(path, os.R_OK):
                reason = "not readable by the daemon"
            else:
                continue
        raise BackendError("VALUE_NOT_SUPPORTED", field, path, reason)


def check_memory_fits(vm, host_total):
    """VALUE_NOT_SUPPORTED [memory/static_max, value, reason] when memory/static_max
    exceeds ``host_total``, the host's memory in bytes (0: unknown, nothing checked).

    The bound is the host's total, not what is free now: QEMU reserves the guest's RAM
    at start but the kernel only backs the pages the guest touches, so a guest may be
    started while memory is in use; one larger than the whole host never fits.
    """
    size = vm.memory_static_max
    if host_total and size > host_total:
        raise BackendError("VALUE_NOT_SUPPORTED", "memory/static_max", str(size),
                           "more than the host's memory (%d bytes)" % host_total)


def create_private_file(path, text=""):
    """Create (or empty) ``path`` holding ``text``, readable by the daemon only;
    INTERNAL_ERROR if that cannot be done.

    Guest memory and guest configurations go into such files. An existing file is made
    private as well: O_TRUNC keeps the mode it had.
    """
    try:
        fd = open_own(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        with os.fdopen(fd, "w") as f:
            os.fchmod(fd, 0o600)
            f.write(text)
    except OSError as err:
        raise BackendError("INTERNAL_ERROR", f"cannot create {path}: {err.strerror}")


def running_guest(domains, uuid, expected):
    """``domains[uuid]``, a backend's record of the guest of VM ``uuid``;
    VM_BAD_POWER_STATE [uuid, expected, Halted] when the backend runs no such guest."""
    dom = domains.get(uuid)
    if dom is None:
        raise BackendError("VM_BAD_POWER_STATE", uuid, expected, "Halted")
    return dom
