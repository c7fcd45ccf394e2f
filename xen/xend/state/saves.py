"""Save a guest to a file the administrator names, and restore it from one: the domain
owner's part (a mix-in of state/domains.py's Domains) that stops and starts the guest
through the backend's suspend and resume. The file's layout is state/savefile.py's.

The backend writes and reads its state stream in the VM's own directory
(``saved.state``); the daemon copies it into the named file after the header, and out
of it again for a restore. The same name both ways lets a backend that keeps notes of
its own next to a stream it wrote (QEMU's machine type and PCI slots) find them again
on the daemon that saved it; elsewhere it builds the guest from the VM's devices alone.
"""

import logging
import os

from ..api import lifecycle
from ..api.errors import ApiError
from ..backend.base import BackendError
from ..util.files import unlink_if_exists
from . import savefile

log = logging.getLogger("xend.domains")

# The VM fields a save file leaves out: what the VM is now, not what it is (nor the
# facts of its guest, domains.GUEST_KEYS).
_NOT_SAVED = ("power_state", "resident_on")


def check_save_path(filename):
    """``filename`` if it is an absolute path, else INVALID_VALUE [filename, ...]."""
    if not filename or not os.path.isabs(filename) or "\0" in filename:
        raise ApiError("INVALID_VALUE", "filename", "%s (must be an absolute path)" % filename)
    return os.path.normpath(filename)


class SavedGuests:
    """VM.save and the guest's part of VM.restore."""

    def saved_stream(self, vm):
        return os.path.join(self.vm_dir(vm), "saved.state")

    def saved_header(self, vm):
        """The header of ``vm``'s save file: its record and devices, as stored now."""
        from .domains import GUEST_KEYS  # here: domains.py is made of this mix-in
        rec = {k: v for k, v in self.store.get("VM", vm).items()
               if k not in _NOT_SAVED + GUEST_KEYS}
        vbds = []
        for vbd in self.store.referrers("VBD", "VM", vm):
            vbd_rec = self.store.get("VBD", vbd)
            vbds.append({"ref": vbd, "record": vbd_rec, "vdi": vbd_rec["VDI"],
                         "path": self.store.private(vbd_rec["VDI"]).get("path", "")})
        vifs = []
        for vif in self.store.referrers("VIF", "VM", vm):
            vif_rec = self.store.get("VIF", vif)
            net = self.store.get("network", vif_rec["network"]) or {}
            vifs.append({"ref": vif, "record": vif_rec, "network": vif_rec["network"],
                         "network_name": net.get("name_label", "")})
        return {"backend": self.app.backend_name, "vm": {"uuid": vm, "record": rec},
                "vbds": vbds, "vifs": vifs}

    def save(self, vm, filename):
        """Save ``vm``'s guest (Running or Paused) into the new file ``filename`` and
        leave the VM Halted. A file already there is never overwritten. If the file
        cannot be written once the guest is stopped, the guest is resumed as it was."""
        path = check_save_path(filename)

        def work():
            if any(self.store.private(ref).get("unplugged") for cls in ("VBD", "VIF")
                   for ref in self.store.referrers(cls, "VM", vm)):
                # The file's guest would lack a device that its VM's restore gives it.
                raise ApiError("OPERATION_NOT_ALLOWED", "a device of VM %s is unplugged "
                               "from its guest: plug it or delete it before VM.save" % vm)
            paused = self.store.get("VM", vm).get("power_state") == lifecycle.PAUSED
            header = self.saved_header(vm)
            try:
                fd = savefile.create(path)
            except FileExistsError:
                raise ApiError("INVALID_VALUE", "filename",
                               "%s (exists: a save never overwrites a file)" % path) from None
            except OSError as e:
                raise ApiError("INVALID_VALUE", "filename", "%s (%s)" % (path, e.strerror))
            self._made_vm_dir(vm)
            stream = self.saved_stream(vm)
            try:
                self.backend.suspend(vm, False, stream)
                try:
                    savefile.write(fd, header, stream)
                except OSError as e:
                    self._resume_unsaved(vm, stream, paused)
                    raise ApiError("INVALID_VALUE", "filename", "%s (%s)"
                                   % (path, e.strerror)) from None
            except BaseException:
                unlink_if_exists(path)
                raise
            finally:
                os.close(fd)
                unlink_if_exists(stream)
            return {}
        self.run(vm, "save", work)

    def _resume_unsaved(self, vm, stream, paused):
        """The guest was saved to ``stream`` but the file could not be written: bring it
        back, its new private state stored (run() then restores the power state)."""
        try:
            private = self.backend.resume(self.spec(vm), stream, paused)
        except BackendError as e:
            log.error("VM %s: the save file could not be written, and resuming the guest "
                      "failed: %s", vm, e)
            return
        self._set_state(vm, lifecycle.PAUSED if paused else lifecycle.RUNNING, private)

    def restore_guest(self, vm, path, offset, length, paused):
        """Run ``vm`` (Halted, its devices in place) from the stream of the save file
        ``path`` (``length`` bytes at ``offset``). VM_SAVE_FILE_INVALID when the backend
        cannot load it: the VM stays Halted."""
        stream = self.saved_stream(vm)

        def work():
            self._made_vm_dir(vm)
            try:
                savefile.extract(path, offset, length, stream)
            except (OSError, savefile.SaveFileError) as e:
                raise ApiError("VM_SAVE_FILE_INVALID", path, str(e)) from None
            with self._starting_with_disks(vm) as spec:
                self.make_bridges(self._vifs_of(vm))
                try:
                    return self.backend.resume(spec, stream, paused)
                except BackendError as e:
                    if e.code in ("VM_STATE_FILE_CORRUPT", "VM_STATE_FILE_MISSING"):
                        raise ApiError("VM_SAVE_FILE_INVALID", path,
                                       "the %s backend cannot load its guest state"
                                       % self.app.backend_name) from None
                    raise
        try:
            self.run(vm, "restore", work, paused)
        finally:
            unlink_if_exists(stream)
