"""The devices of a VM (VBD, VIF): what creating and deleting one means, which is the
same for both classes: on a halted VM a record; on a resident one a hot-plug into the
guest (or out of it), with the record changed only once the guest has it.

Xen-API 1.0 lets a device stay recorded while it is out of the guest (VBD.unplug,
VIF.unplug) and go back in (plug). The daemon's own data about the device (the store's
private data, never on the wire) says so: ``unplugged`` while the resident guest is
without it, ``status`` the [code, detail] of its last failed attach. Both last as long
as the guest: the domain owner drops them when the VM stops (Domains.forget_unplugged).
"""

from ...backend.base import BackendError
from .. import lifecycle
from ..errors import ApiError
from .base import ClassHandler, new_ref

# status_code of an attach (plug, or a hot-plug by create) that failed; 0 is success.
ATTACH_FAILED = 1


class DeviceHandler(ClassHandler):
    """A class of VM devices, plugged into and out of guests by the domain owner
    (Domains.plug, Domains.unplug)."""

    kind = ""    # the backend's name of the class: "vbd" or "vif"
    computed = {"currently_attached": "_currently_attached", "status_code": "_status_code",
                "status_detail": "_status_detail",
                "runtime_properties": "_runtime_properties",
                "qos_supported_algorithms": "_qos_supported"}

    def _currently_attached(self, ref, rec):
        state = (self.store.get("VM", rec["VM"]) or {}).get("power_state")
        return state in lifecycle.LIVE_STATES and not self.store.private(ref).get("unplugged")

    def _status_code(self, ref, rec):
        return self.store.private(ref).get("status", (0, ""))[0]

    def _status_detail(self, ref, rec):
        return self.store.private(ref).get("status", (0, ""))[1]

    def _runtime_properties(self, ref, rec):
        """The backend's live facts of the attached device, with its ``handle``: the
        number the guest knows it by, which xm of Xen 3.x names a device with
        (network-detach VM HANDLE)."""
        if not self._currently_attached(ref, rec):
            return {}
        props = self.app.domains.device_properties(rec["VM"], self.kind, ref)
        handle = device_number(rec.get("device", ""))
        return dict(props, handle=str(handle)) if handle is not None else props

    def _qos_supported(self, ref, rec):
        return list(self.app.backend.qos_algorithms)

    def check_qos(self, new):
        """qos/algorithm_type is "" or one the backend can apply."""
        algorithm = new.get("qos_algorithm_type", "")
        supported = self.app.backend.qos_algorithms
        if algorithm and algorithm not in supported:
            raise ApiError("VALUE_NOT_SUPPORTED", "qos/algorithm_type", algorithm,
                           "the %s backend applies %s" % (
                               self.app.backend.name,
                               "the QoS algorithms " + ", ".join(supported) if supported
                               else "no QoS algorithm"))

    def plug(self, call, ref):
        """Attach the recorded, unattached device ``ref`` to its VM's resident guest."""
        self.held(call, ref, "attach", self._attach)

    def unplug(self, call, ref):
        """Detach device ``ref`` from its VM's running guest; the record stays."""
        self.held(call, ref, "detach", self._detach)

    def held(self, call, ref, change, work):
        """Run ``work(ref, record)`` on device ``ref`` while holding its VM, once
        ``change`` (a key of lifecycle.STILL) is allowed in the VM's power state."""
        self.require_visible(call, ref)
        self.may_write(call, ref)

        def checked(state):
            rec = self.store.get(self.cls_name, ref)
            if rec is None:      # deleted while we waited for the VM
                raise ApiError("HANDLE_INVALID", self.cls_name, ref)
            lifecycle.require_still(rec["VM"], change, state, self._control(rec["VM"]))
            return work(ref, rec)
        self.app.domains.run_held(self.store.get(self.cls_name, ref)["VM"], checked)

    def _control(self, vm):
        """Whether ``vm`` is a control domain, whose devices are no API's to change."""
        return lifecycle.is_control_domain(self.store.get("VM", vm) or {})

    def _attach(self, ref, rec):
        if not self.store.private(ref).get("unplugged"):
            raise ApiError("OPERATION_NOT_ALLOWED",
                           "%s %s is attached to the guest already" % (self.cls_name, ref))
        try:
            private = self.app.domains.plug(rec["VM"], self.cls_name, ref, rec)
        except (ApiError, BackendError) as e:
            self._set_own(ref, rec["VM"], None, unplugged=True,
                          status=(ATTACH_FAILED, str(ApiError.of(e))))
            raise
        self._set_own(ref, rec["VM"], private)

    def _detach(self, ref, rec):
        if self.store.private(ref).get("unplugged"):
            raise ApiError("OPERATION_NOT_ALLOWED",
                           "%s %s is not attached to the guest" % (self.cls_name, ref))
        private = self.app.domains.unplug(rec["VM"], self.cls_name, ref)
        self._set_own(ref, rec["VM"], private, unplugged=True)

    def _set_own(self, ref, vm, private, **own):
        """Store the daemon's own data of device ``ref`` (``own``) and, unless None, the
        backend's new ``private`` state of its VM ``vm``."""
        with self.store.transaction() as txn:
            txn.set_private(self.cls_name, ref, own)
            if private is not None:
                txn.set_private("VM", vm, private)


    def create(self, call, record):
        """A device of a halted VM is a record; one of a Running or Paused VM is
        hot-plugged first and recorded once the guest has it."""
        self.may_write(call, None)
        stored, bound = self.record_from_wire(record, call.revision)
        ref = new_ref()
        return self.app.domains.run_held(
            stored["VM"], lambda state: self._plug(ref, stored, bound, state))

    def delete(self, call, ref):
        """Deleting a device of a Running VM unplugs it from the guest first."""
        rec = self.store.get(self.cls_name, ref)
        if rec is None:
            raise ApiError("HANDLE_INVALID", self.cls_name, ref)
        self.may_write(call, ref)
        self.app.domains.run_held(
            rec["VM"], lambda state: self._unplug(call, ref, rec["VM"], state))

    def _plug(self, ref, stored, bound, state):
        """Create device ``ref`` of a VM in ``state``: the record alone on a halted VM;
        on a resident one the hot-plug first and the record (with the backend's new
        private state, if any) only once that succeeded; should the commit fail, the
        device is unplugged again."""
        vm = stored["VM"]
        lifecycle.require_still(vm, "plug", state, self._control(vm))
        if state != lifecycle.HALTED:
            with self.store.transaction() as txn:
                # Refuse before touching the guest; normalises ``stored`` (a VIF's MAC).
                self.validate(txn, ref, None, stored)
            domains = self.app.domains
            private = domains.plug(vm, self.cls_name, ref, stored)
            try:
                with self.store.transaction() as txn:
                    self.insert(txn, ref, stored, bound)
                    if private is not None:
                        txn.set_private("VM", vm, private)
            except BaseException:
                domains.unplug(vm, self.cls_name, ref)
                raise
            return ref
        with self.store.transaction() as txn:
            self.insert(txn, ref, stored, bound)
        return ref

    def _unplug(self, call, ref, vm, state):
        """Delete device ``ref`` of ``vm``, a VM in ``state``; on a Running VM only once
        the domain owner took it out of the guest."""
        rec = self.store.get(self.cls_name, ref)
        if rec is None or rec["VM"] != vm:   # deleted or moved while we waited for the VM
            raise ApiError("HANDLE_INVALID", self.cls_name, ref)
        lifecycle.require_still(vm, "unplug", state, self._control(vm))
        private = None
        if state == lifecycle.RUNNING:
            private = self.app.domains.unplug(vm, self.cls_name, ref)
        with self.store.transaction() as txn:
            self.remove(call, txn, ref)
            if private is not None:
                txn.set_private("VM", vm, private)


# Linux's block device majors by name prefix, and how many minors each disk spans.
_DISK_MAJORS = (("xvd", 202, 16), ("sd", 8, 16), ("hd", 3, 64))


def device_number(device):
    """The number a guest knows a device by: a NIC's index (eth1: 1), a disk's Linux
    device number (xvda: 51712, hdc: 5632); None for a name of neither form."""
    if device.startswith("eth") and device[3:].isdigit():
        return int(device[3:])
    for prefix, major, minors in _DISK_MAJORS:
        letter = device[len(prefix):]
        if device.startswith(prefix) and len(letter) == 1 and "a" <= letter <= "z":
            index = ord(letter) - ord("a")
            if prefix == "hd" and index >= 2:    # hdc and hdd: the second IDE channel
                return (22 << 8) | ((index - 2) * minors)
            return (major << 8) | (index * minors)
    return None
