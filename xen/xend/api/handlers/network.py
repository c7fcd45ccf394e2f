"""network (§2.9) and VIF (§2.10): checked addresses and generated MACs."""

import ipaddress
import random
import re

from ..errors import ApiError
from .base import ClassHandler

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_IFNAME = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")


def _ifname(field, value):
    if value and not _IFNAME.match(value):
        raise ApiError("INVALID_VALUE", field, value)


class NetworkHandler(ClassHandler):
    cls_name = "network"

    def validate(self, txn, ref, old, new):
        _ifname("NIC", new.get("NIC", ""))
        vlan = new.get("VLAN", "")
        if vlan and not (vlan.isdigit() and 1 <= int(vlan) <= 4094):
            raise ApiError("INVALID_VALUE", "VLAN", "%s (must be 1-4094)" % vlan)
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


class VIFHandler(ClassHandler):
    cls_name = "VIF"
    # The guest's view: what it receives is read/incoming, what it sends is write/outgoing.
    computed = {"network_read_kbs": "_rx_kbs", "network_write_kbs": "_tx_kbs",
                "IO_bandwidth_incoming_kbs": "_rx_kbs", "IO_bandwidth_outgoing_kbs": "_tx_kbs"}

    def _rx_kbs(self, ref, rec):
        return self.app.sampler.device_rates(rec["VM"], "vif", ref)[0]

    def _tx_kbs(self, ref, rec):
        return self.app.sampler.device_rates(rec["VM"], "vif", ref)[1]

    def validate(self, txn, ref, old, new):
        mac = new.get("MAC", "").lower()
        if not mac:
            mac = self._fresh_mac(txn)
        elif not _MAC.match(mac) or int(mac[:2], 16) & 1:
            raise ApiError("INVALID_VALUE", "MAC", "%s (a unicast MAC, xx:xx:xx:xx:xx:xx)" % mac)
        elif any(r != ref for r in self.store.lookup("VIF", "MAC", mac)):
            raise ApiError("INVALID_VALUE", "MAC", "%s (in use by another VIF)" % mac)
        new["MAC"] = mac
        if not 68 <= new.get("MTU", 1500) <= 65535:
            raise ApiError("INVALID_VALUE", "MTU", str(new.get("MTU")))
        _ifname("device", new.get("device", ""))

    def _fresh_mac(self, txn):
        """A locally administered unicast MAC no VIF on this host has."""
        while True:
            octets = [0x02] + [random.randrange(256) for _ in range(5)]
            mac = ":".join("%02x" % o for o in octets)
            if not self.store.lookup("VIF", "MAC", mac):
                return mac
