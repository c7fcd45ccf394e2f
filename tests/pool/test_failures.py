"""Failures in tools/pool-up's pool of three QEMU hosts (docs/pool.md, "Host failure"),
for real: a host's every process killed (its daemon, its fence watchdog, its guests'
QEMUs), its guest marked to restart runs again on another host, once, the other stays
Halted, and the host brought back (``tools/pool-up --restart``) runs none of its stale
guests; the database stopped and started again under a load of writes through two
hosts loses no write that succeeded and refuses the others with HOST_STATE_UNAVAILABLE.
One pool for the module, with a lease of 3 s."""

import threading

import pytest
from harness import (
    BOOT_WAIT,
    STATE_WAIT,
    Pool,
    build_tiny_guest,
    new_tiny_vm,
    new_vm,
    qemu_pids,
    requires_qemu,
    scratch_dir,
    sdk_unix,
    skip_without_pool,
    unique,
    wait_until,
)

pytestmark = [pytest.mark.pool, pytest.mark.qemu, requires_qemu]

LEASE = 3


@pytest.fixture(scope="module")
def pool():
    skip_without_pool()
    p = Pool(3, backend="qemu", options=["--lease", str(LEASE)])
    try:
        yield p.up()
    finally:
        p.down()


def api(pool, k):
    """Root's 1.0 SDK proxy on host ``k``'s Unix socket."""
    return sdk_unix(pool.socket(k), version="1.0").xenapi


def live(one, host):
    return one.host_metrics.get_live(one.host.get_metrics(host))


def test_a_dead_hosts_guest_restarts_elsewhere_once(pool):
    one, three = api(pool, 1), pool.host_ref(3)
    guest = build_tiny_guest(scratch_dir())
    restart = new_tiny_vm(one, guest, name="restart", ha_restart_priority="restart")
    never = new_tiny_vm(one, guest, name="never")
    wait_until(lambda: live(one, three), STATE_WAIT, "host 3's lease, seen by host 1")
    for vm in (restart, never):
        one.VM.start_on(vm, three, False, False)
        assert len(qemu_pids(vm)) == 1

    pool.kill_host(3)
    assert not qemu_pids(restart) and not qemu_pids(never)
    wait_until(lambda: one.VM.get_power_state(restart) == "Running"
               and one.VM.get_resident_on(restart) not in ("", three),
               LEASE * 2 + BOOT_WAIT, "the guest marked to restart to run on a survivor")
    assert len(qemu_pids(restart)) == 1        # once, across every host's namespace
    assert one.VM.get_power_state(never) == "Halted"
    assert one.VM.get_resident_on(never) == ""
    assert not qemu_pids(never)
    assert live(one, three) is False

    pool.restart_host(3)
    wait_until(lambda: live(one, three), STATE_WAIT, "host 3 to be live again")
    back = api(pool, 3)
    assert back.VM.get_resident_on(restart) != three
    assert back.VM.get_power_state(never) == "Halted"
    assert len(qemu_pids(restart)) == 1 and not qemu_pids(never)
    one.VM.hard_shutdown(restart)


class Writer(threading.Thread):
    """Creates a VM then renames it, over and over, alternately through hosts 1 and 2
    (each VM renamed through the host that made it, which has seen it); keeps every
    write's outcome."""

    def __init__(self, apis):
        super().__init__(daemon=True)
        self.apis = apis
        self.stop = threading.Event()
        self.names = {}        # VM ref -> its name as of the last write that succeeded
        self.unanswered = {}   # VM ref -> names of refused renames after that write
        self.successes = self.refusals = 0
        self.problems = []     # anything but Success and HOST_STATE_UNAVAILABLE

    def write(self, call, *args, **fields):
        try:
            result = call(*args, **fields)
        except Exception as e:
            if getattr(e, "details", None) == ["HOST_STATE_UNAVAILABLE"]:
                self.refusals += 1
            else:
                self.problems.append(repr(e))
            return None
        self.successes += 1
        return result

    def run(self):
        i = 0
        while not self.stop.is_set():
            x = self.apis[i % 2]
            i += 1
            name = unique("load")
            vm = self.write(new_vm, x, name_label=name)
            if vm is None:
                continue
            self.names[vm], self.unanswered[vm] = name, []
            renamed = name + "-renamed"
            if self.write(x.VM.set_name_label, vm, renamed) is None:
                # A COMMIT whose answer was lost may have been made: either name holds.
                self.unanswered[vm].append(renamed)
            else:
                self.names[vm] = renamed


def test_the_database_restarted_under_load_loses_no_write(pool):
    writer = Writer([api(pool, 1), api(pool, 2)])
    database = pool.database()
    writer.start()
    try:
        wait_until(lambda: writer.successes >= 10, STATE_WAIT, "writes to succeed")
        database.stop()
        try:
            wait_until(lambda: writer.refusals >= 2, STATE_WAIT, "writes to be refused")
        finally:
            database.start()
        after = writer.successes
        wait_until(lambda: writer.successes >= after + 10, STATE_WAIT,
                   "writes to succeed again")
    finally:
        writer.stop.set()
        writer.join()
    assert not writer.problems
    for k in (1, 2, 3):
        x = api(pool, k)

        def all_there():
            names = {vm: rec["name_label"] for vm, rec in x.VM.get_all_records().items()}
            return all(names.get(vm) in [name] + writer.unanswered[vm]
                       for vm, name in writer.names.items())
        wait_until(all_there, STATE_WAIT, "host %d to hold every write that succeeded" % k)
