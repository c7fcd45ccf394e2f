"""Helpers of the QEMU API tier: QEMU processes seen from outside, the daemon's files.

Everything a test learns about a guest it learns either through the API or from the
host, the way an administrator would: ``/proc`` for the QEMU process (found by its
``-uuid``) and its vCPU threads, the guest's serial console log and ``qemu-img`` for
images. Of the daemon's own modules the tests import only the lifecycle table, to check
the daemon against it. VMs, waiting, failures and the cleanup of guests are in
tests/helpers.py (the metrics tier uses them too).
"""

import json
import os
import subprocess
import threading

import XenAPI

from helpers import STATE_WAIT, qemu_pids, vm_dir, wait_until


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
