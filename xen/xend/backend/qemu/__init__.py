"""The QEMU backend: every running guest is a qemu-system-x86_64 process driven over QMP.

============  =====================================================================
module        holds
============  =====================================================================
backend       QemuBackend, the Backend contract: each call runs on the QMP loop
domain        Domain, one process as the backend knows it; Domain.qmp, every QMP call
process       Processes: launch, watch, exit, kill, reattach (find again); the taps
events        QMP events -> guest events (GUEST_*), and the thread that reports them
console       the serial console's reader: its bytes to subscribers, console.log capped
power         start, clean/hard shutdown and reboot
suspend       suspend and resume (migration streams in state files), core dumps
migrate       live migration to another host: receive, send, finish
hotplug       hot-plug and unplug of disks and NICs, a disk's snapshot overlay
counters      metrics: vCPU time, memory, disk and NIC counters
argv          the QEMU command line and device names built from a DomainSpec (pure)
handover      the files and sockets QEMU is handed as descriptors (it opens none by name)
qmp           the asyncio loop thread and thin QMP sessions (qemu.qmp), no guest logic
============  =====================================================================
"""

from .backend import QemuBackend

__all__ = ["QemuBackend"]
