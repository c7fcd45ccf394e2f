"""VTPM (Xen-API 1.0): declared so that 1.0 clients find the class, and refused.

Xen 3.1 gave a guest a virtual TPM through the vTPM manager in dom0. No backend of this
daemon has a TPM emulator behind it (QEMU would need swtpm, Xen its vTPM stub domains),
so a VTPM is never made: VTPM.create says why, and VM.VTPMs is empty.
"""

from ..errors import ApiError
from .base import ClassHandler


class VTPMHandler(ClassHandler):
    cls_name = "VTPM"

    def create(self, call, record):
        self.record_from_wire(record, call.revision)   # a bad record is told as such first
        raise ApiError("VALUE_NOT_SUPPORTED", "VTPM", record.get("VM", ""),
                       "this host has no TPM backend: the %s backend gives guests no "
                       "virtual TPM" % self.app.backend.name)
