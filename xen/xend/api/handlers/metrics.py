"""The metrics classes of Xen-API 1.0: a VM's (VM_metrics) and the like, views of their
owner's figures (handlers/derived.py)."""

from .. import xmltime
from .derived import DerivedHandler


class VMMetricsHandler(DerivedHandler):
    cls_name = "VM_metrics"
    computed = {"last_updated": "_last_updated"}

    def _last_updated(self, ref, rec):
        return xmltime.stamp(self.app.sampler.sampled_at)
