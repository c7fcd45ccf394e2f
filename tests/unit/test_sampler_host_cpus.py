"""host_cpu/utilisation and the host's memory where the backend counts the physical CPUs'
idle time and the hypervisor's memory (Xen: dom0's own /proc would describe dom0's vCPUs
and memory, not the host's)."""

import types

from xen.xend.api.lifecycle import CONTROL_DOMAIN
from xen.xend.state import sampler


class IdleBackend:
    """Reports cumulative idle seconds per CPU, as set by the test."""

    def __init__(self):
        self.idle = [0.0, 0.0]

    def host_cpu_idle(self):
        return list(self.idle)

    def host_memory(self):
        return None

    def control_domain_vcpus(self):
        return None


def test_utilisation_is_the_busy_share_of_each_cpu_since_the_last_sample(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(sampler.time, "monotonic", lambda: now[0])
    backend = IdleBackend()
    s = sampler.Sampler(types.SimpleNamespace(backend=backend, control_domain=CONTROL_DOMAIN),
                        interval=2)
    assert s.host_cpus == [0.0, 0.0]          # no interval yet
    now[0] += 2.0
    backend.idle = [0.5, 2.0]                 # CPU 0 busy 1.5 s of 2, CPU 1 idle
    assert s._host_cpus() == [0.75, 0.0]
    now[0] += 2.0
    backend.idle = [0.5, 2.0 + 2.5]           # clocks drift: never below 0 or above 1
    assert s._host_cpus() == [1.0, 0.0]


def test_without_idle_counters_the_daemons_own_view_counts(monkeypatch):
    monkeypatch.setattr(sampler.facts, "cpu_utilisation", lambda: [0.25])
    backend = types.SimpleNamespace(host_cpu_idle=lambda: None, host_memory=lambda: None,
                                    control_domain_vcpus=lambda: None)
    s = sampler.Sampler(types.SimpleNamespace(backend=backend, control_domain=CONTROL_DOMAIN),
                        interval=2)
    assert s._host_cpus() == [0.25]


def test_host_memory_is_the_backends_where_it_has_a_figure(monkeypatch):
    monkeypatch.setattr(sampler.facts, "memory", lambda: (8 << 30, 3 << 30))
    figure = [None]
    backend = types.SimpleNamespace(host_cpu_idle=lambda: None, host_memory=lambda: figure[0],
                                    control_domain_vcpus=lambda: None)
    s = sampler.Sampler(types.SimpleNamespace(backend=backend, control_domain=CONTROL_DOMAIN),
                        interval=2)
    assert s.host_memory == (8 << 30, 3 << 30)      # the daemon's machine
    figure[0] = (64 << 30, 60 << 30)                # the hypervisor's, once it answers
    assert s._host_memory() == (64 << 30, 60 << 30)


def test_the_control_domains_vcpus_are_the_backends_where_it_schedules_them(monkeypatch):
    """Xen: dom0's vCPUs as xl vcpu-list places them; elsewhere the machine's own CPUs."""
    monkeypatch.setattr(sampler.facts, "cpu_utilisation", lambda: [0.9, 0.1])
    dom0 = [None]
    backend = types.SimpleNamespace(host_cpu_idle=lambda: None, host_memory=lambda: None,
                                    control_domain_vcpus=lambda: dom0[0])
    s = sampler.Sampler(types.SimpleNamespace(backend=backend, control_domain=CONTROL_DOMAIN),
                        interval=2)
    own = s.vm(CONTROL_DOMAIN)
    assert own["vcpu_cpu"] == {0: 0, 1: 1}
    assert own["vcpu_flags"] == {0: ["online", "running"], 1: ["online", "blocked"]}
    dom0[0] = {"vcpu_cpu": {0: 3}, "vcpu_flags": {0: ["online", "blocked"]}}
    figures = s._control_domain()
    assert (figures["vcpu_cpu"], figures["vcpu_flags"]) == ({0: 3}, {0: ["online", "blocked"]})
