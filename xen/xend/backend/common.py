"""What the hypervisor backends share: the checks made before a guest starts, the BIOS
boot letters, the daemon-only files guests' state goes into, the lookup of a guest a
backend runs, and the asyncio loop thread that serves a backend's guests."""

import asyncio
import os
import threading

from ..util.files import open_own
from ..util.guestfiles import PathRefused, open_guest_file
from .base import BackendError

# bios/boot -> the firmware's boot device letter (QEMU's -boot order, xl's boot).
BIOS_BOOT = {"floppy": "a", "HD": "c", "CDROM": "d"}


def boot_files(vm):
    """The host files the daemon-side hypervisor (QEMU, and the simulated one) opens to
    boot ``vm``: (API field, path, whether a block device will do) for kernel/kernel
    and kernel/initrd (kernel_external) or bios/cdrom (bios), where set."""
    method = vm.boot_method
    if method == "kernel_external":
        files = [("kernel/kernel", vm.kernel_kernel, False),
                 ("kernel/initrd", vm.kernel_initrd, False)]
    elif method == "bios":
        files = [("bios/cdrom", vm.bios_cdrom, True)]
    else:
        files = []
    return [f for f in files if f[1]]


def check_host_files(spec, files):
    """VALUE_NOT_SUPPORTED [field, path, reason] for the first of ``files`` (a backend's
    boot_files of ``spec.vm``: (API field, path, whether a block device will do)) that
    cannot be opened as the guest's file: opened the way util.guestfiles opens it for
    the hypervisor (under ``spec.host_path_roots[field]`` where a user other than root
    named it), then closed.

    Called at start, before the hypervisor runs: VM.create and set accept a path
    whose file comes later, and without this check the hypervisor's own failure
    would come back as INTERNAL_ERROR. For a path under roots the reason is the
    same whether the file is missing, is not a regular file or is reached through a
    symbolic link planted after it was set.
    """
    for field, path, block_ok in files:
        roots = spec.host_path_roots.get(field)
        try:
            os.close(open_guest_file(path, roots, block_ok=block_ok))
        except PathRefused as e:
            raise BackendError("VALUE_NOT_SUPPORTED", field, path, e.reason) from None


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


class LoopThread:
    """An asyncio event loop running in its own daemon thread."""

    def __init__(self, name):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @staticmethod
    async def _cancel_the_rest():
        me = asyncio.current_task()
        rest = [task for task in asyncio.all_tasks() if task is not me]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    def in_loop_thread(self):
        """True when called from the loop's own thread."""
        return threading.current_thread() is self._thread

    def run(self, coro):
        """Run ``coro`` on the loop and return its result (blocks the caller)."""
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError("blocking call from the QMP loop thread would deadlock")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self):
        """Stop the loop and wait for its thread. Tasks still pending are cancelled and
        run to their end first: none is destroyed pending."""
        self.run(self._cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()
