"""Tests for xen.xend.host.facts: host CPU, memory and version facts."""

import os
import stat
import textwrap
import time

import pytest

from xen.xend.host import facts as hostinfo

# The cpu_feature enum, copied from §2.3.3 of the spec rather than imported
# from the datamodel so that this test stands on its own.
SPEC_CPU_FEATURES = frozenset("""
    FPU VME DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA CMOV PAT PSE36 PN
    CLFLSH DTES ACPI MMX FXSR XMM XMM2 SELFSNOOP HT ACC IA64 SYSCALL MP NX
    MMXEXT LM 3DNOWEXT 3DNOW RECOVERY LONGRUN LRTI CXMMX K6_MTRR CYRIX_ARR
    CENTAUR_MCR K8 K7 P3 P4 CONSTANT_TSC FXSAVE_LEAK XMM3 MWAIT DSCPL EST TM2
    CID CX16 XTPR XSTORE XSTORE_EN XCRYPT XCRYPT_EN LAHF_LM CMP_LEGACY
""".split())

# Two logical CPUs with different flag lists, in the layout of a real x86
# /proc/cpuinfo (tab before the colon, blank line between stanzas).
SAMPLE_CPUINFO = textwrap.dedent("""\
    processor\t: 0
    vendor_id\t: GenuineIntel
    cpu family\t: 6
    model name\t: Intel(R) Xeon(R) CPU E5-2620 0 @ 2.00GHz
    cpu MHz\t\t: 1999.998
    flags\t\t: fpu vme sse sse2 pni monitor avx vmx ss tm lm sse

    processor\t: 1
    vendor_id\t: GenuineIntel
    cpu family\t: 6
    model name\t: Intel(R) Xeon(R) CPU E5-2620 0 @ 2.00GHz
    cpu MHz\t\t: 1200.000
    flags\t\t: fpu clflush dts cx16 lahf_lm made_up_flag

    """)


def test_spec_list_is_complete():
    # Guards the hand-copied list above against a dropped name.
    assert len(SPEC_CPU_FEATURES) == 63


def test_table_maps_only_onto_spec_enum():
    assert set(hostinfo.CPU_FEATURES.values()) <= SPEC_CPU_FEATURES


def test_table_covers_whole_enum():
    assert set(hostinfo.CPU_FEATURES.values()) == SPEC_CPU_FEATURES


def test_table_keys_look_like_cpuinfo_flags():
    for flag in hostinfo.CPU_FEATURES:
        assert flag == flag.lower() and " " not in flag, flag


@pytest.mark.parametrize("flag, feature", [
    ("fpu", "FPU"), ("sse", "XMM"), ("sse2", "XMM2"), ("pni", "XMM3"),
    ("clflush", "CLFLSH"), ("dts", "DTES"), ("ss", "SELFSNOOP"),
    ("tm", "ACC"), ("monitor", "MWAIT"), ("ds_cpl", "DSCPL"),
    ("cid", "CID"), ("cnxt-id", "CID"), ("rng", "XSTORE"),
    ("rng_en", "XSTORE_EN"), ("ace", "XCRYPT"), ("ace_en", "XCRYPT_EN"),
    ("3dnowext", "3DNOWEXT"), ("lahf_lm", "LAHF_LM"),
    ("cmp_legacy", "CMP_LEGACY"), ("constant_tsc", "CONSTANT_TSC"),
])
def test_known_flag_names(flag, feature):
    assert hostinfo.CPU_FEATURES[flag] == feature


def test_reverse_table_round_trips():
    assert set(hostinfo.FEATURE_TO_FLAG) == SPEC_CPU_FEATURES
    for feature, flag in hostinfo.FEATURE_TO_FLAG.items():
        assert hostinfo.CPU_FEATURES[flag] == feature


def test_reverse_table_prefers_linux_spelling():
    assert hostinfo.FEATURE_TO_FLAG["CID"] == "cid"


def test_read_cpus_from_sample_text():
    cpus = hostinfo.read_cpus(SAMPLE_CPUINFO)

    assert [cpu.number for cpu in cpus] == [0, 1]
    first, second = cpus
    assert first.vendor == "GenuineIntel"
    assert first.model_name == "Intel(R) Xeon(R) CPU E5-2620 0 @ 2.00GHz"
    assert first.mhz == pytest.approx(1999.998)
    assert second.mhz == pytest.approx(1200.0)
    # Raw flags are kept as printed, unknown ones and duplicates included.
    assert second.flags == ["fpu", "clflush", "dts", "cx16", "lahf_lm",
                            "made_up_flag"]
    # avx and vmx are not in the enum; sse appears twice but counts once.
    assert first.features == ["ACC", "FPU", "LM", "MWAIT", "SELFSNOOP",
                              "VME", "XMM", "XMM2", "XMM3"]
    assert second.features == ["CLFLSH", "CX16", "DTES", "FPU", "LAHF_LM"]


def test_read_cpus_skips_stanzas_without_processor():
    # ARM kernels end the file with a machine-wide stanza of this shape.
    text = ("processor\t: 0\nFeatures\t: fp asimd\n\n"
            "Hardware\t: BCM2835\nRevision\t: a02082\n")
    cpus = hostinfo.read_cpus(text)
    assert [cpu.number for cpu in cpus] == [0]
    assert cpus[0].flags == ["fp", "asimd"]
    assert cpus[0].features == []


def test_real_cpu_count_matches_os():
    assert len(hostinfo.read_cpus()) == os.cpu_count()


def test_real_features_are_in_enum():
    cpus = hostinfo.read_cpus()
    for cpu in cpus:
        assert set(cpu.features) <= SPEC_CPU_FEATURES
        assert cpu.features == sorted(cpu.features)


def test_utilisation_is_a_fraction_per_cpu():
    hostinfo.cpu_utilisation()  # the first call in a thread sets a baseline
    # Keep one CPU busy so a percentage left unscaled would exceed 1.0.
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:
        pass
    values = hostinfo.cpu_utilisation()
    assert len(values) == os.cpu_count()
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in values)
    assert max(values) > 0.0


def test_host_facts():
    facts = hostinfo.host_facts()
    assert set(facts) == {"hostname", "kernel", "machine", "python",
                          "memory_total", "memory_free", "cpu_count"}
    assert facts["hostname"] and facts["kernel"] and facts["machine"]
    assert facts["cpu_count"] == os.cpu_count()
    assert 0 < facts["memory_free"] <= facts["memory_total"]


def test_software_version_keys():
    versions = hostinfo.software_version({"xend": "0.1", "qemu": "7.2.0"})
    assert set(versions) == {"xend", "python", "kernel", "API", "qemu"}
    assert versions["API"] == "0.2"
    assert versions["xend"] == "0.1"
    assert versions["qemu"] == "7.2.0"
    assert all(isinstance(k, str) and isinstance(v, str)
               for k, v in versions.items())


def test_software_version_requires_xend():
    with pytest.raises(ValueError):
        hostinfo.software_version({"qemu": "7.2.0"})


def test_software_version_rejects_non_strings():
    with pytest.raises(TypeError):
        hostinfo.software_version({"xend": "0.1", "build": 42})


def _script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_qemu_version_parses_output(tmp_path):
    calls = tmp_path / "calls"
    binary = _script(tmp_path / "qemu", (
        f'echo run >> "{calls}"\n'
        'echo "QEMU emulator version 7.2.0 (Debian 1:7.2+dfsg-7+deb12u6)"\n'
        'echo "Copyright (c) 2003-2022 Fabrice Bellard"\n'))
    assert hostinfo.qemu_version(binary) == "7.2.0"
    assert hostinfo.qemu_version(binary) == "7.2.0"
    # The second answer came from the cache, not a second run.
    assert calls.read_text().splitlines() == ["run"]


def test_qemu_version_missing_binary(tmp_path):
    assert hostinfo.qemu_version(str(tmp_path / "no-such-qemu")) == ""


def test_qemu_version_failing_binary(tmp_path):
    binary = _script(tmp_path / "qemu",
                     'echo "QEMU emulator version 7.2.0"\nexit 1\n')
    assert hostinfo.qemu_version(binary) == ""


def test_has_kvm_false_without_virt_flags(tmp_path):
    device = tmp_path / "kvm"
    device.touch()  # opens read-write, so only the flags can say no
    assert hostinfo.has_kvm(str(device), flags=["fpu", "sse2", "lm"]) is False


@pytest.mark.parametrize("flag", ["vmx", "svm"])
def test_has_kvm_true_with_virt_flag_and_device(tmp_path, flag):
    device = tmp_path / "kvm"
    device.touch()
    assert hostinfo.has_kvm(str(device), flags=["fpu", flag]) is True


def test_has_kvm_false_without_device(tmp_path):
    assert hostinfo.has_kvm(str(tmp_path / "kvm"), flags=["vmx"]) is False


def test_has_kvm_real_host_without_virt_flags():
    flags = {f for cpu in hostinfo.read_cpus() for f in cpu.flags}
    if flags & {"vmx", "svm"}:
        pytest.skip("this host has hardware virtualisation")
    # Holds even where /dev/kvm exists and opens (see notes/qemu.md).
    assert hostinfo.has_kvm() is False


# -- host.cpu_configuration ------------------------------------------------------------------

def _stanza(n, package, cores="2", siblings="4"):
    return ("processor\t: %d\nstepping\t: 7\nphysical id\t: %d\nsiblings\t: %s\n"
            "cpu cores\t: %s\n\n" % (n, package, siblings, cores))


def test_cpu_configuration_of_two_hyperthreaded_packages():
    text = "".join(_stanza(n, n // 4) for n in range(8))
    cpus = hostinfo.read_cpus(text)
    assert (cpus[5].socket, cpus[5].cores, cpus[5].siblings, cpus[5].stepping) == (1, 2, 4, "7")
    assert hostinfo.cpu_configuration(cpus, 2) == {
        "nr_cpus": "8", "nr_nodes": "2", "sockets_per_node": "1", "cores_per_socket": "2",
        "threads_per_core": "2"}


def test_cpu_configuration_without_topology_lines_counts_cores():
    # ARM's cpuinfo names no packages, cores or siblings.
    cpus = hostinfo.read_cpus("processor\t: 0\n\nprocessor\t: 1\n\nprocessor\t: 2\n")
    assert hostinfo.cpu_configuration(cpus, 1) == {
        "nr_cpus": "3", "nr_nodes": "1", "sockets_per_node": "1", "cores_per_socket": "3",
        "threads_per_core": "1"}


def test_numa_nodes(tmp_path):
    assert hostinfo.numa_nodes(str(tmp_path / "absent")) == 1
    for name in ("node0", "node1", "online", "nodeX", "power"):
        (tmp_path / name).mkdir()
    assert hostinfo.numa_nodes(str(tmp_path)) == 2


def test_bootloaders_are_the_installed_ones(tmp_path, monkeypatch):
    pygrub = tmp_path / "pygrub"
    monkeypatch.setattr(hostinfo, "BOOTLOADERS", {"pygrub": (str(pygrub),)})
    assert hostinfo.bootloaders() == []
    pygrub.write_text("#!/bin/sh\n")
    assert hostinfo.bootloaders() == []          # not executable
    pygrub.chmod(0o755)
    assert hostinfo.bootloaders() == ["pygrub"]
