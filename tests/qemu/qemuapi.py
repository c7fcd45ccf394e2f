"""Helpers of the QEMU API tier: VMs made through the SDK, QEMU processes seen from outside.

Everything a test learns about a guest it learns either through the API or from the
host, the way an administrator would: ``pgrep`` for the QEMU process (found by its
``-uuid``), ``/proc`` for its vCPU threads, the guest's serial console log and
``qemu-img`` for images. Nothing here imports the daemon's own modules except the
lifecycle table, which the tests check the daemon against.
"""

import importlib.util
import os
import shutil
import signal
import subprocess
import time

import pytest
import XenAPI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

QEMU = shutil.which("qemu-system-x86_64")
requires_qemu = pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed")

MIB = 1 << 20
NO_OS_MEMORY = 64 * MIB
TINY_MEMORY = 128 * MIB
READY = "xend-test: ready"

# Upper bounds for waits (reaching one is a failure, never an expectation).
BOOT_WAIT = 90
EVENT_WAIT = 60
STATE_WAIT = 20


# -- waiting and failures ----------------------------------------------------------------

def wait_until(predicate, timeout, what="condition"):
    """Poll ``predicate`` until it is truthy; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.05)


def failure(fn, *args):
    """Call an SDK method that must fail; return its ErrorDescription."""
    try:
        value = fn(*args)
    except XenAPI.Failure as e:
        return e.details
    raise AssertionError("expected a Failure, got Success %r" % (value,))


# -- QEMU processes, seen from the host --------------------------------------------------

def qemu_pids(vm):
    """Live QEMU processes of ``vm``: ``pgrep -f`` on its ``-uuid`` (zombies have no
    command line, so they never match)."""
    out = subprocess.run(["pgrep", "-f", "qemu-system-x86_64 .*-uuid %s( |$)" % vm],
                         capture_output=True, text=True).stdout
    return sorted(int(p) for p in out.split())


def the_pid(vm):
    pids = qemu_pids(vm)
    assert len(pids) == 1, "VM %s: expected one QEMU process, found %s" % (vm, pids)
    return pids[0]


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return [a.decode() for a in f.read().split(b"\0")[:-1]]


def vcpu_ticks(pid):
    """CPU time (clock ticks) of the QEMU vCPU threads of ``pid`` (named "CPU n/TCG" or
    "CPU n/KVM" thanks to -name debug-threads=on)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if not f.read().startswith("CPU "):
                    continue
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def assert_executes(pid, since, timeout=10):
    """The guest's vCPUs run: their CPU time grows beyond ``since``. A no-OS guest burns
    CPU only in SeaBIOS's POST, so this is meaningful right after a start or reset."""
    wait_until(lambda: vcpu_ticks(pid) > since, timeout,
               "the vCPUs of QEMU %d to execute (CPU time stayed at %d ticks)" % (pid, since))


def kill_qemus_under(directory):
    """SIGKILL every live QEMU whose working directory is below ``directory`` (a daemon's
    state dir: QEMU runs in its guest's state dir). Returns the pids killed."""
    killed = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            cwd = os.readlink("/proc/%d/cwd" % pid)
            with open("/proc/%d/comm" % pid) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm.startswith("qemu-system") and (cwd + "/").startswith(directory.rstrip("/") + "/"):
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
    return killed


# -- the daemon's files (where the daemon documents them) --------------------------------

def vm_dir(daemon, vm):
    return os.path.join(daemon.state_dir, "vms", vm)


def suspend_file(daemon, vm):
    return os.path.join(vm_dir(daemon, vm), "suspend.state")


def console(daemon, vm):
    """The guest's serial console so far (console.log, appended across processes)."""
    try:
        with open(os.path.join(vm_dir(daemon, vm), "console.log"), errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_ready(daemon, vm, count=1, timeout=BOOT_WAIT):
    """Wait until the tiny guest said it is ready ``count`` times on its console."""
    wait_until(lambda: console(daemon, vm).count(READY) >= count, timeout,
               "%r x%d on the console of %s" % (READY, count, vm))


def qemu_img_chain(path):
    """``qemu-img info --backing-chain`` of an image: a list, the image first."""
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", "--backing-chain", path],
                         capture_output=True, text=True, check=True).stdout
    import json
    return json.loads(out)


# -- VMs through the API -----------------------------------------------------------------

def memory(size):
    return {"memory_static_min": str(16 * MIB), "memory_dynamic_min": str(size),
            "memory_dynamic_max": str(size), "memory_static_max": str(size)}


def new_no_os_vm(api, name=None, **fields):
    """A VM with no OS: SeaBIOS finds nothing to boot and idles. 64 MiB, one vCPU."""
    rec = {"name_label": name or "noos-" + os.urandom(4).hex(), "boot_method": "bios",
           "bios_boot": "HD"}
    rec.update(memory(NO_OS_MEMORY))
    rec.update(fields)
    return api.VM.create(rec)


def tiny_args(guest, mode=""):
    return guest["cmdline"] + (" xend.test=%s" % mode if mode else "")


def new_tiny_vm(api, guest, mode="", name=None, **fields):
    """A VM booting the tiny Linux guest (tests/guest/build.py) with ``xend.test=MODE``."""
    rec = {"name_label": name or "tiny-" + os.urandom(4).hex(),
           "boot_method": "kernel_external", "kernel_kernel": guest["kernel"],
           "kernel_initrd": guest["initrd"], "kernel_args": tiny_args(guest, mode)}
    rec.update(memory(TINY_MEMORY))
    rec.update(fields)
    return api.VM.create(rec)


def new_disk(api, sr=None, size=16 * MIB, **fields):
    sr = sr or api.SR.get_all()[0]
    rec = {"name_label": "disk-" + os.urandom(4).hex(), "SR": sr,
           "virtual_size": str(size // 512), "sharable": False, "read_only": False}
    rec.update(fields)
    return api.VDI.create(rec)


def attach_disk(api, vm, vdi, device="xvda", **fields):
    rec = {"VM": vm, "VDI": vdi, "device": device, "mode": "RW", "driver": "paravirtualised"}
    rec.update(fields)
    return api.VBD.create(rec)


def vm_in(api, state, make):
    """A VM made by ``make()`` and brought into ``state`` through the API."""
    vm = make()
    if state == "Running":
        api.VM.start(vm, False)
    elif state == "Paused":
        api.VM.start(vm, True)
    elif state == "Suspended":
        api.VM.start(vm, False)
        api.VM.suspend(vm, False)
    assert api.VM.get_power_state(vm) == state
    return vm


def wait_state(api, vm, state, timeout=STATE_WAIT):
    wait_until(lambda: api.VM.get_power_state(vm) == state, timeout,
               "VM %s to be %s (it is %s)" % (vm, state, api.VM.get_power_state(vm)))


def halt_all(api, daemon, timeout=30):
    """hard_shutdown every VM of the daemon that is not Halted (a guest event may hold a
    VM for a moment: OTHER_OPERATION_IN_PROGRESS is retried), then SIGKILL whatever QEMU
    of this daemon is left. Returns a list of problems, empty when all went well."""
    problems = []
    deadline = time.monotonic() + timeout
    for vm, rec in api.VM.get_all_records().items():
        while rec["power_state"] != "Halted":
            try:
                api.VM.hard_shutdown(vm)
            except XenAPI.Failure as e:
                if e.details[0] == "HANDLE_INVALID":
                    break
                if e.details[0] not in ("OTHER_OPERATION_IN_PROGRESS", "VM_BAD_POWER_STATE") \
                        or time.monotonic() > deadline:
                    problems.append("hard_shutdown %s: %s" % (vm, e.details))
                    break
                time.sleep(0.1)
            rec = api.VM.get_record(vm)
    killed = kill_qemus_under(daemon.state_dir)
    if killed:
        problems.append("QEMU processes left after hard_shutdown of every VM: %s" % killed)
    return problems


def retire(daemon, api=None):
    """Halt every guest of ``daemon`` through ``api`` (if given), kill the daemon, SIGKILL
    any QEMU left under its directory and remove its files; returns the problems met."""
    problems = []
    if api is not None and daemon.proc is not None:
        try:
            problems += halt_all(api, daemon)
        except Exception as e:   # the daemon may be the thing that broke
            problems.append("halting the guests failed: %r" % (e,))
    daemon.kill9()
    killed = kill_qemus_under(daemon.dir)
    if killed:
        problems.append("QEMU processes outlived the daemon: %s" % killed)
    daemon.cleanup()
    return problems


def load_module(name, path):
    """Import a file that is not on sys.path (the guest builder, the suite's conftest)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_tiny_guest(directory):
    """tests/guest/build.py's guest: {"kernel", "initrd", "cmdline"} (built once, cached),
    with its files pinned in ``directory``: the builder prunes cache entries of other
    recipes, so a concurrent build of an edited recipe would pull them from under us."""
    builder = load_module("xend_test_guest_build",
                          os.path.join(ROOT, "tests", "guest", "build.py"))
    for attempt in range(3):
        guest = builder.build()
        try:
            pinned = dict(guest)
            for key in ("kernel", "initrd"):
                pinned[key] = os.path.join(directory, os.path.basename(guest[key]))
                if os.path.exists(pinned[key]):
                    os.unlink(pinned[key])
                try:
                    os.link(guest[key], pinned[key])
                except OSError as e:
                    if isinstance(e, FileNotFoundError):
                        raise
                    shutil.copyfile(guest[key], pinned[key])
            return pinned
        except FileNotFoundError:
            if attempt == 2:
                raise
