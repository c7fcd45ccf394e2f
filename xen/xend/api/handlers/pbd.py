"""PBD (Xen-API 1.0): how this host reaches an SR.

Each SR is local to one host (the one that made it; in a pool, daemon/app.py's
``host_of``) and attached there, so each SR has exactly one PBD: a view of the SR's
record (handlers/derived.py) whose host is that one, its device_config what the SR's
type driver says of it (srdrivers: the location and the type's keys).
"""

from ...host import srdrivers
from .derived import DerivedHandler


class PBDHandler(DerivedHandler):
    cls_name = "PBD"
    computed = {"host": "_host", "SR": "_sr", "device_config": "_device_config",
                "currently_attached": "_attached"}

    def _host(self, ref, rec):
        return self.app.host_of(rec)

    def _sr(self, ref, rec):
        return self.owner_ref(ref)

    @staticmethod
    def _device_config(ref, rec):
        return srdrivers.driver(rec.get("type", "dir")).device_config(
            rec.get("location", ""), rec.get("device_config"))

    @staticmethod
    def _attached(ref, rec):
        return True

    def of_sr(self, sr):
        """The PBDs of the SR ``sr``: its one."""
        return [self.ref_of(sr)]
