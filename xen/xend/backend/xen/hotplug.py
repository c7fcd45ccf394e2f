"""Hot-plug and unplug of a running domain's disks and NICs, with xl's block-* and
network-* commands.

Each function takes the Xl runner ``xl``, the Domain ``dom`` and, to see whether a
device is still there, the Xenstore ``xenstore``; it runs under the domain's lock
and keeps ``dom.disks`` / ``dom.nics`` in step with what the domain has.
"""

from ..base import BackendError
from . import config
from .xl import XL_TIMEOUT


def attach_disk(xl, dom, disk, qdisk_ok):
    """``xl block-attach`` the DiskSpec ``disk``; ``qdisk_ok``: a device model is
    there to serve qcow2 images."""
    line = config.disk_line(disk, _type_of(dom), qdisk_ok)
    with dom.lock:
        xl.run("block-attach", str(dom.domid), line)
        dom.disks[disk.vbd] = disk.device


def detach_disk(xl, xenstore, dom, vbd, timeout):
    """``xl block-detach`` the VBD ``vbd``; DEVICE_DETACH_TIMEOUT while the guest
    keeps it beyond ``timeout`` seconds."""
    with dom.lock:
        vdev = dom.disks.get(vbd)
        if vdev is not None:
            _unplug(xl, "VBD", vbd, ["block-detach", str(dom.domid), vdev], timeout,
                    lambda: vdev in xenstore.backend_values(b"vbd", dom.domid, b"dev"))
            del dom.disks[vbd]


def attach_nic(xl, dom, nic):
    """``xl network-attach`` the NicSpec ``nic``."""
    with dom.lock:
        xl.run("network-attach", str(dom.domid),
               *config.nic_line(nic, _type_of(dom)).split(","))
        dom.nics[nic.vif] = nic.mac


def detach_nic(xl, xenstore, dom, vif, timeout):
    """``xl network-detach`` the VIF ``vif`` by its MAC; DEVICE_DETACH_TIMEOUT while
    the guest keeps it beyond ``timeout`` seconds."""
    with dom.lock:
        mac = dom.nics.get(vif)
        if mac is not None:
            _unplug(xl, "VIF", vif, ["network-detach", str(dom.domid), mac], timeout,
                    lambda: mac.lower() in xenstore.backend_values(b"vif", dom.domid,
                                                                   b"mac"))
            del dom.nics[vif]


def _unplug(xl, cls, ref, command, timeout, still_there):
    """Run an xl detach; if it fails while the device is still there, the guest has
    not let go of it in time (libxl gives up after its own timeout)."""
    try:
        xl.run(*command, timeout=timeout + XL_TIMEOUT)
    except BackendError:
        if still_there():
            raise BackendError("DEVICE_DETACH_TIMEOUT", cls, ref, timeout) from None


def _type_of(dom):
    """"hvm" or "pv": the domain type its configuration file names."""
    try:
        with open(dom.config) as f:
            return "hvm" if 'type = "hvm"' in f.read() else "pv"
    except OSError:
        return "pv"
