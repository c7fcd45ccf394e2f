"""The metrics classes of Xen-API 1.0: a VM's (VM_metrics) and the like, views of their
owner's figures (handlers/derived.py)."""

from .. import lifecycle, xmltime
from .derived import DerivedHandler

# VM_metrics.state of a resident VM whose power state says it all (a Running VM's is
# running or blocked, from its vCPUs); as xm list's State column names them.
_STATE_OF_POWER = {lifecycle.PAUSED: ["paused"], lifecycle.SHUTTING_DOWN: ["dying"],
                   lifecycle.UNKNOWN: []}


class VMMetricsHandler(DerivedHandler):
    cls_name = "VM_metrics"
    computed = {"last_updated": "_last_updated", "VCPUs_CPU": "_vcpus_cpu",
                "VCPUs_flags": "_vcpus_flags", "state": "_state"}

    def _last_updated(self, ref, rec):
        return xmltime.stamp(self.app.sampler.sampled_at)

    def _sampled(self, ref, rec, key, missing):
        """The sampler's per-vCPU figure ``key`` of a resident VM, for each vCPU up to
        VCPUs/max (``missing`` for one the backend did not list: not online); {} for a
        VM that is not resident."""
        if rec.get("power_state") not in lifecycle.LIVE_STATES:
            return {}
        figures = self.app.sampler.vm(self.owner_ref(ref)).get(key, {})
        return {i: figures.get(i, missing) for i in range(rec.get("VCPUs_max", 1))}

    def _vcpus_cpu(self, ref, rec):
        return self._sampled(ref, rec, "vcpu_cpu", -1)

    def _vcpus_flags(self, ref, rec):
        return self._sampled(ref, rec, "vcpu_flags", [])

    def _state(self, ref, rec):
        power = rec.get("power_state")
        if power not in lifecycle.LIVE_STATES:
            return []
        if rec.get("_crashed"):
            return ["crashed"]
        if power != lifecycle.RUNNING:
            return _STATE_OF_POWER[power]
        flags = self._vcpus_flags(ref, rec).values()
        return ["running"] if any("running" in f for f in flags) else ["blocked"]
