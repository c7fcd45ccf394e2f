"""What an administrator sends a QEMU guest to debug it, and QEMU's host-side log.

SysRq keys are typed on the guest's emulated keyboard (QMP ``send-key`` of
alt+sysrq+KEY), which a Linux guest's keyboard driver hands to its SysRq handler.
Triggers are QMP commands: ``inject-nmi`` (QEMU sends the NMI to every vCPU),
``system_reset``, ``system_powerdown``; QEMU cannot send an INIT.

QEMU's host-side log (``dmesg``) is what the host's kernel says about KVM, then
each running guest's ``qemu.log`` (QEMU's own warnings and errors, of its present
process), headed by the VM and its process. Neither is QEMU's to empty: a clear
moves a mark past what was read (``DmesgMark``), and later reads start there.
"""

import dataclasses
import os

from xen.xend.host import facts
from xen.xend.util.files import open_own

from ..base import DMESG_BYTES, BackendError, newest
from . import power
from .argv import QEMU_LOG

QMP_TRIGGERS = {"nmi": "inject-nmi", "power": "system_powerdown"}


async def send_sysrq(dom, key):
    """alt+sysrq+``key`` on the guest's keyboard."""
    await dom.qmp("send-key", {"keys": [{"type": "qcode", "data": k}
                                        for k in ("alt", "sysrq", key)]})


async def send_trigger(dom, trigger, vcpu):
    """``trigger`` as its QMP command, a reset as hard_reboot's (``vcpu``: QEMU's NMI
    goes to every vCPU)."""
    if trigger == "reset":
        await power.hard_reboot(dom)
    elif trigger in QMP_TRIGGERS:
        await dom.qmp(QMP_TRIGGERS[trigger])
    else:
        raise BackendError("VALUE_NOT_SUPPORTED", "trigger", trigger,
                           "QEMU cannot send an INIT to a vCPU")


@dataclasses.dataclass
class DmesgMark:
    """Where a cleared host log resumes: the kernel log's last sequence number read, and
    for each guest's process (VM uuid, pid) the offset in qemu.log read up to."""
    kernel: int = -1
    logs: dict = dataclasses.field(default_factory=dict)


def host_log(domains, mark):
    """(the kernel's KVM lines, then each guest's qemu.log, past ``mark``; the mark
    past all of it). ``domains``: the running guests' Domains. The text is the newest
    DMESG_BYTES."""
    kernel = facts.kernel_log(r"kvm", after=mark.kernel)
    after = DmesgMark(kernel[-1][0] if kernel else mark.kernel)
    parts = ["== host kernel (kvm) ==\n"] + [line + "\n" for _, line in kernel]
    for dom in sorted(domains, key=lambda d: d.uuid):
        start = mark.logs.get((dom.uuid, dom.pid), dom.log_start)
        text, after.logs[(dom.uuid, dom.pid)] = _read_from(
            os.path.join(dom.state_dir, QEMU_LOG), start)
        parts.append("== VM %s (qemu pid %d): %s ==\n" % (dom.uuid, dom.pid, QEMU_LOG))
        parts.append(text if not text or text.endswith("\n") else text + "\n")
    return newest("".join(parts)), after


def _read_from(path, start):
    """(the text of ``path`` from offset ``start``, at most its last DMESG_BYTES; the
    offset of its end); ("", start) where there is no such file."""
    try:
        fd = open_own(path, os.O_RDONLY)
    except FileNotFoundError:
        return "", start
    with open(fd, "rb") as f:
        end = os.fstat(fd).st_size
        f.seek(max(start, end - DMESG_BYTES))
        return f.read(end - f.tell()).decode(errors="replace"), end
