"""network (§2.9) and VIF (§2.10)."""

from .base import ClassHandler


class NetworkHandler(ClassHandler):
    cls_name = "network"


class VIFHandler(ClassHandler):
    cls_name = "VIF"
    computed = {f: "_zero" for f in ("network_read_kbs", "network_write_kbs",
                                     "IO_bandwidth_incoming_kbs", "IO_bandwidth_outgoing_kbs")}

    def _zero(self, ref, rec):
        return 0.0
