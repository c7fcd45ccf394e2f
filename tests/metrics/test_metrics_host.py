"""host (§2.7): identity, software_version, resident_VMs, host_CPUs, enable/disable and the
power RPCs, through the official SDK against a real daemon (sim backend: nothing here needs
a real guest)."""

import os
import platform
import re
import socket
import subprocess
import time
import uuid

import pytest
import XenAPI
from harness import QEMU, failure, make_user, new_vm, resident_guests, wait_until
from metricshelp import SAMPLER_CONFIG

from xen.xend.api.lifecycle import CONTROL_DOMAIN


def test_name_label_defaults_to_the_hostname(sim_api, sim_host):
    assert sim_api.host.get_all() == [sim_host]
    assert sim_api.host.get_name_label(sim_host) == socket.gethostname()


def test_software_version_names_the_daemon_python_kernel_api_and_qemu(sim_api, sim_host):
    sv = sim_api.host.get_software_version(sim_host)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in sv.items()), sv
    for key in ("xend", "python", "kernel", "API"):
        assert sv.get(key), (key, sv)
    assert re.match(r"^\d+\.\d+", sv["xend"]), sv
    # The daemon runs on this Python and this kernel.
    assert sv["python"] == platform.python_version()
    assert sv["kernel"] == platform.release()
    assert sv["API"] == "0.2"
    if QEMU is None:
        pytest.skip("qemu-system-x86_64 is not installed: no qemu key to check")
    out = subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout
    version = re.search(r"version\s+(\d+(?:\.\d+)+)", out).group(1)
    assert sv.get("qemu") == version, sv


def test_software_version_is_the_same_in_the_record(sim_api, sim_host):
    assert sim_api.host.get_record(sim_host)["software_version"] == \
        sim_api.host.get_software_version(sim_host)


def test_host_cpus_count_is_the_os_cpu_count(sim_api, sim_host):
    cpus = sim_api.host.get_host_CPUs(sim_host)
    assert len(cpus) == os.cpu_count()
    assert sorted(cpus) == sorted(sim_api.host_cpu.get_all())
    assert sorted(sim_api.host.get_record(sim_host)["host_CPUs"]) == sorted(cpus)


def test_memory_total_and_free_and_the_control_domain(sim_api, sim_host):
    rec = sim_api.host.get_record(sim_host)
    total, free = int(rec["memory_total"]), int(rec["memory_free"])
    assert 0 < free <= total
    # On QEMU and sim hosts the control domain is the machine itself.
    assert int(sim_api.host.get_control_domain_memory(sim_host)) == total
    assert int(sim_api.host.get_control_domain_VCPUs(sim_host)) == os.cpu_count()


def test_resident_vms_follow_vm_start_and_stop(sim_api, sim_host):
    api, host = sim_api, sim_host
    a, b = new_vm(api), new_vm(api)
    assert resident_guests(api, host) == []
    api.VM.start(a, False)
    assert resident_guests(api, host) == [a]
    assert api.VM.get_resident_on(a) == host
    api.VM.start(b, True)                       # Paused is resident too
    assert sorted(resident_guests(api, host)) == sorted([a, b])
    api.VM.suspend(b, False)                    # a suspended VM is nowhere
    assert resident_guests(api, host) == [a]
    assert api.VM.get_resident_on(b) == ""
    api.VM.clean_shutdown(a)
    assert resident_guests(api, host) == []
    api.VM.resume(b, False)
    assert resident_guests(api, host) == [b]
    assert api.host.get_record(host)["resident_VMs"] == [CONTROL_DOMAIN, b]
    api.VM.hard_shutdown(b)
    assert resident_guests(api, host) == []
    assert api.VM.get_resident_on(b) == ""


def test_a_guest_has_a_domid_start_time_and_cpu_time_while_resident(sim_api):
    api = sim_api
    vm = new_vm(api, VCPUs_max="2")
    rec = api.VM.get_record(vm)
    never = "19700101T00:00:00"           # an unset dateTime, as the wire sends it
    assert (rec["domid"], str(rec["start_time"]), float(rec["VCPUs_CPU_time"])) == \
        ("-1", never, 0.0)
    api.VM.start(vm, False)
    first, started = int(api.VM.get_domid(vm)), str(api.VM.get_start_time(vm))
    assert first > 0 and started > never
    # The sim's vCPUs use a little CPU: the sampler's figure grows, from its cache.
    wait_until(lambda: float(api.VM.get_VCPUs_CPU_time(vm)) > 0, 10, "CPU time to grow")
    api.VM.pause(vm)
    assert int(api.VM.get_domid(vm)) == first
    api.VM.unpause(vm)
    api.VM.hard_reboot(vm)
    second = int(api.VM.get_domid(vm))
    assert second > first
    other = new_vm(api)
    api.VM.start(other, False)
    assert int(api.VM.get_domid(other)) > second
    api.VM.suspend(vm, False)
    assert int(api.VM.get_domid(vm)) == -1
    assert float(api.VM.get_VCPUs_CPU_time(vm)) == 0.0
    api.VM.resume(vm, False)
    assert int(api.VM.get_domid(vm)) > int(api.VM.get_domid(other))
    api.VM.hard_shutdown(vm)
    clone = api.VM.clone(vm, "a clone")   # the guest's facts stay with the original
    assert str(api.VM.get_start_time(vm)) > never
    assert str(api.VM.get_start_time(clone)) == never


def test_disable_refuses_start_and_resume_running_vms_carry_on(sim_api, sim_host):
    api, host = sim_api, sim_host
    running, suspended, halted = new_vm(api), new_vm(api), new_vm(api)
    api.VM.start(running, False)
    api.VM.start(suspended, False)
    api.VM.suspend(suspended, False)

    api.host.disable(host)
    assert api.host.get_enabled(host) is False
    assert failure(api.VM.start, halted, False) == ["HOST_DISABLED", host]
    assert failure(api.VM.start, halted, True) == ["HOST_DISABLED", host]
    assert failure(api.VM.resume, suspended, False) == ["HOST_DISABLED", host]
    assert failure(api.VM.resume, suspended, True) == ["HOST_DISABLED", host]
    # Refused starts leave nothing behind.
    assert api.VM.get_power_state(halted) == "Halted"
    assert api.VM.get_power_state(suspended) == "Suspended"
    # The running VM carries on, and can still be paused and rebooted: it is no new VM.
    assert api.VM.get_power_state(running) == "Running"
    assert resident_guests(api, host) == [running]
    api.VM.pause(running)
    api.VM.unpause(running)
    api.VM.hard_reboot(running)
    assert api.VM.get_power_state(running) == "Running"

    api.host.enable(host)
    assert api.host.get_enabled(host) is True
    api.VM.start(halted, False)
    api.VM.resume(suspended, False)
    assert sorted(resident_guests(api, host)) == sorted([running, suspended, halted])


def test_async_start_on_a_disabled_host_fails_host_disabled(sim_api, sim_host):
    """Either at once (no task) or as the task's error: never a start."""
    api, host = sim_api, sim_host
    vm = new_vm(api)
    api.host.disable(host)
    try:
        task = api.Async.VM.start(vm, False)
    except XenAPI.Failure as e:
        assert e.details == ["HOST_DISABLED", host]
    else:
        wait_until(lambda: api.task.get_record(task)["status"] != "pending", 10, "the task")
        rec = api.task.get_record(task)
        assert rec["status"] == "failure" and rec["error_info"] == ["HOST_DISABLED", host], rec
    assert api.VM.get_power_state(vm) == "Halted"


@pytest.mark.parametrize("op", ["shutdown", "reboot"])
def test_power_rpcs_are_refused_while_the_host_is_enabled(sim_api, sim_host, op):
    assert sim_api.host.get_enabled(sim_host) is True
    assert failure(getattr(sim_api.host, op), sim_host) == ["HOST_NOT_DISABLED", sim_host]


@pytest.mark.parametrize("op", ["shutdown", "reboot"])
def test_power_rpcs_are_refused_while_a_vm_is_resident(sim_api, sim_host, op):
    api, host = sim_api, sim_host
    vm = new_vm(api)
    api.VM.start(vm, False)
    api.host.disable(host)
    assert failure(getattr(api.host, op), host) == ["HOST_HAS_RESIDENT_VMS", host, vm]
    api.VM.pause(vm)                            # a paused VM is resident as well
    assert failure(getattr(api.host, op), host) == ["HOST_HAS_RESIDENT_VMS", host, vm]


@pytest.mark.parametrize("op", ["shutdown", "reboot"])
def test_power_rpcs_without_a_configured_command(sim_api, sim_host, op):
    api, host = sim_api, sim_host
    suspended = new_vm(api)                     # a suspended VM is not resident
    api.VM.start(suspended, False)
    api.VM.suspend(suspended, False)
    api.host.disable(host)
    assert failure(getattr(api.host, op), host) == ["HOST_POWER_COMMAND_UNSET", host, op]


def test_power_rpcs_run_the_configured_commands(make_daemon):
    # Harmless commands: each touches a file of its own. Never anything that powers off.
    stamp = "/tmp/xendtest-" + uuid.uuid4().hex
    marks = {op: "%s-%s" % (stamp, op) for op in ("shutdown", "reboot")}
    d = make_daemon(SAMPLER_CONFIG + 'host_shutdown_command = "touch %s"\n'
                    'host_reboot_command = "touch %s"\n' % (marks["shutdown"], marks["reboot"]))
    api = d.api
    host = api.host.get_all()[0]
    try:
        # Refusals run nothing.
        for op in marks:
            assert failure(getattr(api.host, op), host)[0] == "HOST_NOT_DISABLED"
        vm = new_vm(api)
        api.VM.start(vm, False)
        api.host.disable(host)
        for op in marks:
            assert failure(getattr(api.host, op), host)[0] == "HOST_HAS_RESIDENT_VMS"
        api.VM.hard_shutdown(vm)
        time.sleep(0.3)
        assert not any(os.path.exists(m) for m in marks.values())

        assert api.host.shutdown(host) == ""
        wait_until(lambda: os.path.exists(marks["shutdown"]), 10, marks["shutdown"])
        assert not os.path.exists(marks["reboot"])
        assert api.host.reboot(host) == ""
        wait_until(lambda: os.path.exists(marks["reboot"]), 10, marks["reboot"])
    finally:
        for m in marks.values():
            if os.path.exists(m):
                os.unlink(m)


def test_non_root_may_read_the_host_but_not_drive_it(sim_daemon, sim_api, sim_host):
    api, host = sim_api, sim_host
    _, name, password = make_user(api)
    user = sim_daemon.sdk_tcp(name, password).xenapi
    try:
        assert user.host.get_all() == [host]
        assert user.host.get_record(host)["enabled"] is True
        for op in ("disable", "enable", "shutdown", "reboot"):
            err = failure(getattr(user.host, op), host)
            assert err[0] == "PERMISSION_DENIED", (op, err)
        assert api.host.get_enabled(host) is True
        api.host.disable(host)
        for op in ("enable", "shutdown", "reboot"):
            assert failure(getattr(user.host, op), host)[0] == "PERMISSION_DENIED", op
        assert api.host.get_enabled(host) is False
    finally:
        user.session.logout()
