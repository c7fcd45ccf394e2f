"""VM lifecycle latency on the QEMU backend, through the API, with libvirt as a baseline.

Starts its own daemon (tests.conftest.Daemon, ``--backend qemu``) and, over ROUNDS
rounds (after one warm-up round that is not counted), times each call with
time.perf_counter() around the XenAPI SDK call, i.e. until the daemon's reply:

* on a guest with no OS (BIOS, 64 MiB, 1 vCPU): start, pause, unpause,
  suspend (live=false), resume, hard_shutdown;
* on the tiny Linux guest (tests/guest/build.py, 128 MiB): clean_shutdown, once
  the guest's console says it is ready. "boot to ready" (start until the console
  line) is printed for information.

Baseline, in the same run where libvirt is installed and libvirtd answers on
qemu:///system: the same operations through ``virsh`` on the same QEMU binary
(domain type qemu, i.e. TCG, the same memory and kernel): start, suspend, resume,
save, restore, destroy, and shutdown followed by polling ``virsh domstate`` until
"shut off" (virsh shutdown returns before the guest is down). Rounds alternate between
xend and libvirt so that load from elsewhere weighs on both alike. Every virsh figure
includes starting the virsh client; its cost is printed on its own line. libvirt
builds its own QEMU command line (a few default devices more, QEMU run with
-no-shutdown); both keep the console in a file. The ratio is libvirt's median over
xend's median (above 1: xend is faster).

Without libvirt it prints "libvirt: not installed, no baseline". To get the baseline:
``apt-get install -y libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
libvirt-daemon-system``, then start ``virtlogd -d`` and ``libvirtd -d`` by hand (no
systemd here); see ../shared/notes/qemu.md (relative to the repository).

Run: .venv/bin/python bench/lifecycle.py [ROUNDS]   (no asserts on time;
BENCH_LIFECYCLE_ROUNDS also sets the rounds, default 10)
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.harness import Daemon, wait_until  # noqa: E402

ROUNDS = int(sys.argv[1] if len(sys.argv) > 1 else
             os.environ.get("BENCH_LIFECYCLE_ROUNDS", "10"))
WARMUP = 1
MIB = 1 << 20
NO_OS_MIB = 64
TINY_MIB = 128
READY = "xend-test: ready"
BOOT_WAIT = 120.0
VIRSH_URI = "qemu:///system"

NO_OS_OPS = ["start", "pause", "unpause", "suspend", "resume", "hard_shutdown"]
TINY_OPS = ["clean_shutdown"]
INFO_OPS = ["boot to ready"]
# xend operation -> what virsh does for it
VIRSH_NAMES = {"start": "start", "pause": "suspend", "unpause": "resume",
               "suspend": "save", "resume": "restore", "hard_shutdown": "destroy",
               "clean_shutdown": "shutdown+wait", "boot to ready": "start+wait",
               "no-op": "version"}


def percentile(samples, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(samples)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def median(samples):
    s = sorted(samples)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def timed(fn, *args):
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def tiny_guest(directory):
    """tests/guest/build.py's guest, its files pinned in ``directory`` (hard links): the
    builder prunes the cache entries of other recipe versions, which a concurrent build
    of an edited recipe would do in the middle of the run."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "xend_test_guest_build", os.path.join(ROOT, "tests", "guest", "build.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for attempt in range(3):
        guest = dict(module.build())
        try:
            for key in ("kernel", "initrd"):
                pinned = os.path.join(directory, key)
                try:
                    os.link(guest[key], pinned)
                except FileNotFoundError:
                    raise
                except OSError:
                    shutil.copyfile(guest[key], pinned)
                guest[key] = pinned
            return guest
        except FileNotFoundError:
            for key in ("kernel", "initrd"):
                try:
                    os.unlink(os.path.join(directory, key))
                except FileNotFoundError:
                    pass
            if attempt == 2:
                raise


def memory(mib):
    size = str(mib * MIB)
    return {"memory_static_min": str(16 * MIB), "memory_dynamic_min": size,
            "memory_dynamic_max": size, "memory_static_max": size}


# -- xend -------------------------------------------------------------------------------

class Xend:
    def __init__(self, guest):
        self.guest = guest
        self.daemon = Daemon(backend="qemu", extra_config="shutdown_timeout = 60\n")

    def __enter__(self):
        self.daemon.start()
        self.api = self.daemon.sdk_unix().xenapi
        return self

    def __exit__(self, *exc):
        try:
            for vm, rec in self.api.VM.get_all_records().items():
                if rec["power_state"] != "Halted":
                    self.api.VM.hard_shutdown(vm)
        finally:
            self.daemon.kill9()
            kill_qemus_under(self.daemon.dir)
            self.daemon.cleanup()

    def no_os_vm(self):
        rec = {"name_label": "bench-noos", "boot_method": "bios", "bios_boot": "HD"}
        rec.update(memory(NO_OS_MIB))
        return self.api.VM.create(rec)

    def tiny_vm(self):
        rec = {"name_label": "bench-tiny", "boot_method": "kernel_external",
               "kernel_kernel": self.guest["kernel"], "kernel_initrd": self.guest["initrd"],
               "kernel_args": self.guest["cmdline"]}
        rec.update(memory(TINY_MIB))
        return self.api.VM.create(rec)

    def round(self, no_os, tiny):
        vm, t = self.api.VM, {}
        t["start"] = timed(vm.start, no_os, False)
        t["pause"] = timed(vm.pause, no_os)
        t["unpause"] = timed(vm.unpause, no_os)
        t["suspend"] = timed(vm.suspend, no_os, False)
        t["resume"] = timed(vm.resume, no_os, False)
        t["hard_shutdown"] = timed(vm.hard_shutdown, no_os)

        console = os.path.join(self.daemon.state_dir, "vms", tiny, "console.log")
        seen = read(console).count(READY)
        began = time.perf_counter()
        vm.start(tiny, False)
        wait_until(lambda: read(console).count(READY) > seen, BOOT_WAIT, "the tiny guest",
                   interval=0.01)
        t["boot to ready"] = time.perf_counter() - began
        t["clean_shutdown"] = timed(vm.clean_shutdown, tiny)
        assert vm.get_power_state(tiny) == "Halted"
        return t


def kill_qemus_under(directory):
    """SIGKILL any QEMU left running in a guest dir under ``directory``."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % entry)
            with open("/proc/%s/comm" % entry) as f:
                comm = f.read()
        except OSError:
            continue
        if comm.startswith("qemu-system") and cwd.startswith(directory.rstrip("/") + "/"):
            try:
                os.kill(int(entry), signal.SIGKILL)
            except ProcessLookupError:
                pass


# -- libvirt ----------------------------------------------------------------------------

def virsh(*args, check=True, timeout=300):
    out = subprocess.run(["virsh", "-q", "-c", VIRSH_URI] + list(args), capture_output=True,
                         text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise RuntimeError("virsh %s: %s" % (" ".join(args), out.stderr.strip()))
    return out.stdout.strip()


def libvirt_status():
    """None when a baseline can be measured, else why not."""
    if shutil.which("virsh") is None:
        return "not installed"
    try:
        out = subprocess.run(["virsh", "-c", VIRSH_URI, "version"], capture_output=True,
                             text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "libvirtd does not answer on %s" % VIRSH_URI
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["virsh failed"])[-1]
        return ("installed, but libvirtd does not answer on %s (start virtlogd -d and "
                "libvirtd -d): %s" % (VIRSH_URI, last))
    return None


DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>{mib}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    {boot}
  </os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact' check='none'><model fallback='allow'>qemu64</model></cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{qemu}</emulator>
    <serial type='file'><source path='{console}' append='on'/><target port='0'/></serial>
    <memballoon model='virtio'/>
  </devices>
  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>
</domain>
"""


class Libvirt:
    """The same operations through virsh, on domains of this run's own (removed after)."""

    def __init__(self, guest, qemu):
        self.guest = guest
        self.qemu = qemu
        self.dir = tempfile.mkdtemp(prefix="xendbench-libvirt-")
        self.domains = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for name in self.domains:
            virsh("destroy", name, check=False)
            virsh("undefine", name, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def define(self, kind):
        name = "xendbench-%s-%s" % (kind, uuid.uuid4().hex[:8])
        console = os.path.join(self.dir, name + ".console")
        if kind == "tiny":
            boot = ("<kernel>{k}</kernel><initrd>{i}</initrd><cmdline>{c}</cmdline>"
                    .format(k=self.guest["kernel"], i=self.guest["initrd"],
                            c=self.guest["cmdline"]))
            mib = TINY_MIB
        else:
            boot, mib = "<boot dev='hd'/>", NO_OS_MIB
        path = os.path.join(self.dir, name + ".xml")
        with open(path, "w") as f:
            f.write(DOMAIN_XML.format(name=name, uuid=uuid.uuid4(), mib=mib, boot=boot,
                                      qemu=self.qemu, console=console))
        virsh("define", path)
        self.domains.append(name)
        return name, console

    def round(self, no_os, tiny):
        name, _ = no_os
        save = os.path.join(self.dir, name + ".save")
        t = {"no-op": timed(virsh, "version")}
        t["start"] = timed(virsh, "start", name)
        t["pause"] = timed(virsh, "suspend", name)
        t["unpause"] = timed(virsh, "resume", name)
        t["suspend"] = timed(virsh, "save", name, save)
        t["resume"] = timed(virsh, "restore", save)
        os.unlink(save)
        t["hard_shutdown"] = timed(virsh, "destroy", name)

        name, console = tiny
        seen = read(console).count(READY)
        began = time.perf_counter()
        virsh("start", name)
        wait_until(lambda: read(console).count(READY) > seen, BOOT_WAIT, "the tiny guest",
                   interval=0.01)
        t["boot to ready"] = time.perf_counter() - began
        began = time.perf_counter()
        virsh("shutdown", name)
        wait_until(lambda: virsh("domstate", name) == "shut off", 120, name + " to shut off",
                   interval=0.01)
        t["clean_shutdown"] = time.perf_counter() - began
        return t


# -- the run ----------------------------------------------------------------------------

def run(sides):
    """Rounds of every side in turn (xend, then libvirt), so a change in the machine's
    load during the run weighs on both alike. Returns {side name: {op: [seconds]}}."""
    samples = {name: {} for name, _ in sides}
    vms = {name: make() for name, (side, make) in sides}
    for i in range(WARMUP + ROUNDS):
        for name, (side, _) in sides:
            t = side.round(*vms[name])
            if i >= WARMUP:
                for op, seconds in t.items():
                    samples[name].setdefault(op, []).append(seconds)
    return samples


def ms(seconds):
    return "%9.1f" % (seconds * 1000)


def main():
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        print("qemu-system-x86_64 is not installed: nothing to measure")
        return 1
    why_not = libvirt_status()
    began = time.monotonic()
    with contextlib.ExitStack() as stack:
        pin = stack.enter_context(tempfile.TemporaryDirectory(prefix="xendbench-guest-"))
        os.chmod(pin, 0o755)
        guest = tiny_guest(pin)
        xend = stack.enter_context(Xend(guest))
        sides = [("xend", (xend, lambda: (xend.no_os_vm(), xend.tiny_vm())))]
        if why_not is None:
            lv = stack.enter_context(Libvirt(guest, qemu))
            sides.append(("libvirt", (lv, lambda: (lv.define("noos"), lv.define("tiny")))))
        samples = run(sides)
    seconds = time.monotonic() - began
    ours, theirs = samples["xend"], samples.get("libvirt")

    qemu_version = subprocess.run([qemu, "--version"], capture_output=True,
                                  text=True).stdout.splitlines()[0]
    print("VM lifecycle, %d rounds (+%d warm-up), %s, TCG unless KVM is usable" % (
        ROUNDS, WARMUP, qemu_version))
    print("times in ms; no OS guest: %d MiB BIOS; tiny guest: %d MiB Linux" % (
        NO_OS_MIB, TINY_MIB))
    print()
    header = "%-28s %9s %9s" % ("operation", "median", "p95")
    if theirs:
        header += "   %-14s %9s %9s %7s" % ("virsh", "median", "p95", "ratio")
    print(header)
    print("-" * len(header))
    rows = [(op, "no OS") for op in NO_OS_OPS] + [(op, "tiny") for op in TINY_OPS] + \
        [(op, "tiny, info") for op in INFO_OPS]
    for op, guest_kind in rows:
        line = "%-28s %s %s" % ("%s (%s)" % (op, guest_kind), ms(median(ours[op])),
                                ms(percentile(ours[op], 95)))
        if theirs:
            ratio = median(theirs[op]) / median(ours[op])
            line += "   %-14s %s %s %7.2f" % (VIRSH_NAMES[op], ms(median(theirs[op])),
                                              ms(percentile(theirs[op], 95)), ratio)
        print(line)
    if theirs:
        print("%-28s %9s %9s   %-14s %s %s" % ("(virsh client alone)", "", "", "version",
                                               ms(median(theirs["no-op"])),
                                               ms(percentile(theirs["no-op"], 95))))
        print()
        print("ratio = virsh median / xend median (above 1: xend is faster); rounds "
              "alternate between the two; %.0f s in all" % seconds)
    else:
        print()
        if why_not == "not installed":
            print("libvirt: not installed, no baseline")
        else:
            print("libvirt: %s; no baseline" % why_not)
        print("%.0f s in all" % seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
