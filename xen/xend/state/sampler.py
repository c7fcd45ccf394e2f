"""The sampler: live figures for RO_run fields, computed off the request path.

Every ``interval`` seconds one thread reads the host's CPU load, the byte
counters of the host interfaces networks are connected through (their NICs),
and, for each guest resident on the host, the backend's counters (vCPU seconds,
memory, disk and network bytes), and turns counter deltas into rates. The control
domain's figures are the daemon's own machine's (its CPUs, memory, CPU time). Reads of RO_run
fields only look at the last sample: they never wait on QMP or on this thread.
"""

import logging
import threading
import time

from ..host import facts, netdev

log = logging.getLogger("xend.metrics")

# A CPU of the daemon's machine busy for more than this share of a sample period is
# "running" as a vCPU of the control domain (xm's rule for a guest's "r").
BUSY_SHARE = 0.5


def _rate(new, old, dt, key):
    """kB/s between two counter samples (0 after a counter reset)."""
    delta = new.get(key, 0) - old.get(key, 0)
    return max(delta, 0) / 1024.0 / dt if dt > 0 else 0.0


class Sampler:
    """Keeps the latest figures of the host and of every running guest."""

    def __init__(self, app, interval):
        self.app = app
        self.interval = interval
        self._idle = None       # (monotonic time, backend's idle seconds per CPU)
        self.own_cpus = []      # the daemon's machine's CPUs (dom0's vCPUs on Xen)
        self.host_cpus = self._host_cpus()
        self.own_memory = facts.memory()
        self.host_memory = self._host_memory()
        self._own = self._control_domain()     # the figures of the host's control domain
        self._vms = {}          # guest vm -> derived figures
        self._raw = {}          # vm -> (monotonic time, raw counters)
        self._nics = {}         # host interface -> (read, write) kB/s
        self._nic_raw = {}      # host interface -> (monotonic time, byte counters)
        self.sampled_at = time.time()   # wall-clock time of the last sample
        self._stop = threading.Event()
        self._thread = None

    def start(self, extra_work=()):
        """Sample in a thread; ``extra_work`` are callables run after each sample."""
        def loop():
            while not self._stop.wait(self.interval):
                for fn in (self.sample,) + tuple(extra_work):
                    try:
                        fn()
                    except Exception:   # one bad sample must not stop sampling
                        log.exception("sampler: %s", getattr(fn, "__name__", fn))
        self._thread = threading.Thread(target=loop, name="sampler", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()

    def _host_cpus(self):
        """Utilisation per host CPU: 1 - idle share since the last sample where the
        backend counts the physical CPUs' idle time (Xen), else psutil's view, which
        is also own_cpus (read once: psutil measures since its previous reading)."""
        self.own_cpus = facts.cpu_utilisation()
        idle = self.app.backend.host_cpu_idle()
        if idle is None:
            return self.own_cpus
        now, (then, before) = time.monotonic(), self._idle or (None, None)
        self._idle = (now, idle)
        if then is None or now <= then or len(before) != len(idle):
            return [0.0] * len(idle)
        return [min(max(1.0 - (new - old) / (now - then), 0.0), 1.0)
                for new, old in zip(idle, before)]

    def _host_memory(self):
        """(total, free) bytes: the hypervisor's figure where the backend has one, else
        the daemon's machine's (own_memory, sampled just before)."""
        return self.app.backend.host_memory() or self.own_memory

    def sample(self):
        """Take one sample of the host and every resident guest."""
        self.sampled_at = time.time()
        self.host_cpus = self._host_cpus()
        self.own_memory = facts.memory()
        self.host_memory = self._host_memory()
        self._sample_nics()
        self._own = self._control_domain()
        resident = set(self.app.store.referrers("VM", "resident_on", self.app.host_ref))
        resident.discard(self.app.control_domain)     # no guest of the backend's
        for vm in list(self._raw):
            if vm not in resident:
                self._raw.pop(vm, None)
                self._vms.pop(vm, None)
        for vm in resident:
            try:
                raw = self.app.backend.metrics(vm)
            except Exception as e:   # a guest that just stopped, a busy monitor
                log.debug("metrics of %s: %s", vm, e)
                continue
            now = time.monotonic()
            before = self._raw.get(vm)
            self._raw[vm] = (now, raw)
            if before is not None:
                self._vms[vm] = self._derive(raw, before[1], now - before[0])
            else:
                self._vms[vm] = self._derive(raw, raw, 0.0)

    def _sample_nics(self):
        """Rates of the networks' NICs (PIF_metrics): what the host receives on one is
        read, what it sends is written."""
        nics = {rec.get("NIC") for _, rec in self.app.store.records("network")} - {"", None}
        raw_before, self._nic_raw, self._nics = self._nic_raw, {}, {}
        for nic in nics:
            counters = netdev.link_counters(nic)
            if counters is None:
                continue
            now = time.monotonic()
            then, old = raw_before.get(nic, (now, counters))
            self._nic_raw[nic] = (now, counters)
            self._nics[nic] = (_rate(counters, old, now - then, "rx_bytes"),
                               _rate(counters, old, now - then, "tx_bytes"))

    def _control_domain(self):
        """The control domain's figures: the machine the daemon runs in."""
        return {"memory_actual": self.own_memory[0], "domid": 0,
                "vcpus": {str(i): u for i, u in enumerate(self.own_cpus)},
                "cpu_time": facts.cpu_seconds(),
                **(self.app.backend.control_domain_vcpus() or self._own_vcpus())}

    def _own_vcpus(self):
        """The machine's own CPUs as the control domain's vCPUs (QEMU: the host itself):
        CPU N is vCPU N, running if it was busy for most of the last sample period (as
        xm shows a guest "r"), else blocked."""
        return {"vcpu_cpu": {i: i for i in range(len(self.own_cpus))},
                "vcpu_flags": {i: ["online", "running" if u >= BUSY_SHARE else "blocked"]
                               for i, u in enumerate(self.own_cpus)}}

    @staticmethod
    def _derive(raw, old, dt):
        cpu_new, cpu_old = raw.get("cpu_seconds", []), old.get("cpu_seconds", [])
        vcpus = {str(i): (min(max((c - (cpu_old[i] if i < len(cpu_old) else c)) / dt, 0.0), 1.0)
                          if dt > 0 else 0.0) for i, c in enumerate(cpu_new)}
        figures = {
            "memory_actual": raw.get("memory_actual") or raw.get("memory_rss", 0),
            "tools_version": raw.get("tools_version", {}),
            "vcpus": vcpus,
            "vbd": {vbd: (_rate(c, old.get("vbd", {}).get(vbd, c), dt, "rd_bytes"),
                          _rate(c, old.get("vbd", {}).get(vbd, c), dt, "wr_bytes"))
                    for vbd, c in raw.get("vbd", {}).items()},
            "vif": {vif: (_rate(c, old.get("vif", {}).get(vif, c), dt, "rx_bytes"),
                          _rate(c, old.get("vif", {}).get(vif, c), dt, "tx_bytes"))
                    for vif, c in raw.get("vif", {}).items()},
            "cpu_time": float(sum(cpu_new)),      # VCPUs/CPU_time
            # VM_metrics' VCPUs/CPU and VCPUs/flags, as the backend last saw them
            "vcpu_cpu": raw.get("vcpu_cpu", {}),
            "vcpu_flags": raw.get("vcpu_flags", {}),
            "guest": raw.get("guest", {}),        # VM_guest_metrics: a guest agent's
        }
        if "domid" in raw:      # the hypervisor's own ID of the guest (Xen)
            figures["domid"] = raw["domid"]
        return figures

    def forget(self, vm):
        """Drop ``vm``'s figures (it stopped or started afresh)."""
        self._raw.pop(vm, None)
        self._vms.pop(vm, None)

    def vm(self, vm):
        """The last figures of ``vm`` ({} before its first sample)."""
        if vm == self.app.control_domain:
            return self._own
        return self._vms.get(vm, {})

    def device_rates(self, vm, kind, device):
        """(incoming, outgoing) kB/s of one VBD or VIF of ``vm``."""
        return self.vm(vm).get(kind, {}).get(device, (0.0, 0.0))

    def nic_rates(self, nic):
        """(read, write) kB/s of the host interface ``nic`` (0.0 before two samples)."""
        return self._nics.get(nic, (0.0, 0.0))
