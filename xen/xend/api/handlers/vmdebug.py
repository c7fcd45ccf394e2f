"""What an administrator does to debug a running guest: dump its memory, send it a
magic SysRq key or a hardware trigger (xend 1.0's VM.send_sysrq and VM.send_trigger).
A mix-in of VMHandler: the checks of the arguments are here, the operation is the
domain owner's (state/domains.py), under the lifecycle table's rows for it."""

import os
import time

from ..errors import ApiError
from ..values import check_path

# The keys of Linux's magic SysRq (Documentation/admin-guide/sysrq.rst): digits set the
# console log level, letters are the commands; "a" is unused.
SYSRQ_KEYS = "0123456789bcdefghijklmnopqrstuvwxyz"

# xend 1.0's triggers (xm trigger): a non-maskable interrupt, a reset of the machine,
# the ACPI power button, an INIT of a vCPU.
TRIGGERS = ("nmi", "reset", "power", "init")

# The directory of core dumps under the state directory, as /var/lib/xen/dump was xm's.
DUMP_DIR = "dump"


class VMDebug:
    """VM.dump_core, VM.send_sysrq and VM.send_trigger, checked."""

    def dump_core(self, call, vm, filename):
        """Write ``vm``'s memory to ``filename`` (absolute, in an existing directory;
        "": STATE_DIR/dump/TIME-NAME.core, as xm named its dumps); returns the path."""
        path = check_path(filename, "filename")
        if not path:
            directory = os.path.join(self.app.state_dir, DUMP_DIR)
            os.makedirs(directory, mode=0o700, exist_ok=True)
            name = self.store.get("VM", vm).get("name_label", "") or vm
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
            path = os.path.join(directory, "%s-%s.core" % (
                time.strftime("%Y-%m%d-%H%M.%S"), safe))
        elif not os.path.isdir(os.path.dirname(path)):
            raise ApiError("INVALID_VALUE", "filename", "%s (no such directory)" % path)
        elif os.path.isdir(path):
            raise ApiError("INVALID_VALUE", "filename", "%s (a directory)" % path)
        self.app.domains.dump_core(vm, path)
        return path

    def send_sysrq(self, call, vm, key):
        if len(key) != 1 or key not in SYSRQ_KEYS:
            raise ApiError("INVALID_VALUE", "key", "%s (must be one of %s)"
                           % (key[:16], SYSRQ_KEYS))
        self.app.domains.send_sysrq(vm, key)

    def send_trigger(self, call, vm, trigger, vcpu=0):
        if trigger not in TRIGGERS:
            raise ApiError("INVALID_VALUE", "trigger", "%s (must be one of %s)"
                           % (trigger[:16], ", ".join(TRIGGERS)))
        vcpus = self.store.get("VM", vm).get("VCPUs_max", 1)
        if not 0 <= vcpu < vcpus:
            raise ApiError("INVALID_VALUE", "vcpu", "%d (must be 0..%d)" % (vcpu, vcpus - 1))
        self.app.domains.send_trigger(vm, trigger, vcpu)
