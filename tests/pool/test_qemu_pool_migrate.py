"""VM.pool_migrate of a real QEMU guest between two hosts of tools/pool-up's pool (each
daemon in its network namespace, the guest's disk in a shared-dir SR, its state sent
over TLS since the members have certificates of the pool's CA): the tiny Linux guest's
shell counter goes on at the target without restarting, its uptime continues, and what
it wrote to its disk before is read after; with storage "copy" a guest's disk on host
1's own SR moves into a copy on host 2's. One pool for the module, one guest each test
(the cancel's API path is tests/integration/test_pool_migrate.py's, QEMU's
tests/backend/test_qemu_migrate.py's)."""

import os
import re
import types

import pytest
from harness import (
    BOOT_WAIT,
    READY,
    Pool,
    build_tiny_guest,
    console_connect,
    console_query,
    console_text,
    new_tiny_vm,
    new_vbd,
    new_vdi,
    qemu_pids,
    requires_qemu,
    scratch_dir,
    sdk_unix,
    skip_without_pool,
    wait_until,
)

pytestmark = [pytest.mark.pool, pytest.mark.qemu, requires_qemu]

# Each tick: its number and the guest's uptime, every 0.1 s.
COUNTER = ('i=0; while :; do i=$((i+1)); read u x < /proc/uptime; '
           'echo "tick $i $u"; sleep 0.1; done &')
TICK = re.compile(r"^tick (\d+) (\d+\.\d+)\r?$", re.M)
TOKEN = "pool-migrated-disk-5c1e"


class Host:
    """Host ``k`` of the pool, seen from this machine: root's SDK session over its Unix
    socket, its host ref, the directory its guests' QEMU runs in."""

    def __init__(self, pool, k):
        self.socket = pool.socket(k)
        self.session = sdk_unix(self.socket)
        self.api = self.session.xenapi
        self.state_dir = pool.state_dir(k)
        self.ref = pool.host_ref(k)
        self.log_text = lambda: pool.log_text(k)

    def console(self, vm):
        return console_text(os.path.join(self.state_dir, "vms", vm))

    def type_line(self, vm, line, until):
        """Type ``line`` on the guest's serial console through the host's console proxy,
        connected until the console shows ``until`` (what the line makes the guest say)."""
        (con,) = self.api.VM.get_consoles(vm)
        status, sock = console_connect(types.SimpleNamespace(socket=self.socket),
                                       console_query(con, self.session._session))
        assert status == 200, status
        with sock:
            sock.sendall(line.encode() + b"\n")
            wait_until(lambda: until in self.console(vm), BOOT_WAIT,
                       lambda: "%r on the console: %r" % (until, self.console(vm)[-800:]))


@pytest.fixture(scope="module")
def hosts():
    skip_without_pool()
    pool = Pool(2, backend="qemu")
    try:
        pool.up()
        yield [Host(pool, 1), Host(pool, 2)]
    finally:
        pool.down()


def ticks(text):
    """The counter's complete lines in console ``text``: [(n, uptime)]."""
    return [(int(n), float(u)) for n, u in TICK.findall(text[:text.rfind("\n") + 1])]


def test_a_running_guest_moves_and_goes_on(hosts):
    one, two = hosts
    shared = scratch_dir()
    guest = build_tiny_guest(scratch_dir())
    api = one.api
    sr = api.SR.create({"name_label": "shared", "type": "shared-dir", "location": shared})
    vm = new_tiny_vm(api, guest, "shell")
    new_vbd(api, vm, new_vdi(api, sr))
    api.VM.start_on(vm, one.ref, False, False)   # on host 1, whatever placement would choose
    wait_until(lambda: "/ # " in one.console(vm), BOOT_WAIT, "the guest's shell")
    # Written through to the shared image (the shell's line, then sync) before the move.
    one.type_line(vm, "echo %s > /dev/vda; sync; %s" % (TOKEN, COUNTER), "\ntick 5 ")

    wait_until(lambda: api.host_metrics.get_live(api.host.get_metrics(two.ref)), BOOT_WAIT,
               "host 2's lease, seen by host 1")
    api.VM.pool_migrate(vm, two.ref, {})
    for h in hosts:
        wait_until(lambda h=h: h.api.VM.get_resident_on(vm) == two.ref, BOOT_WAIT,
                   "every host to see the guest on host 2")
    assert two.api.VM.get_power_state(vm) == "Running"
    # The members have their certificates from the pool's CA: the guest went over TLS.
    assert "migrated to host %s over TLS" % two.ref in one.log_text()
    before = ticks(one.console(vm))
    wait_until(lambda: len(ticks(two.console(vm))) >= 3, BOOT_WAIT, "the counter on host 2")
    after = ticks(two.console(vm))
    # The counter goes on from where it was (no tick lost but perhaps the one being
    # written at the switch); the guest's clock runs on: it did not boot again.
    assert before[-1][0] < after[0][0] <= before[-1][0] + 2
    assert after[0][1] >= before[-1][1]
    assert READY not in two.console(vm)
    # The disk's contents, read from the image again (the guest's cache dropped).
    two.type_line(vm, 'echo 3 > /proc/sys/vm/drop_caches; read -r l < /dev/vda; '
                      'echo "disk says $l"', "disk says %s" % TOKEN)
    two.api.VM.hard_shutdown(vm)


def test_a_guest_moves_with_a_copy_of_its_local_disk(hosts):
    """storage "copy": the disk on host 1's own SR is copied into a VDI host 2 makes on
    its own; what the guest wrote before is read after, from the copy's image."""
    one, two = hosts
    api = one.api
    local = next(api.PBD.get_SR(p) for p in api.host.get_PBDs(one.ref)
                 if not api.SR.get_shared(api.PBD.get_SR(p)))
    vm = new_tiny_vm(api, build_tiny_guest(scratch_dir()), "shell")
    vbd = new_vbd(api, vm, new_vdi(api, local))
    old = api.VBD.get_VDI(vbd)
    api.VM.start(vm, False)
    wait_until(lambda: "/ # " in one.console(vm), BOOT_WAIT, "the guest's shell")
    one.type_line(vm, "echo %s > /dev/vda; sync; echo written" % TOKEN, "\nwritten")
    wait_until(lambda: api.host_metrics.get_live(api.host.get_metrics(two.ref)), BOOT_WAIT,
               "host 2's lease, seen by host 1")
    api.VM.pool_migrate(vm, two.ref, {"storage": "copy"})
    wait_until(lambda: two.api.VM.get_resident_on(vm) == two.ref, BOOT_WAIT,
               "host 2 to see the guest on it")
    new = two.api.VBD.get_VDI(vbd)
    assert new != old and old not in two.api.VDI.get_all()
    assert not os.path.exists(os.path.join(one.state_dir, "sr", "default", old + ".qcow2"))
    with open(os.path.join(two.state_dir, "sr", "default", new + ".qcow2"), "rb") as f:
        assert TOKEN.encode() in f.read()
    two.type_line(vm, 'echo 3 > /proc/sys/vm/drop_caches; read -r l < /dev/vda; '
                      'echo "disk says $l"', "disk says %s" % TOKEN)
    two.api.VM.hard_shutdown(vm)


def test_a_migration_cancelled_halfway_leaves_the_guest_running_where_it_was(hosts):
    """A migration held to 1 MiB/s (options bandwidth) cancelled once part of the guest
    was sent: the guest runs on on host 1, its counter never stopping, and host 2 keeps
    nothing of it."""
    one, two = hosts
    api = one.api
    vm = new_tiny_vm(api, build_tiny_guest(scratch_dir()), "shell")
    api.VM.start_on(vm, one.ref, False, False)
    wait_until(lambda: "/ # " in one.console(vm), BOOT_WAIT, "the guest's shell")
    one.type_line(vm, COUNTER, "\ntick 3 ")
    wait_until(lambda: api.host_metrics.get_live(api.host.get_metrics(two.ref)), BOOT_WAIT,
               "host 2's lease, seen by host 1")
    task = api.Async.VM.pool_migrate(vm, two.ref, {"bandwidth": "1"})
    # Beyond the 0.05 reported before the work: inside the send, where a cancel acts.
    wait_until(lambda: float(api.task.get_progress(task)) > 0.05, BOOT_WAIT,
               "part of the guest to be sent")
    api.task.cancel(task)
    # (The draft's task.get_status answers the task's XML: its record says the status.)
    wait_until(lambda: api.task.get_record(task)["status"] not in ("pending", "cancelling"),
               BOOT_WAIT, "the task to end")
    assert api.task.get_record(task)["status"] == "cancelled"
    for h in hosts:
        assert h.api.VM.get_resident_on(vm) == one.ref
        assert h.api.VM.get_power_state(vm) == "Running"
    assert len(qemu_pids(vm)) == 1          # the source's: the target's half-made one ended
    last = ticks(one.console(vm))[-1][0]
    wait_until(lambda: ticks(one.console(vm))[-1][0] >= last + 5, BOOT_WAIT,
               "the counter to go on on host 1")
    api.VM.hard_shutdown(vm)
