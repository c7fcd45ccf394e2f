"""The metrics classes of Xen-API 1.0: a VM's (VM_metrics), its guest agent's
(VM_guest_metrics), a host's, a VIF's and a VBD's, views of their owner's figures
(handlers/derived.py). Each figure is the sampler's (state/sampler.py), never a
backend call per read, and last_updated is the time of its last sample."""

import functools

from ...backend import vcpuparams
from .. import lifecycle, xmltime
from .derived import DerivedHandler

# VM_metrics.state of a resident VM whose power state says it all (a Running VM's is
# running or blocked, from its vCPUs); as xm list's State column names them.
_STATE_OF_POWER = {lifecycle.PAUSED: ["paused"], lifecycle.SHUTTING_DOWN: ["dying"],
                   lifecycle.UNKNOWN: []}


class MetricsHandler(DerivedHandler):
    """What the metrics classes share: last_updated, the time of the sampler's last
    sample."""
    computed = {"last_updated": "_last_updated"}

    def _last_updated(self, ref, rec):
        return xmltime.stamp(self.app.sampler.sampled_at)


class HostMetricsHandler(MetricsHandler):
    cls_name = "host_metrics"
    computed = dict(MetricsHandler.computed, live="_live")

    def _live(self, ref, rec):
        return self.app.host_live(self.owner_ref(ref))


class VIFMetricsHandler(MetricsHandler):
    cls_name = "VIF_metrics"


class VBDMetricsHandler(MetricsHandler):
    cls_name = "VBD_metrics"


class VMGuestMetricsHandler(MetricsHandler):
    """What a guest agent reports, where the backend reads one (the sampler's "guest"
    figures: Xen's xenstore); empty maps without one, or while the VM is not resident."""
    cls_name = "VM_guest_metrics"
    computed = dict(MetricsHandler.computed, os_version="_os_version", memory="_memory",
                    disks="_disks", networks="_networks", other="_other")

    def _reported(self, ref, rec, key):
        if rec.get("power_state") not in lifecycle.LIVE_STATES:
            return {}
        return self.app.sampler.vm(self.owner_ref(ref)).get("guest", {}).get(key, {})

    _os_version = functools.partialmethod(_reported, key="os_version")
    _memory = functools.partialmethod(_reported, key="memory")
    _disks = functools.partialmethod(_reported, key="disks")
    _networks = functools.partialmethod(_reported, key="networks")
    _other = functools.partialmethod(_reported, key="other")


class VMMetricsHandler(MetricsHandler):
    cls_name = "VM_metrics"
    computed = dict(MetricsHandler.computed, VCPUs_CPU="_vcpus_cpu",
                    VCPUs_flags="_vcpus_flags", state="_state", VCPUs_params="_vcpus_params")

    def _vcpus_params(self, ref, rec):
        """VCPUs/params as it applies, every key spelled out: xm of Xen 3.x reads
        cpumapN of every vCPU (vcpu-list)."""
        params = vcpuparams.parse(rec.get("VCPUs_params", ""), rec.get("VCPUs_max", 1))
        every_cpu = ",".join(str(c) for c in range(len(self.app.sampler.host_cpus)))
        out = {"weight": str(params.weight or vcpuparams.DEFAULT_WEIGHT),
               "cap": str(params.cap)}
        for vcpu in range(rec.get("VCPUs_max", 1)):
            pinned = params.pinned(vcpu)
            out["cpumap%d" % vcpu] = ",".join(map(str, pinned)) if pinned else every_cpu
        return out

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
