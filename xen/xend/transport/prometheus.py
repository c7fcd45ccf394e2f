"""GET /metrics: host, guest, task and API figures in the Prometheus text format (0.0.4).

Everything here is read from what the daemon already keeps (the sampler's
last sample, the store, dispatch's call counters); producing it never asks
a guest or the hypervisor anything. The VM families are the guests': the control
domain's VM, the machine itself, is left out of them.
"""

from ..api.lifecycle import is_control_domain


def _label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Out:
    """Samples gathered per family, written out with each family as one group."""

    def __init__(self):
        self.families = {}

    def family(self, name, kind, help_text):
        self.families[name] = ["# HELP %s %s" % (name, help_text), "# TYPE %s %s" % (name, kind)]

    def sample(self, name, labels, value):
        inner = ",".join('%s="%s"' % (k, _label(v)) for k, v in labels.items())
        self.families[name].append("%s%s %s" % (name, "{%s}" % inner if inner else "",
                                                repr(float(value))))

    def text(self):
        return "\n".join(line for lines in self.families.values() for line in lines) + "\n"


def render(app):
    """The whole exposition as text."""
    out = _Out()
    store, sampler = app.store, app.sampler

    out.family("xend_host_cpu_utilisation", "gauge", "Fraction of each host CPU in use.")
    for i, load in enumerate(sampler.host_cpus):
        out.sample("xend_host_cpu_utilisation", {"cpu": i}, load)

    total, free = sampler.host_memory
    out.family("xend_host_memory_total_bytes", "gauge", "The host's memory.")
    out.sample("xend_host_memory_total_bytes", {}, total)
    out.family("xend_host_memory_free_bytes", "gauge", "The host's memory not in use.")
    out.sample("xend_host_memory_free_bytes", {}, free)

    out.family("xend_vms", "gauge", "VMs known to the daemon, by power state.")
    out.family("xend_vm_power_state", "gauge",
               "1 for each VM, labelled with its power state (an info metric).")
    states = {}
    for vm, rec in store.records("VM"):
        if is_control_domain(rec):     # a machine itself, no guest of a daemon's
            continue
        state = rec.get("power_state", "Halted")
        states[state] = states.get(state, 0) + 1
        out.sample("xend_vm_power_state",
                   {"vm": vm, "name": rec.get("name_label", ""), "power_state": state}, 1)
    for state, count in sorted(states.items()):
        out.sample("xend_vms", {"power_state": state}, count)

    resident = [vm for vm in store.referrers("VM", "resident_on", app.host_ref)
                if vm != app.control_domain]
    out.family("xend_vm_memory_actual_bytes", "gauge", "Memory of each running VM.")
    out.family("xend_vm_vcpu_utilisation", "gauge", "Fraction of a vCPU in use.")
    out.family("xend_vbd_kbs", "gauge", "Disk kB/s of each VBD of a running VM.")
    out.family("xend_vif_kbs", "gauge", "Network kB/s of each VIF of a running VM.")
    vm_handler = app.handlers["VM"]
    for vm in resident:
        rec = store.get("VM", vm)
        if rec is None:
            continue
        who = {"vm": vm, "name": rec.get("name_label", "")}
        out.sample("xend_vm_memory_actual_bytes", who, vm_handler.read(vm, "memory_actual"))
        for vcpu, load in sorted(vm_handler.read(vm, "VCPUs_utilisation").items()):
            out.sample("xend_vm_vcpu_utilisation", dict(who, vcpu=vcpu), load)
        for kind, cls in (("vbd", "VBD"), ("vif", "VIF")):
            for dev in store.referrers(cls, "VM", vm):
                rx, tx = sampler.device_rates(vm, kind, dev)
                out.sample("xend_%s_kbs" % kind, dict(who, device=dev, direction="in"), rx)
                out.sample("xend_%s_kbs" % kind, dict(who, device=dev, direction="out"), tx)

    out.family("xend_tasks", "gauge", "Tasks by status.")
    tasks = {}
    for _, rec in store.records("task"):
        tasks[rec.get("status")] = tasks.get(rec.get("status"), 0) + 1
    for status, count in sorted(tasks.items()):
        out.sample("xend_tasks", {"status": status}, count)

    out.family("xend_api_calls_total", "counter", "API calls answered, by method.")
    out.family("xend_api_failures_total", "counter", "API calls answered with a Failure.")
    out.family("xend_api_call_seconds_total", "counter", "Time spent answering, by method.")
    for method, (calls, failures, seconds) in sorted(app.dispatcher.stats.items()):
        out.sample("xend_api_calls_total", {"method": method}, calls)
        out.sample("xend_api_failures_total", {"method": method}, failures)
        out.sample("xend_api_call_seconds_total", {"method": method}, seconds)
    return out.text()
