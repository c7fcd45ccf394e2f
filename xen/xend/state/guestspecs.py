"""What a backend is given to build a guest (backend/spec.py's DomainSpec), made from the
store's records: the domain owner's part that reads records and checks them against
the backend, and never changes a guest (a mix-in of state/domains.py's Domains, whose
``store``, ``app`` and ``backend`` it reads)."""

from ..api import datamodel
from ..api.errors import ApiError
from ..backend.spec import DiskSpec, DomainSpec, NicSpec, VMConfig
from ..host import netdev, srdrivers


class GuestSpecs:
    """The DomainSpec of a VM and the DiskSpec/NicSpec of its devices."""

    def spec(self, vm):
        """What the backend needs to build ``vm``: the VM fields it acts on and its
        devices, all from the store. VDI_IN_USE where one of its disks may not be
        attached now."""
        rec = self.store.get("VM", vm)
        return DomainSpec(uuid=vm, vm=VMConfig.from_record(rec),
                          disks=[self.disk_spec(vbd, self.store.get("VBD", vbd))
                                 for vbd in self._plugged(vm, "VBD")],
                          nics=[self.nic_spec(vif, self.store.get("VIF", vif))
                                for vif in self._plugged(vm, "VIF")],
                          state_dir=self.vm_dir(vm),
                          host_path_roots=self.host_path_roots(rec))

    def _plugged(self, vm, cls):
        """``vm``'s devices of ``cls`` but those VBD.unplug or VIF.unplug took out of its
        guest: a suspended guest resumes, and a Xen guest reboots, without them."""
        return [ref for ref in self.store.referrers(cls, "VM", vm)
                if not self.store.private(ref).get("unplugged")]

    def host_path_roots(self, rec):
        """{API field: roots} for each host file of the VM record ``rec`` that a user
        other than root named: the backend opens it only under those roots (roots as
        they are now: a path_roots changed since the path was set applies to it)."""
        named = rec.get(datamodel.ROOT_NAMED, ())
        return {f.name: self.app.guest_file_roots() for f in datamodel.VM.fields
                if f.host_path and rec.get(f.wire) and f.wire not in named}

    def disk_spec(self, vbd, rec):
        """The DiskSpec that attaches VBD ``vbd`` (record ``rec``) to its VM, which is
        starting or resident. VDI_IN_USE [vdi, attach] where the VDI is attached
        elsewhere too (to a resident, suspended or starting VM, or twice to this one;
        a VBD unplugged from its guest does not count),
        unless it is sharable or read-only and every one of those attachments is
        read-only: SRs hold qcow2 and raw images, which only one guest at a time may
        write."""
        vdi = self.store.get("VDI", rec["VDI"]) or {}

        def mode_of(vbd_rec):
            # A CD drive reads its medium whatever its VBD's mode says.
            return "RO" if vdi.get("read_only") or vbd_rec.get("type") == "CD" \
                else vbd_rec.get("mode", "RW")
        shared = vdi.get("sharable") or vdi.get("read_only")
        for other in self.store.referrers("VBD", "VDI", rec["VDI"]):
            orec = self.store.get("VBD", other)
            if other == vbd or orec is None or self.store.private(other).get("unplugged") or (
                    orec["VM"] != rec["VM"] and not self.holds_disks(self.store, orec["VM"])):
                continue
            if not shared or "RW" in (mode_of(rec), mode_of(orec)):
                raise ApiError("VDI_IN_USE", rec["VDI"], "attach")
        private = self.store.private(rec["VDI"])
        sr = self.store.get("SR", vdi.get("SR", "")) or {}
        return DiskSpec(vbd=vbd, path=private.get("path", ""),
                        format=private.get("format", "qcow2"), device=rec.get("device", ""),
                        mode=mode_of(rec), driver=rec.get("driver", "paravirtualised"),
                        cdrom=(rec.get("type") == "CD"
                               or srdrivers.driver(sr.get("type", "dir")).cdrom),
                        bootable=rec.get("bootable", False),
                        roots=(tuple(self.app.guest_file_roots())
                               if private.get("user_adopted") else None))

    def nic_spec(self, vif, rec):
        """The NicSpec of VIF ``vif`` (record ``rec``): a port of its network's bridge,
        which make_bridges makes exist."""
        net = self.store.get("network", rec["network"])
        return NicSpec(vif=vif, mac=rec.get("MAC", ""), mtu=rec.get("MTU", 1500),
                       driver=rec.get("type", "paravirtualised"), model=rec.get("model", ""),
                       bridge=netdev.network_bridge(rec["network"], net.get("NIC", ""),
                                                    net.get("VLAN", "")))

    def make_bridges(self, vifs):
        """Make sure the bridges of the networks of ``vifs`` (VIF records) exist, where the
        backend's NICs are bridge ports: the daemon's own is made if missing, a host
        bridge must be there. VALUE_NOT_SUPPORTED [field, value, why] otherwise."""
        if not self.backend.uses_bridges:
            return
        for network in dict.fromkeys(rec["network"] for rec in vifs):
            net = self.store.get("network", network)
            nic, vlan = net.get("NIC", ""), net.get("VLAN", "")
            try:
                netdev.prepare_network_bridge(network, nic, vlan)
            except netdev.NetdevError as e:
                field, value = (("network/NIC", nic) if nic and not vlan else
                                ("network/VLAN", vlan) if nic else ("network", network))
                raise ApiError("VALUE_NOT_SUPPORTED", field, value, str(e)) from None

    def _vifs_of(self, vm):
        return [self.store.get("VIF", vif) for vif in self.store.referrers("VIF", "VM", vm)]

    def validate(self, record):
        """BackendError for values of the VM record ``record`` (a VM being created or
        changed) that the hypervisor cannot honour."""
        self.backend.validate(VMConfig.from_record(record))
