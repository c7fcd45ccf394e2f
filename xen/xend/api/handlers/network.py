"""network (§2.9) and VIF (§2.10): checked addresses, generated MACs, the Linux
bridge of each network, and VIFs hot-plugged into resident VMs.

A network's ``NIC`` says where its VIFs go (docs/api.md, "Networks"):

* empty: a private network. The daemon makes it a bridge of its own
  (``netdev.bridge_name``), connected to no host interface, when a VIF first
  needs it, and removes it with the network;
* a host bridge, without ``VLAN``: the VIFs are ports of that bridge, which the
  administrator owns (the daemon never enslaves a host interface itself);
* a host interface (a bridge or a NIC) with ``VLAN``: the daemon makes a bridge
  of its own connected through an 802.1Q device on that interface, so the
  guests' frames leave tagged.

``VLAN`` on a private network changes nothing: its bridge already is a segment
of its own, and a tag used only inside it would separate nothing.
"""

import ipaddress
import logging
import random

from ...backend.spec import IFNAME, MAC
from ...host import netdev
from .. import lifecycle
from ..errors import ApiError
from .base import HOST_KEY, ClassHandler
from .devices import DeviceHandler

log = logging.getLogger("xend.network")


def _ifname(field, value):
    if value and not IFNAME.fullmatch(value):
        raise ApiError("INVALID_VALUE", field, value)


class NetworkHandler(ClassHandler):
    cls_name = "network"
    computed = {"bridge": "_bridge", "PIFs": "_pifs"}

    @staticmethod
    def _bridge(ref, rec):
        return netdev.network_bridge(ref, rec.get("NIC", ""), rec.get("VLAN", ""))

    def _pifs(self, ref, rec):
        return self.app.handlers["PIF"].of_network(ref, rec)

    def insert(self, txn, ref, stored, bound=None, private=None, call=None):
        """A network made here has its NIC on this host (HOST_KEY: its PIF's host)."""
        super().insert(txn, ref, dict(stored, **{HOST_KEY: self.app.host_ref}), bound,
                       private, call)

    def set_NIC(self, call, wire, ref, value):
        self.set_uplink(call, ref, {wire: value})

    set_VLAN = set_NIC

    def set_uplink(self, call, ref, changes, require=None):
        """Change NIC and VLAN (``changes``) of network ``ref`` in one write, after
        ``require(record)`` (if given) accepted the network's record in the same
        transaction (PIF.create_VLAN and PIF.destroy)."""
        self.may_write(call, ref)
        with self.store.transaction() as txn:
            if require is not None:
                require(txn.get(self.cls.name, ref))
            self.update(txn, ref, changes, call)
        self._remove_bridge(ref)     # made again, the new way, when next needed

    def delete(self, call, ref):
        super().delete(call, ref)
        self._remove_bridge(ref)

    def _remove_bridge(self, net):
        if not self.app.backend.uses_bridges:
            return
        try:
            netdev.remove_bridge(netdev.bridge_name(net), netdev.vlan_name(net))
        except netdev.NetdevError as e:
            # The record has changed already; a bridge left over is only untidy.
            log.warning("network %s: cannot remove its bridge: %s", net, e)

    def validate(self, txn, ref, old, new):
        if old is not None and (old.get("NIC"), old.get("VLAN")) != (new.get("NIC"),
                                                                      new.get("VLAN")):
            users = [v for v in txn.referrers("VIF", "network", ref)
                     if lifecycle.holds_devices(
                         txn.get("VM", txn.get("VIF", v)["VM"]).get("power_state"))]
            if users:
                raise ApiError("OPERATION_NOT_ALLOWED",
                               "NIC and VLAN of network %s change only while no VM using it "
                               "is running, paused or suspended (VIFs %s)"
                               % (ref, ",".join(users)))
        _ifname("NIC", new.get("NIC", ""))
        vlan = new.get("VLAN", "")
        if vlan and not (vlan.isdigit() and 0 <= int(vlan) <= 4094):
            raise ApiError("INVALID_VALUE", "VLAN", "%s (must be 0-4094)" % vlan)
        gateway = new.get("default_gateway", "")
        if gateway:
            try:
                ipaddress.IPv4Address(gateway)
            except ValueError:
                raise ApiError("INVALID_VALUE", "default_gateway", gateway) from None
        netmask = new.get("default_netmask", "")
        if netmask:
            try:
                ipaddress.IPv4Network("0.0.0.0/%s" % netmask)
            except ValueError:
                raise ApiError("INVALID_VALUE", "default_netmask", netmask) from None


class VIFHandler(DeviceHandler):
    cls_name = "VIF"
    kind = "vif"
    # The guest's view: what it receives is read/incoming, what it sends is write/outgoing.
    computed = {**DeviceHandler.computed,
                "network_read_kbs": "_rx_kbs", "network_write_kbs": "_tx_kbs",
                "IO_bandwidth_incoming_kbs": "_rx_kbs", "IO_bandwidth_outgoing_kbs": "_tx_kbs"}

    def _rx_kbs(self, ref, rec):
        return self.app.sampler.device_rates(rec["VM"], "vif", ref)[0]

    def _tx_kbs(self, ref, rec):
        return self.app.sampler.device_rates(rec["VM"], "vif", ref)[1]

    def validate(self, txn, ref, old, new):
        if old is not None and old != new:
            # A plugged VIF is changed by deleting it and making another.
            for vm in {old["VM"], new["VM"]}:
                holder = txn.get("VM", vm)
                lifecycle.require_still(vm, "edit_device", holder.get("power_state"),
                                        lifecycle.is_control_domain(holder))
        mac = new.get("MAC", "").lower()
        if not mac:
            mac = self._fresh_mac(txn)
        elif not MAC.fullmatch(mac) or int(mac[:2], 16) & 1:
            raise ApiError("INVALID_VALUE", "MAC", "%s (a unicast MAC, xx:xx:xx:xx:xx:xx)" % mac)
        elif any(r != ref for r in self.store.lookup("VIF", "MAC", mac)):
            raise ApiError("INVALID_VALUE", "MAC", "%s (in use by another VIF)" % mac)
        new["MAC"] = mac
        if not 68 <= new.get("MTU", 1500) <= 65535:
            raise ApiError("INVALID_VALUE", "MTU", str(new.get("MTU")))
        _ifname("device", new.get("device", ""))
        self._check_model(new)
        self.check_qos(new)

    def _check_model(self, new):
        """A model is one the backend gives; it makes the VIF emulated (ioemu), or
        paravirtualised for a virtio one, so that the type always says what the guest has."""
        model = new.get("model", "")
        if not model:
            return
        models = self.app.backend.nic_models()
        if model not in models:
            raise ApiError("VALUE_NOT_SUPPORTED", "model", model,
                           "the %s backend gives the NIC models %s"
                           % (self.app.backend.name, ", ".join(models) or "none"))
        new["type"] = "paravirtualised" if model.startswith("virtio") else "ioemu"

    def _fresh_mac(self, txn):
        """A locally administered unicast MAC no VIF on this host has."""
        while True:
            octets = [0x02] + [random.randrange(256) for _ in range(5)]
            mac = ":".join("%02x" % o for o in octets)
            if not self.store.lookup("VIF", "MAC", mac):
                return mac
