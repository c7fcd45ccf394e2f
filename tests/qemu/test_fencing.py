"""A member of a pool on QEMU cut off from the database (docs/pool.md, "Host failure"):
its guest's QEMU is killed before the lease can expire, and stays gone once the database
is back, the VM stored Halted."""

import re

import pytest
from harness import STATE_WAIT, new_tiny_vm, qemu_pids, wait_until

pytestmark = pytest.mark.qemu


def test_a_fenced_host_kills_its_qemu_guest(postgres, make_daemon, tiny_guest, tmp_path):
    d = make_daemon(extra_config=postgres.daemon_config(str(tmp_path))
                    + "pool_lease_seconds = 3\n")
    api = d.api
    vm = new_tiny_vm(api, tiny_guest)
    api.VM.start(vm, False)
    assert qemu_pids(vm)
    postgres.stop()
    try:
        wait_until(lambda: not qemu_pids(vm), STATE_WAIT, "the guest's QEMU to be killed")
        fence = re.search(r"fenced, (-?[\d.]+) s before the lease can expire", d.log_text())
        assert fence and float(fence.group(1)) > 0
    finally:
        postgres.start()
    wait_until(lambda: api.VM.get_power_state(vm) == "Halted", STATE_WAIT,
               "the guest's record to be put right")
    assert not qemu_pids(vm)



def _query(postgres, d, sql):
    """What ``sql`` prints on the daemon's database, ``%(host)s`` its host's ref."""
    with open(d.config) as f:
        database = re.search(r'database = "[^"]*/(\w+)"', f.read()).group(1)
    return postgres.psql(sql % {"host": d.own_host()}, database).strip()


def _lease_left(postgres, d):
    """Seconds left of the daemon's lease on the database's clock (negative: expired)."""
    return float(_query(postgres, d, "SELECT EXTRACT(EPOCH FROM expires_at - "
                        "clock_timestamp()) FROM host_lease WHERE host = '%(host)s'"))


def _member_with_guest(postgres, make_daemon, tiny_guest, directory):
    """A daemon on a database of its own, a lease of 6 s, running a tiny guest; the
    daemon, the VM and its fence watchdog's pid."""
    d = make_daemon(extra_config=postgres.daemon_config(directory)
                    + "pool_lease_seconds = 6\n")
    vm = new_tiny_vm(d.api, tiny_guest)
    d.api.VM.start(vm, False)
    assert qemu_pids(vm)
    return d, vm, d.fence_watch().running()


def test_a_killed_daemons_watchdog_kills_its_qemu_guest(postgres, make_daemon, tiny_guest,
                                                         tmp_path):
    d, vm, watchdog = _member_with_guest(postgres, make_daemon, tiny_guest, str(tmp_path))
    d.kill9()
    wait_until(lambda: not qemu_pids(vm), STATE_WAIT, "the watchdog to kill the guest's QEMU")
    assert _lease_left(postgres, d) > 0, "the guest outlived the lease"
    fence = re.search(r"fencewatch: no pet .* fenced, (-?[\d.]+) s before the lease can "
                      r"expire", d.log_text())
    assert fence and float(fence.group(1)) > 0
    assert re.search(r"VM %s: its QEMU \(pid \d+\) killed \(fenced\)" % vm, d.log_text())
    assert d.fence_watch().running() == watchdog    # it watches on, for a daemon back


def test_a_daemon_back_in_time_adopts_the_watchdog(postgres, make_daemon, tiny_guest,
                                                   tmp_path):
    d, vm, watchdog = _member_with_guest(postgres, make_daemon, tiny_guest, str(tmp_path))
    guest = qemu_pids(vm)
    d.kill9()
    last_renewal_expiry = _query(postgres, d, "SELECT expires_at FROM host_lease"
                                 " WHERE host = '%(host)s'")
    d.start()
    api = d.relogin()
    assert "fence watchdog: adopted (pid %d)" % watchdog in d.log_text()
    # Past the expiry of the killed daemon's last lease: only the new daemon's pets kept
    # the watchdog from fencing.
    wait_until(lambda: _query(postgres, d, "SELECT clock_timestamp() > '%s'"
                              % last_renewal_expiry) == "t",
               STATE_WAIT, "the killed daemon's lease to run out", interval=0.5)
    assert qemu_pids(vm) == guest
    assert api.VM.get_power_state(vm) == "Running"
    assert d.fence_watch().running() == watchdog
    assert "fenced" not in d.log_text()
