"""What an administrator sends a QEMU guest to debug it, and QEMU's host-side log.

SysRq keys are typed on the guest's emulated keyboard (QMP ``send-key`` of
alt+sysrq+KEY), which a Linux guest's keyboard driver hands to its SysRq handler.
Triggers are QMP commands: ``inject-nmi`` (QEMU sends the NMI to every vCPU),
``system_reset``, ``system_powerdown``; QEMU cannot send an INIT.

QEMU's host-side log (``dmesg``) is what the host's kernel says about KVM, then
each running guest's ``qemu.log`` (QEMU's own warnings and errors), headed by
the VM and its process.
"""

import os

from xen.xend.host import facts
from xen.xend.util.files import tail_of

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


def host_log(domains):
    """The kernel's KVM lines, then each guest's qemu.log (``domains``: the running
    guests' Domains); the newest DMESG_BYTES of it."""
    parts = ["== host kernel (kvm) ==\n"] + [line + "\n" for line in facts.kernel_log(r"kvm")]
    for dom in sorted(domains, key=lambda d: d.uuid):
        data, _ = tail_of(os.path.join(dom.state_dir, QEMU_LOG), DMESG_BYTES)
        text = data.decode(errors="replace")
        parts.append("== VM %s (qemu pid %d): %s ==\n" % (dom.uuid, dom.pid, QEMU_LOG))
        parts.append(text if not text or text.endswith("\n") else text + "\n")
    return newest("".join(parts))
