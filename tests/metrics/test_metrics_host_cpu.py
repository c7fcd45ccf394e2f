"""host_cpu (§2.8): one object per CPU the OS reports, its features from /proc/cpuinfo,
a live utilisation, and refs that survive a daemon restart."""

import multiprocessing
import os
import time

from harness import wait_until

from xen.xend.host import facts


def _cpuinfo_flags():
    """{processor number: set of flags} read from /proc/cpuinfo here, independently."""
    out, number = {}, None
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, sep, value = line.partition(":")
            if not sep:
                continue
            key = key.strip()
            if key == "processor":
                number = int(value)
                out[number] = set()
            elif key in ("flags", "Features") and number is not None:
                out[number] = set(value.split())
    return out


def _by_number(api):
    return {int(rec["number"]): (ref, rec) for ref, rec in api.host_cpu.get_all_records().items()}


def test_one_host_cpu_per_cpu_the_os_reports(sim_api, sim_host):
    cpus = _by_number(sim_api)
    assert len(cpus) == os.cpu_count()
    assert sorted(cpus) == sorted(_cpuinfo_flags())
    for number, (ref, rec) in cpus.items():
        assert rec["host"] == sim_host
        assert int(sim_api.host_cpu.get_number(ref)) == number
        assert sim_api.host_cpu.get_host(ref) == sim_host


def test_features_are_the_cpuinfo_flags_through_the_cpu_features_table(sim_api):
    flags = _cpuinfo_flags()
    for number, (ref, rec) in _by_number(sim_api).items():
        expected = {facts.CPU_FEATURES[f] for f in flags[number] if f in facts.CPU_FEATURES}
        features = sim_api.host_cpu.get_features(ref)
        assert len(features) == len(set(features)), features
        assert set(features) == expected, (number, set(features) ^ expected)
        assert set(rec["features"]) == expected


def test_utilisation_is_a_fraction(sim_api):
    for ref, rec in sim_api.host_cpu.get_all_records().items():
        for value in (rec["utilisation"], sim_api.host_cpu.get_utilisation(ref)):
            assert isinstance(value, float)
            assert 0.0 <= value <= 1.0, value


def _spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_utilisation_rises_while_a_cpu_is_kept_busy(sim_api):
    """A process spinning on one CPU shows up within a few samples (sampler: 0.5 s)."""
    refs = sim_api.host_cpu.get_all()
    busy = multiprocessing.get_context("fork").Process(target=_spin, args=(8,))
    busy.start()
    try:
        def loaded():
            values = [sim_api.host_cpu.get_utilisation(r) for r in refs]
            assert all(0.0 <= v <= 1.0 for v in values), values
            return sum(values) >= 0.6
        wait_until(loaded, 6, "host_cpu utilisation to show a busy CPU", interval=0.1)
    finally:
        busy.terminate()
        busy.join()


def test_refs_are_stable_across_a_daemon_restart(make_daemon):
    d = make_daemon()
    host = d.api.host.get_all()[0]
    before = {ref: (rec["number"], sorted(rec["features"]), rec["host"])
              for ref, rec in d.api.host_cpu.get_all_records().items()}
    uuids = {ref: d.api.host_cpu.get_uuid(ref) for ref in before}
    d.restart()
    api = d.relogin()
    assert api.host.get_all() == [host]
    after = {ref: (rec["number"], sorted(rec["features"]), rec["host"])
             for ref, rec in api.host_cpu.get_all_records().items()}
    assert after == before
    assert {ref: api.host_cpu.get_uuid(ref) for ref in after} == uuids
    assert sorted(api.host.get_host_CPUs(host)) == sorted(before)
