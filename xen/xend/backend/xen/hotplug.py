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


# Keys of a device's backend and frontend directories that describe it, as xend's
# device listings showed them.
_BACKEND_KEYS = (b"state", b"frontend", b"params", b"mode", b"type", b"dev", b"mac",
                 b"bridge", b"script")
_FRONTEND_KEYS = (b"event-channel", b"ring-ref", b"tx-ring-ref", b"rx-ring-ref")


def device_properties(xenstore, dom, kind, ref):
    """The xenstore facts of VBD or VIF ``ref`` (``kind`` "vbd" | "vif") of ``dom``:
    its backend path and handle (devid), the backend's keys and the frontend's ring
    and event channel; empty where the domain lacks the device."""
    with dom.lock:
        if kind == "vbd":
            key, value, kinds = b"dev", dom.disks.get(ref), (b"vbd", b"qdisk")
        else:
            key, value, kinds = b"mac", dom.nics.get(ref), (b"vif",)
    if value is None:
        return {}
    for backend_kind in kinds:
        devid = xenstore.backend_values(backend_kind, dom.domid, key).get(value.lower())
        if devid is None:
            continue
        path = xenstore.backend_devices(backend_kind, dom.domid)[devid]
        facts = {"backend-id": "0", "backend": path.decode(), "handle": devid}
        for name in _BACKEND_KEYS:
            facts[name.decode()] = xenstore.read(path + b"/" + name)
        frontend = (facts.get("frontend") or "").encode()
        for name in _FRONTEND_KEYS:
            facts[name.decode()] = frontend and xenstore.read(frontend + b"/" + name)
        return {k: v for k, v in facts.items() if v}
    return {}


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
