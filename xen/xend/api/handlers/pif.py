"""PIF and PIF_metrics (Xen-API 1.0): the host interface a network is connected through.

The daemon keeps no list of host interfaces of its own: a network's ``NIC`` (with its
``VLAN``) already says which interface its VIFs reach the outside through. So a PIF is
a view of a network that has a NIC (handlers/derived.py): its device and VLAN are the
network's NIC and VLAN, written through the network's own setters (which remake the
network's bridge), and its MAC and MTU are what the host's kernel reports for the
interface. A VLAN PIF is one made by ``create_VLAN`` (a network given a NIC and a
tag); destroying it disconnects its network. A PIF without a VLAN is the host's own
interface, which the toolstack does not destroy.
"""

from ...host import netdev
from .. import renames
from ..errors import ApiError
from .derived import DerivedHandler
from .metrics import MetricsHandler

# The MTUs Linux interfaces take: IPv4's minimum to the loopback's 64 KiB.
MTU_RANGE = (68, 65536)


class PIFHandler(DerivedHandler):
    cls_name = "PIF"
    computed = {"network": "_network", "host": "_host", "MAC": "_mac", "MTU": "_mtu"}

    def has_object(self, owner_ref, owner_record):
        return bool(owner_record.get("NIC"))

    def _network(self, ref, rec):
        return self.owner_ref(ref)

    def _host(self, ref, rec):
        return self.app.host_of(rec)

    @staticmethod
    def _mac(ref, rec):
        return netdev.link_mac(rec["NIC"])

    @staticmethod
    def _mtu(ref, rec):
        return netdev.link_mtu(rec["NIC"])

    def of_network(self, network, rec):
        """The PIFs of ``network`` (whose record is ``rec``): its one, if it has a NIC."""
        return [self.ref_of(network)] if self.has_object(network, rec) else []

    def set_MAC(self, call, wire, ref, value):
        self.may_write(call, ref)
        raise ApiError("VALUE_NOT_SUPPORTED", "MAC", value,
                       "a physical interface's address is the host's, not the toolstack's")

    def set_MTU(self, call, wire, ref, value):
        self.may_write(call, ref)
        low, high = MTU_RANGE
        if not low <= value <= high:
            raise ApiError("INVALID_VALUE", "MTU", "%d (must be %d-%d)" % (value, low, high))
        device = self.stored_record(ref)["NIC"]
        try:
            netdev.set_mtu(device, value)
        except netdev.NetdevError as e:
            raise ApiError("VALUE_NOT_SUPPORTED", "MTU", str(value), str(e)) from None

    def create_VLAN(self, call, device, network, host, vlan):
        """Give ``network`` (one without a NIC) the NIC ``device`` and the tag ``vlan``."""
        if not device:
            raise ApiError("INVALID_VALUE", "device", "(a host interface must be named)")
        if vlan == -1:   # -1 is "no VLAN" to the VLAN field: never a tag
            raise ApiError("VLAN_TAG_INVALID", str(vlan))
        changes = {"NIC": device, **renames.tag_to_vlan(vlan)}

        def unconnected(rec):
            if rec.get("NIC"):
                raise ApiError("NETWORK_ALREADY_CONNECTED", network, self.ref_of(network))
        self.owner.set_uplink(call, network, changes, require=unconnected)
        return self.ref_of(network)

    def destroy(self, call, ref):
        """Disconnect a VLAN PIF's network; the host's own interfaces stay."""
        network = self.owner_ref(ref)

        def a_vlan(rec):
            if rec is None or not rec.get("NIC"):
                raise ApiError("HANDLE_INVALID", self.cls.name, ref)
            if not rec.get("VLAN"):
                raise ApiError("PIF_IS_PHYSICAL", ref)
        self.owner.set_uplink(call, network, {"NIC": "", "VLAN": ""}, require=a_vlan)


class PIFMetricsHandler(MetricsHandler):
    cls_name = "PIF_metrics"
    computed = dict(MetricsHandler.computed, io_read_kbs="_read_kbs", io_write_kbs="_write_kbs")

    def _read_kbs(self, ref, rec):
        return self.app.sampler.nic_rates(rec["NIC"])[0]

    def _write_kbs(self, ref, rec):
        return self.app.sampler.nic_rates(rec["NIC"])[1]
