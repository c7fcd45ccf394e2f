"""Facts about the machine the daemon runs on.

Everything here is read from /proc, psutil, the platform module or, for the
QEMU version, by running the QEMU binary. The module deliberately imports
nothing else from the project so that the datamodel, the API layer and the
backends can all use it without import cycles.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import socket
import subprocess
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import psutil

API_VERSION = "0.2"

CPUINFO_PATH = "/proc/cpuinfo"
KVM_DEVICE = "/dev/kvm"

# Long enough for a cold start of QEMU on a loaded host, short enough that a
# wedged binary cannot hold up the daemon.
QEMU_VERSION_TIMEOUT = 5.0

CPU_FEATURES: dict[str, str] = {
    # Standard CPUID leaf 1, EDX.
    "fpu": "FPU",
    "vme": "VME",
    "de": "DE",
    "pse": "PSE",
    "tsc": "TSC",
    "msr": "MSR",
    "pae": "PAE",
    "mce": "MCE",
    "cx8": "CX8",
    "apic": "APIC",
    "sep": "SEP",
    "mtrr": "MTRR",
    "pge": "PGE",
    "mca": "MCA",
    "cmov": "CMOV",
    "pat": "PAT",
    "pse36": "PSE36",
    "pn": "PN",
    "clflush": "CLFLSH",
    "dts": "DTES",
    "acpi": "ACPI",
    "mmx": "MMX",
    "fxsr": "FXSR",
    "sse": "XMM",
    "sse2": "XMM2",
    "ss": "SELFSNOOP",
    "ht": "HT",
    "tm": "ACC",
    "ia64": "IA64",
    # AMD extended leaf 0x80000001, EDX.
    "syscall": "SYSCALL",
    "mp": "MP",
    "nx": "NX",
    "mmxext": "MMXEXT",
    "lm": "LM",
    "3dnowext": "3DNOWEXT",
    "3dnow": "3DNOW",
    # Transmeta.
    "recovery": "RECOVERY",
    "longrun": "LONGRUN",
    "lrti": "LRTI",
    # Other vendors and kernel-synthesised flags; the k8/k7/p3/p4 and
    # fxsave_leak names were only printed by older kernels.
    "cxmmx": "CXMMX",
    "k6_mtrr": "K6_MTRR",
    "cyrix_arr": "CYRIX_ARR",
    "centaur_mcr": "CENTAUR_MCR",
    "k8": "K8",
    "k7": "K7",
    "p3": "P3",
    "p4": "P4",
    "constant_tsc": "CONSTANT_TSC",
    "fxsave_leak": "FXSAVE_LEAK",
    # Standard CPUID leaf 1, ECX.
    "pni": "XMM3",
    "monitor": "MWAIT",
    "ds_cpl": "DSCPL",
    "est": "EST",
    "tm2": "TM2",
    # Linux prints "cid"; "cnxt-id" is Intel's manual name, which flag lists
    # from other sources use. "cid" comes first so FEATURE_TO_FLAG names
    # the spelling Linux prints.
    "cid": "CID",
    "cnxt-id": "CID",
    "cx16": "CX16",
    "xtpr": "XTPR",
    # VIA/Centaur PadLock, which Linux names after the marketing terms.
    "rng": "XSTORE",
    "rng_en": "XSTORE_EN",
    "ace": "XCRYPT",
    "ace_en": "XCRYPT_EN",
    # AMD extended leaf 0x80000001, ECX.
    "lahf_lm": "LAHF_LM",
    "cmp_legacy": "CMP_LEGACY",
}
"""Map a Linux /proc/cpuinfo flag name to the spec's ``cpu_feature`` value.

Keys are the names Linux prints on the ``flags`` line (those of
arch/x86/include/asm/cpufeatures.h, plus a few only older kernels printed);
values are the enum members of the Xen Management API 0.2, section 2.3.3.
Every enum member appears at least once; a feature known by two flag names
has both listed, the one Linux prints first. Flags absent from the enum
(avx, vmx, ...) are not listed and are ignored by :func:`read_cpus`.
"""

# Walking the table backwards lets the first flag listed for a feature
# overwrite any later alias.
FEATURE_TO_FLAG: dict[str, str] = {
    feature: flag for flag, feature in reversed(CPU_FEATURES.items())
}
"""Map a ``cpu_feature`` value back to its /proc/cpuinfo flag name.

Derived from :data:`CPU_FEATURES`; for a feature with several flag names the
first one listed there wins.
"""

# The flags that show the CPU can run hardware-assisted guests: Intel VT-x
# and AMD-V respectively.
VIRT_FLAGS = frozenset({"vmx", "svm"})


@dataclass
class CpuInfo:
    """One logical CPU as described by a ``processor`` stanza of cpuinfo."""

    number: int
    vendor: str = ""
    model_name: str = ""
    mhz: float = 0.0
    flags: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    stepping: str = ""
    socket: int = 0          # "physical id": the package the CPU is in
    cores: int = 0           # "cpu cores": cores in that package (0: not shown)
    siblings: int = 0        # "siblings": logical CPUs in that package (0: not shown)


def features_from_flags(flags: Iterable[str]) -> list[str]:
    """Return the sorted, de-duplicated ``cpu_feature`` values for ``flags``.

    Flags with no counterpart in the enum are dropped.
    """
    return sorted({CPU_FEATURES[f] for f in flags if f in CPU_FEATURES})


def _stanzas(text: str) -> list[dict[str, str]]:
    """Split cpuinfo text into blank-line separated ``key: value`` dicts."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
                current = {}
            continue
        key, sep, value = line.partition(":")
        if sep:
            current[key.strip()] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0


def read_cpus(cpuinfo_text: str | None = None) -> list[CpuInfo]:
    """Describe every logical CPU listed in /proc/cpuinfo.

    ``cpuinfo_text`` replaces the file's contents (for tests). Only stanzas
    with a ``processor`` line count as CPUs: on ARM the file ends with a
    machine-wide stanza that has none. Fields a platform does not report are
    left empty (``""``, ``0.0``, ``[]``).
    """
    if cpuinfo_text is None:
        with open(CPUINFO_PATH, encoding="utf-8", errors="replace") as f:
            cpuinfo_text = f.read()
    cpus = []
    for stanza in _stanzas(cpuinfo_text):
        number = stanza.get("processor", "")
        if not number.isdigit():
            continue
        # x86 calls the list "flags"; ARM calls it "Features".
        flags = (stanza.get("flags") or stanza.get("Features") or "").split()
        cpus.append(
            CpuInfo(
                number=int(number),
                vendor=stanza.get("vendor_id", ""),
                model_name=stanza.get("model name", ""),
                mhz=_float(stanza.get("cpu MHz", "")),
                flags=flags,
                features=features_from_flags(flags),
                stepping=stanza.get("stepping", ""),
                socket=_int(stanza.get("physical id", ""), 0),
                cores=_int(stanza.get("cpu cores", ""), 0),
                siblings=_int(stanza.get("siblings", ""), 0),
            )
        )
    return cpus


def _int(value: str, default: int) -> int:
    return int(value) if value.isdigit() else default


NODES_DIR = "/sys/devices/system/node"


def numa_nodes(nodes_dir: str = NODES_DIR) -> int:
    """How many NUMA nodes the machine has (1 where the kernel shows none)."""
    try:
        names = os.listdir(nodes_dir)
    except OSError:
        return 1
    return max(1, sum(1 for n in names if re.fullmatch(r"node[0-9]+", n)))


def cpu_configuration(cpus: list[CpuInfo], nodes: int) -> dict[str, str]:
    """host.cpu_configuration of ``cpus`` (read_cpus) on ``nodes`` NUMA nodes, with the
    keys of Xen's ``xl info``: nr_cpus, nr_nodes, sockets_per_node, cores_per_socket,
    threads_per_core. Where cpuinfo shows no cores or siblings (ARM), each CPU counts as
    a core of its socket."""
    first = cpus[0] if cpus else CpuInfo(0)
    sockets = len({c.socket for c in cpus}) or 1
    cores = first.cores or max(1, len(cpus) // sockets)
    threads = first.siblings // first.cores if first.cores and first.siblings else 1
    return {"nr_cpus": str(len(cpus)), "nr_nodes": str(nodes),
            "sockets_per_node": str(max(1, sockets // nodes)),
            "cores_per_socket": str(cores), "threads_per_core": str(max(1, threads))}


# Where pygrub, the one bootloader Xen runs on the host for a guest, is installed.
BOOTLOADERS = {"pygrub": ("/usr/lib/xen/bin/pygrub", "/usr/libexec/xen/bin/pygrub",
                          "/usr/bin/pygrub", "/usr/local/bin/pygrub")}


def bootloaders() -> list[str]:
    """The bootloaders of BOOTLOADERS installed on this machine (executable)."""
    return sorted(name for name, paths in BOOTLOADERS.items()
                  if any(os.access(p, os.X_OK) for p in paths))


def memory() -> tuple[int, int]:
    """(total, available) bytes of the machine's memory."""
    vm = psutil.virtual_memory()
    return vm.total, vm.available


def cpu_utilisation() -> list[float]:
    """Return each logical CPU's utilisation as a fraction in [0.0, 1.0].

    Non-blocking: psutil measures since the previous call made by the same
    thread, so the first call in a thread covers an empty interval and is
    meaningless; sample from one long-lived thread.
    """
    return [
        min(max(percent / 100.0, 0.0), 1.0)
        for percent in psutil.cpu_percent(interval=None, percpu=True)
    ]


def cpu_seconds() -> float:
    """Seconds of CPU time the machine's CPUs have been busy since it booted, together:
    user, nice, system and interrupt time (not idle, I/O wait or time stolen by a
    hypervisor; Linux counts guest time inside user and nice)."""
    t = psutil.cpu_times()
    return sum(getattr(t, k, 0.0) for k in ("user", "nice", "system", "irq", "softirq"))


def boot_time() -> float:
    """When the machine booted, in seconds since the epoch."""
    return psutil.boot_time()


def host_facts() -> dict:
    """Return static and slowly changing facts about this host.

    Keys: ``hostname``, ``kernel`` (release), ``machine`` (e.g. x86_64),
    ``python`` (version), ``memory_total`` and ``memory_free`` (bytes) and
    ``cpu_count`` (logical CPUs). ``memory_free`` is what the kernel reports
    as available, not its narrower "free" figure, because page cache is
    reclaimed when guests need the memory.
    """
    memory = psutil.virtual_memory()
    return {
        "hostname": socket.gethostname(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "memory_total": memory.total,
        "memory_free": memory.available,
        "cpu_count": os.cpu_count() or len(read_cpus()),
    }


def software_version(extra: Mapping[str, str]) -> dict[str, str]:
    """Return the host's software_version map (string to string).

    ``extra`` must supply ``"xend"`` (the daemon's version, passed in so this
    module need not import the project) and may add further entries, such as
    ``"qemu"``; its entries are applied last. ``python``, ``kernel`` and
    ``API`` are filled in here. Raises ValueError without ``"xend"`` and
    TypeError for a non-string key or value, because the map goes out over
    XML-RPC as a string map.
    """
    if "xend" not in extra:
        raise ValueError("software_version needs the xend version in extra")
    for key, value in extra.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"software_version entries must be str: {key!r}: {value!r}")
    versions = {
        "python": platform.python_version(),
        "kernel": platform.release(),
        "API": API_VERSION,
    }
    versions.update(extra)
    return versions


_QEMU_VERSION_RE = re.compile(r"version\s+(\d+(?:\.\d+)+)")


@functools.lru_cache(maxsize=None)
def qemu_version(binary: str = "qemu-system-x86_64") -> str:
    """Return the version of the QEMU ``binary`` (e.g. "7.2.0"), or "".

    Runs ``BINARY --version`` without a shell. "" means the binary is
    missing, not executable, timed out, failed or printed no version. The
    result is cached per binary for the life of the process, since the
    daemon would otherwise fork QEMU on every host record read.
    """
    try:
        result = subprocess.run(
            [binary, "--version"],
            capture_output=True,
            text=True,
            timeout=QEMU_VERSION_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if result.returncode != 0:
        return ""
    match = _QEMU_VERSION_RE.search(result.stdout)
    return match.group(1) if match else ""


def has_kvm(device: str = KVM_DEVICE, flags: Iterable[str] | None = None) -> bool:
    """Return True when QEMU can use KVM acceleration on this host.

    Both conditions are needed: ``device`` (default /dev/kvm) opens
    read-write, and the CPU flags include vmx or svm. Some hosts expose a
    /dev/kvm without hardware virtualisation, on which guests do not boot.
    ``flags`` defaults to the union of every CPU's flags from /proc/cpuinfo.
    """
    if flags is None:
        flags = {flag for cpu in read_cpus() for flag in cpu.flags}
    if VIRT_FLAGS.isdisjoint(flags):
        return False
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


KMSG = "/dev/kmsg"


def kernel_log(pattern: str, after: int = -1, device: str = KMSG) -> list[tuple[int, str]]:
    """The records of the kernel's log buffer after sequence number ``after`` whose text
    matches ``pattern`` (a regular expression, case-insensitive), oldest first, as
    (sequence number, "[SECONDS] TEXT"); [] where the log cannot be read (no /dev/kmsg,
    or not allowed)."""
    matching = re.compile(pattern, re.IGNORECASE)
    try:
        fd = os.open(device, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return []
    lines = []
    try:
        while True:
            try:
                record = os.read(fd, 8192).decode(errors="replace")
            except BlockingIOError:     # the end of the buffer
                break
            except BrokenPipeError:     # a record overwritten while reading: go on
                continue
            head, _, text = record.partition(";")
            fields = head.split(",")
            text = text.split("\n", 1)[0]
            if len(fields) >= 3 and int(fields[1]) > after and matching.search(text):
                lines.append((int(fields[1]), "[%12.6f] %s" % (int(fields[2]) / 1e6, text)))
    finally:
        os.close(fd)
    return lines
