"""Helpers of the QEMU API tier: QEMU processes seen from outside, the daemon's files.

Everything a test learns about a guest it learns either through the API or from the
host, the way an administrator would: ``/proc`` for the QEMU process (found by its
``-uuid``), its vCPU threads and open files, the guest's serial console log,
``qemu-img`` for images, and ``/sys/class/net`` for the bridges and taps named as
docs/api.md says. Of the daemon's own modules the tests import only the lifecycle table, to check
the daemon against it. VMs, waiting, failures and the cleanup of guests are in
tests/harness.py (the metrics tier uses them too).
"""

import json
import os
import re
import subprocess
import threading

import XenAPI
from harness import BOOT_WAIT, FINISHED, STATE_WAIT, Watcher, console, qemu_pids, vm_dir, wait_until

# -- QEMU processes, seen from the host --------------------------------------------------

def the_pid(vm):
    """The one live QEMU process of ``vm``."""
    pids = qemu_pids(vm)
    assert len(pids) == 1, "VM %s: expected one QEMU process, found %s" % (vm, pids)
    return pids[0]


def cmdline(pid):
    """The command line of process ``pid``, as a list of arguments."""
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return [a.decode() for a in f.read().split(b"\0")[:-1]]


def vcpu_threads(pid):
    """The thread ids of the QEMU vCPU threads of ``pid`` (named "CPU n/TCG" or
    "CPU n/KVM" thanks to -name debug-threads=on)."""
    tids = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().startswith("CPU "):
                    tids.append(int(tid))
        except OSError:
            continue
    return sorted(tids)


def vcpu_ticks(pid):
    """CPU time (clock ticks) of the QEMU vCPU threads of ``pid`` (named "CPU n/TCG" or
    "CPU n/KVM" thanks to -name debug-threads=on)."""
    total = 0
    for tid in vcpu_threads(pid):
        try:
            with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
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


# -- the daemon's files (where the daemon documents them) --------------------------------

def suspend_file(daemon, vm):
    """Where the daemon keeps a suspended VM's saved state."""
    return os.path.join(vm_dir(daemon, vm), "suspend.state")


def qemu_img_chain(path):
    """``qemu-img info --backing-chain`` of an image: a list, the image first."""
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", "--backing-chain", path],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


# -- VMs through the API -----------------------------------------------------------------

def wait_state(api, vm, state, timeout=STATE_WAIT):
    """Wait until ``vm``'s power state is ``state``."""
    wait_until(lambda: api.VM.get_power_state(vm) == state, timeout,
               "VM %s to be %s (it is %s)" % (vm, state, api.VM.get_power_state(vm)))


def vm_events_until(watcher, vm, done, timeout=STATE_WAIT):
    """The snapshots of ``vm`` in the events ``watcher`` (a tests.tasks Watcher of "vm")
    reports, collected until ``done(snapshots)`` is true."""
    def mine(events):
        return [e["snapshot"] for e in events if e["ref"] == vm and e["operation"] == "mod"]
    return mine(watcher.collect(lambda events: done(mine(events)), timeout))


def through_a_task(api, call, *args, timeout=BOOT_WAIT):
    """Run ``VM.<call>(*args)`` as a task (``Async``) and follow that task's events until
    it has finished. Asserts it succeeded, its progress never went back and reached 1.0
    exactly once, at the end; returns the progress figures in event order."""
    watcher = Watcher(api, ["task"])
    task = getattr(api.Async.VM, call)(*args)
    events = watcher.collect(lambda evs: any(
        e["ref"] == task and e["operation"] == "mod"
        and e["snapshot"]["status"] in FINISHED for e in evs), timeout)
    mine = [e["snapshot"] for e in events if e["ref"] == task]
    assert mine[-1]["status"] == "success", mine[-1]
    progress = [float(rec["progress"]) for rec in mine]
    assert progress == sorted(progress), (call, progress)
    assert progress.count(1.0) == 1 and progress[-1] == 1.0, (call, progress)
    return progress


def call_in_thread(daemon, call, *args):
    """Start ``VM.<call>(*args)`` on a Session of its own (the SDK is not thread-safe) in a
    thread; returns (thread, outcome), outcome getting "value" or "failure" (its details)."""
    outcome = {}

    def run():
        session = daemon.sdk_unix()
        try:
            outcome["value"] = getattr(session.xenapi.VM, call)(*args)
        except XenAPI.Failure as e:
            outcome["failure"] = e.details
        finally:
            session.xenapi.session.logout()
    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def open_files(pid):
    """Paths of the files process ``pid`` has open."""
    out = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            out.add(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            pass
    return out


def devices_seen(daemon, vm):
    """The tiny guest's last report of its devices, e.g. ["vda", "eth0:1500"]."""
    reports = re.findall(r"xend-test: devices:(.*)", console(daemon, vm))
    return reports[-1].split() if reports else None


def wait_devices(daemon, vm, expected, timeout=BOOT_WAIT):
    """Wait until the tiny guest reports exactly the devices ``expected``."""
    wait_until(lambda: devices_seen(daemon, vm) == expected, timeout,
               "the guest to report devices %s (it reports %s)"
               % (expected, devices_seen(daemon, vm)))


# -- bridges and taps, named as docs/api.md says -----------------------------------------

def private_bridge(net):
    """The bridge the daemon makes for network ``net``."""
    return "xenbr-" + net.replace("-", "")[:9]


def vlan_device(net):
    """The 802.1Q device of a VLAN network's bridge."""
    return "xvlan-" + net.replace("-", "")[:9]


def tap(vif):
    """The tap device of VIF ``vif``."""
    return "xvif" + vif.replace("-", "")[:11]


def link_exists(name):
    return os.path.exists("/sys/class/net/" + name)


def master(name):
    """The bridge interface ``name`` is a port of ("" if none), as `ip link show` says."""
    out = subprocess.run(["ip", "-j", "link", "show", "dev", name], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)[0].get("master", "")


def ports(bridge):
    """The interfaces in ``bridge``."""
    return sorted(os.listdir("/sys/class/net/%s/brif" % bridge))
