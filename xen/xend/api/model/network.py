"""Networks: the virtual networks, guests' interfaces (VIF), the host's (PIF), and their
metrics."""

from .. import renames
from ..enums import driver_type
from ..types import Float, Int, Map, Ref, Set, String
from .schema import (
                     RO_INS,
                     RO_RUN,
                     RW,
                     Class,
                     Field,
                     Message,
                     Param,
                     Renamed,
                     device_fields,
                     device_messages,
                     io_fields,
                     last_updated_field,
                     name_fields,
                     uuid_field,
)

_REBRIDGE = ("removes the daemon's own bridge of the network, made again the new way when "
             "a VIF next needs it")


NETWORK = Class("network", "a virtual network", [
    uuid_field(),
    *name_fields(),
    Field("VIFs", Set(Ref("VIF")), RW, "list of connected vifs"),
    Field("NIC", String, RW, "ethernet device to use to access this network",
          on_set=_REBRIDGE),
    Field("VLAN", String, RW, "VLAN tag to use to access this network", on_set=_REBRIDGE),
    Field("default_gateway", String, RW, "default gateway IP address"),
    Field("default_netmask", String, RW, "default netmask"),
    # The other commands people type
    Field("bridge", String, RO_RUN, "the host bridge this network's VIFs are ports of "
          "(the NIC's, or the daemon's own)", extension=True),
    # 1.0: storage and network records
    Field("other_config", Map(String, String), RW, "additional configuration", since="1.0"),
    # 1.0: host's interfaces, storage and objects
    Field("PIFs", Set(Ref("PIF")), RO_RUN, "the host interface the network is connected "
          "through (none for a private network)", since="1.0"),
], list_rpc=True, root_writes=True)


VIF = Class("VIF", "a virtual network interface", [
    uuid_field(),
    Field("name", String, RW, "human-readable name of the interface"),
    Field("type", driver_type, RW, "interface type", default="paravirtualised"),
    Field("device", String, RW, "name of network device as exposed to guest e.g. eth0"),
    Field("network", Ref("network"), RW, "virtual network to which this vif is connected",
          required=True),
    Field("VM", Ref("VM"), RW, "virtual machine to which this vif is connected", required=True),
    Field("MAC", String, RW, "ethernet MAC address of virtual interface, as exposed to guest",
          indexed=True),
    Field("MTU", Int, RW, "MTU in octets", default=1500),
    Field("network_read_kbs", Float, RO_RUN, "Incoming network bandwidth"),
    Field("network_write_kbs", Float, RO_RUN, "Outgoing network bandwidth"),
    Field("IO_bandwidth/incoming_kbs", Float, RO_RUN, "Read bandwidth (Kb/s)"),
    Field("IO_bandwidth/outgoing_kbs", Float, RO_RUN, "Write bandwidth (Kb/s)"),
    # Classic network syntax
    Field("model", String, RW, "the NIC model the guest sees (e1000, rtl8139, ...), one "
          "the backend can give; empty: the backend's default for the VIF's type. A model "
          "sets the type: ioemu, or paravirtualised for a virtio one", extension=True),
    # 1.0: devices
    *device_fields("VIF"),
    # Xen 3.x's xm network-attach
    Field("other_config", Map(String, String), RW, "additional configuration (the later "
          "API's; xm of Xen 3.1 sends it)", extension=True),
    # 1.0: metrics
    Field("metrics", Ref("VIF_metrics"), RO_RUN, "metrics associated with this VIF",
          since="1.0"),
    Field("io/read_kbs", Float, RO_RUN, "xend 3.1's name of VIF_metrics.io_read_kbs: "
          "KiB/s the host read from the interface, what the guest sent",
          extension=True, same_as=Renamed(("IO_bandwidth_outgoing_kbs",))),
    Field("io/write_kbs", Float, RO_RUN, "xend 3.1's name of VIF_metrics.io_write_kbs: "
          "KiB/s the host wrote to the interface, what the guest received",
          extension=True, same_as=Renamed(("IO_bandwidth_incoming_kbs",))),
], messages=[
    # 1.0: devices
    *device_messages("VIF"),
])


# A VIF's "read" is xend 3.1's: what the host reads from the guest's interface (dom0's
# vif receives), so what the guest sent; "write" what the guest received.
VIF_METRICS = Class("VIF_metrics", "the metrics associated with a virtual network device", [
    uuid_field(),
    *io_fields("IO_bandwidth_outgoing_kbs", "IO_bandwidth_incoming_kbs"),
    last_updated_field(),
], creatable=False, deletable=False, stored=False, owner="VIF", since="1.0")


# 1.0: PIF, the host interface a network with a NIC is connected through (one per such
# network: a view of its record, handlers/pif.py), and its figures.
PIF = Class("PIF", "a physical network interface of the host: the network's NIC (a VLAN "
            "on it is a PIF of its own network)", [
    uuid_field(),
    Field("device", String, RW, "machine-readable name of the interface (e.g. eth0): the "
          "network's NIC", same_as=Renamed(("NIC",))),
    Field("network", Ref("network"), RO_INS, "virtual network to which this pif is "
          "connected"),
    Field("host", Ref("host"), RO_INS, "physical machine to which this pif is connected"),
    Field("MAC", String, RW, "ethernet MAC address of physical interface, as the host's "
          "kernel reports it (\"\" while the host has no such interface)",
          on_set="refused (VALUE_NOT_SUPPORTED): a physical interface's address is the "
          "host's, not the toolstack's"),
    Field("MTU", Int, RW, "MTU in octets, as the host's kernel reports it (0 while the "
          "host has no such interface)", on_set="sets the interface's MTU on the host "
          "(ip link), 68-65536"),
    Field("VLAN", Int, RW, "VLAN tag for all traffic passing through this interface: the "
          "network's VLAN, -1 for none", same_as=Renamed(
              ("VLAN",), read=renames.vlan_to_tag, write=renames.tag_to_vlan)),
    Field("metrics", Ref("PIF_metrics"), RO_RUN, "metrics associated with this PIF"),
], messages=[
    Message("create_VLAN", [Param("device", String, "the host interface the VLAN is on "
                                  "(e.g. eth0)"),
                            Param("network", Ref("network"), "the network to connect: one "
                                  "without a NIC"),
                            Param("host", Ref("host"), "the host (this one)"),
                            Param("VLAN", Int, "the VLAN tag, 0 to 4094")],
            Ref("PIF"), "Connect the network through VLAN VLAN on device: sets the "
            "network's NIC and VLAN; returns the network's new PIF", root_only=True),
    Message("destroy", [Param("self", Ref("PIF"), "the PIF to destroy")], None,
            "Disconnect a VLAN PIF's network (its NIC and VLAN cleared); a PIF without a "
            "VLAN is the host's own interface (PIF_IS_PHYSICAL)", root_only=True),
], creatable=False, deletable=False, stored=False, owner="network", root_writes=True,
   since="1.0")


PIF_METRICS = Class("PIF_metrics", "the metrics associated with a PIF", [
    uuid_field(),
    Field("io/read_kbs", Float, RO_RUN, "Read bandwidth (KiB/s): what the host receives on "
          "the interface, as the sampler last saw it"),
    Field("io/write_kbs", Float, RO_RUN, "Write bandwidth (KiB/s): what the host sends "
          "through it"),
    last_updated_field(),
], creatable=False, deletable=False, stored=False, owner="PIF", since="1.0")
