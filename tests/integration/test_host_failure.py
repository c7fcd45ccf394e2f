"""A member of a pool when it or another member fails (docs/pool.md, "Host failure"):
a daemon that cannot renew its lease stops its own guests before the lease can expire,
refuses starts meanwhile, and once the database is back stores them Halted without
restarting them; a member killed is seen dead once its lease expires, and a survivor
restarts its guests marked to restart, once; back, it finds them where the survivor put
them."""

import os
import re

import pytest
from harness import STATE_WAIT, failure, new_vm, wait_until

LEASE = 3


@pytest.fixture
def config(postgres, tmp_path):
    return postgres.daemon_config(str(tmp_path)) + "pool_lease_seconds = %d\n" % LEASE


def test_a_host_cut_off_from_the_database_stops_its_guests(postgres, make_daemon, config):
    d = make_daemon(extra_config=config)
    api = d.api
    host = api.host.get_all()[0]
    assert api.host_metrics.get_live(api.host.get_metrics(host)) is True
    vm, idle = new_vm(api, name_label="fenced"), new_vm(api, name_label="idle")
    api.VM.start(vm, False)
    assert vm in d.sim_guests()
    postgres.stop()
    try:
        wait_until(lambda: vm not in d.sim_guests(), STATE_WAIT, "the guest to be stopped")
        # The stop is logged once the backend has stopped the guest.
        stopped = "VM %s: guest stopped: this host could not renew its lease" % vm
        log = wait_until(lambda: stopped in d.log_text() and d.log_text(), STATE_WAIT,
                         "the stop to be logged")
        fence = re.search(r"fenced, (-?[\d.]+) s before the lease can expire", log)
        assert fence and float(fence.group(1)) > 0
        assert failure(api.VM.start, idle, False) == ["HOST_NOT_LIVE", host]
        wait_until(lambda: not api.host_metrics.get_live(api.host.get_metrics(host)),
                   STATE_WAIT, "the host's lease to expire")
    finally:
        postgres.start()
    wait_until(lambda: api.VM.get_power_state(vm) == "Halted", STATE_WAIT,
               "the guest's record to be put right")
    assert api.VM.get_resident_on(vm) == ""    # null, as the draft spells it
    assert "renewed again after the fence" in d.log_text()
    assert vm not in d.sim_guests()     # not restarted
    wait_until(lambda: api.host_metrics.get_live(api.host.get_metrics(host)), STATE_WAIT,
               "the host to be live again")
    api.VM.start(idle, False)           # starts are back
    assert api.VM.get_power_state(vm) == "Halted"


def test_a_dead_members_guest_restarts_on_a_survivor(make_daemon, config):
    a, b = make_daemon(extra_config=config), make_daemon(extra_config=config)
    restart = new_vm(b.api, name_label="restart", ha_restart_priority="restart")
    never = new_vm(b.api, name_label="never")
    for vm in (restart, never):
        b.api.VM.start(vm, False)
    host_b = b.api.VM.get_resident_on(restart)
    metrics_b = a.api.host.get_metrics(host_b)
    # Another member's figures: its lease's.
    assert wait_until(lambda: a.api.host_metrics.get_live(metrics_b), STATE_WAIT, "b live")
    assert a.api.host_metrics.get_memory_total(metrics_b) == \
        b.api.host_metrics.get_memory_total(metrics_b)
    b.kill9()

    def restarted():
        host = a.api.VM.get_resident_on(restart)
        return host not in ("", host_b) and a.api.VM.get_power_state(restart) == "Running" \
            and host
    host_a = wait_until(restarted, STATE_WAIT, "the guest to restart on a")
    assert set(a.api.host.get_all()) == {host_a, host_b}
    assert a.api.host_metrics.get_live(metrics_b) is False
    assert a.api.VM.get_power_state(never) == "Halted"
    assert a.api.VM.get_resident_on(never) == ""
    line = "(%s): restarted on host %s after its host died" % (restart, host_a)
    log = wait_until(lambda: line in a.log_text() and a.log_text(), STATE_WAIT,
                     "a to log the restart")
    assert log.count(line) == 1
    assert "VM 'never' (%s): stopped (host %s is dead" % (never, host_b) in log

    b.start()
    api = b.relogin()
    assert (api.VM.get_power_state(restart), api.VM.get_resident_on(restart)) == \
        ("Running", host_a)
    assert (api.VM.get_power_state(never), api.VM.get_resident_on(never)) == ("Halted", "")
    assert b.sim_guests() == {}            # none of its stale guests runs
    wait_until(lambda: a.api.host_metrics.get_live(metrics_b), STATE_WAIT, "b live again")
    assert a.log_text().count("restarted on host %s after its host died" % host_a) == 1


def test_ha_restart_priority_takes_three_values(root):
    vm = new_vm(root)
    assert root.VM.get_ha_restart_priority(vm) == ""
    for value in ("restart", "best-effort", ""):
        root.VM.set_ha_restart_priority(vm, value)
        assert root.VM.get_ha_restart_priority(vm) == value
    assert failure(root.VM.set_ha_restart_priority, vm, "always") == [
        "INVALID_VALUE", "ha_restart_priority", "'always' (must be restart, best-effort or \"\")"]


def watchdogs(d):
    """The pids of every fence watchdog process of the daemon's state dir."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if b"xen.xend.daemon.fencewatch" in args and d.state_dir.encode() in args:
            found.append(int(entry))
    return found


def test_a_member_stopped_on_purpose_stops_its_fence_watchdog(make_daemon, config):
    d = make_daemon(extra_config=config)
    watchdog = d.fence_watch().running()
    assert watchdogs(d) == [watchdog]
    vm = new_vm(d.api, name_label="kept")
    d.api.VM.start(vm, False)
    d.stop()              # as `xend stop` does: SIGTERM
    assert d.fence_watch().running() is None
    wait_until(lambda: not watchdogs(d), STATE_WAIT, "the watchdog to exit")
    assert "fencewatch: stopped by the daemon" in d.log_text()
    assert vm in d.sim_guests()     # the guest runs on: nothing fenced it


def test_a_host_alone_has_no_fence_watchdog(make_daemon):
    assert make_daemon().fence_watch().running() is None
