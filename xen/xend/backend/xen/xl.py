"""Running ``xl`` (and ``xenpm``), and reading what they print.

``Xl`` runs the commands and keeps the last ``xl list -v`` for readers that may use
a slightly stale one (the sampler); the parsers below are pure functions.
"""

import dataclasses
import subprocess
import time

from ..base import BackendError

# Under nested emulation `xl create` takes 7-14 s; a save of a big guest, minutes.
XL_TIMEOUT = 180.0
SAVE_TIMEOUT = 600.0
MIB = 1024 * 1024           # xl counts memory in MiB

# Shutdown reason codes of the hypervisor (xl list -v, "Reason-Code" column).
SHUTDOWN_POWEROFF, SHUTDOWN_REBOOT, SHUTDOWN_SUSPEND, SHUTDOWN_CRASH, \
    SHUTDOWN_WATCHDOG, SHUTDOWN_SOFT_RESET = range(6)


class XlFailed(BackendError):
    """xl ended with an error: INTERNAL_ERROR with the end of what it said; ``.stderr``
    holds all of it, for callers that tell one failure from another."""

    def __init__(self, command, stderr):
        tail = " ".join(stderr.strip().splitlines()[-3:])
        super().__init__("INTERNAL_ERROR", "xl %s: %s" % (command, tail))
        self.stderr = stderr


class Xl:
    """The ``xl`` command at ``path``."""

    def __init__(self, path):
        self.path = path
        self._listing = (0.0, {})

    def run(self, *args, timeout=XL_TIMEOUT):
        """Run xl; its stdout, or BackendError with the end of its stderr."""
        try:
            done = subprocess.run([self.path, *args], capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise BackendError("INTERNAL_ERROR", "xl %s: no answer in %d s"
                               % (args[0], timeout)) from None
        except OSError as e:
            raise BackendError("INTERNAL_ERROR", "xl: %s" % e) from None
        if done.returncode != 0:
            raise XlFailed(args[0], done.stderr or done.stdout)
        return done.stdout

    def list(self, max_age):
        """``xl list -v`` by uuid (parse_list_verbose), reused while younger than
        ``max_age`` seconds."""
        taken, listing = self._listing
        if time.monotonic() - taken > max_age:
            listing = parse_list_verbose(self.run("list", "-v"))
            self._listing = (time.monotonic(), listing)
        return listing

    def forget_listing(self):
        """Make the next ``list`` ask xl again, whatever its ``max_age``."""
        self._listing = (0.0, {})

    def vcpu_list(self):
        """``xl vcpu-list``: {domid: [VcpuRow per vCPU]} (parse_vcpu_list)."""
        return parse_vcpu_list(self.run("vcpu-list"))

    def info(self):
        """``xl info`` as a dict."""
        return parse_info(self.run("info"))


def cpu_idle(xenpm):
    """Idle seconds per physical CPU from ``xenpm get-cpuidle-states`` (``xenpm``: its
    path), by CPU number; None where xenpm does not answer."""
    try:
        return parse_cpuidle(subprocess.run(
            [xenpm, "get-cpuidle-states"], capture_output=True, text=True,
            timeout=10, check=False).stdout)
    except (OSError, subprocess.TimeoutExpired):
        return None


def parse_list_verbose(text):
    """Domains from ``xl list -v``: {uuid: {"domid", "name", "mem_mib", "vcpus", "state",
    "reason"}}; ``state`` is xl's six flags ("r-----"), ``reason`` the shutdown
    reason code or None while the domain is not shut down."""
    out = {}
    for line in text.splitlines()[1:]:
        # Name ID Mem VCPUs State Time(s) UUID Reason-Code Security-Label, read from the
        # right: a name made by hand may hold spaces.
        cols = line.split()
        if len(cols) < 9 or not cols[-8].isdigit():
            continue
        domid, mem, vcpus, state, _, uuid, reason, _ = cols[-8:]
        out[uuid] = {"domid": int(domid), "name": " ".join(cols[:-8]), "mem_mib": int(mem),
                     "vcpus": int(vcpus), "state": state,
                     "reason": int(reason, 16) if reason != "-" else None}
    return out


@dataclasses.dataclass(frozen=True)
class VcpuRow:
    """One vCPU of ``xl vcpu-list``: its CPU seconds, the physical CPU it is on (or
    last ran on; -1 while it is offline) and Xen's flags of it (VM_metrics.VCPUs_flags:
    "online", "running", "blocked")."""
    seconds: float = 0.0
    cpu: int = -1
    flags: tuple = ()


def parse_vcpu_list(text):
    """``xl vcpu-list``: {domid: [VcpuRow, by vCPU number]}. xl's State column is
    "r" (running) and "b" (blocked), or "p" for an offline vCPU, whose CPU is "-"."""
    out = {}
    for line in text.splitlines()[1:]:
        cols = line.split()
        # Name ID VCPU CPU State Time(s) Affinity...
        if len(cols) < 6 or not cols[1].isdigit() or not cols[2].isdigit():
            continue
        try:
            seconds = float(cols[5])
        except ValueError:
            continue
        online = cols[3].isdigit()
        flags = (("online",) if online else ()) + tuple(
            name for letter, name in (("r", "running"), ("b", "blocked")) if letter in cols[4])
        rows = out.setdefault(int(cols[1]), [])
        vcpu = int(cols[2])
        rows.extend([VcpuRow()] * (vcpu + 1 - len(rows)))
        rows[vcpu] = VcpuRow(seconds, int(cols[3]) if online else -1, flags)
    return out


def parse_cpuidle(text):
    """Idle seconds per physical CPU from ``xenpm get-cpuidle-states``:
    {cpu number: seconds}, from each CPU's ``cpu id`` and ``idle time(ms)`` lines."""
    out = {}
    cpu = None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep:
            continue
        if key == "cpu id" and value.isdigit():
            cpu = int(value)
        elif key == "idle time(ms)" and cpu is not None and value.isdigit():
            out[cpu] = int(value) / 1000.0
    return out


def parse_info(text):
    """``xl info`` as a dict of its ``key : value`` lines."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def power_state(entry):
    """The API power state of a listed domain: Paused, Running, or None once it has
    shut down (or is dying)."""
    flags = entry["state"]
    if "s" in flags or "c" in flags or "d" in flags:
        return None
    return "Paused" if "p" in flags else "Running"
