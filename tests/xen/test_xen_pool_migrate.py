"""Live migration of a Xen guest between two nested Xen hosts of one pool, with
``xl migrate`` (tests/xen/xenpool.py makes the pool). The guest counts into its own
xenstore twice a second with its uptime (GUEST_INIT's ``count`` mode): a guest that
goes on counting from where it was, with an uptime that goes on, was moved alive, not
booted again. The guests boot once, on host 1, and go back and forth. One has its disk
on an "nfs" SR (host 1's dom0 serves the export): every member mounts it, and the
count the guest writes on its disk goes on from the other host.
"""

import re

import pytest
import XenAPI
import xenhost
import xenpool
from harness import MIB, memory, unique, wait_until

pytestmark = [pytest.mark.xen, pytest.mark.qemu]

BOOT_WAIT = 300
MIGRATE_WAIT = 600


@pytest.fixture(scope="module")
def hosts(xen_pool):
    return xen_pool.hosts


@pytest.fixture(scope="module")
def apis(hosts):
    """Root's SDK proxy of each host's daemon (each answers for the whole pool)."""
    return [h.session().xenapi for h in hosts]


@pytest.fixture(scope="module")
def refs(apis):
    """Each host's own host ref, in the order of ``hosts``."""
    by_address = {apis[0].host.get_address(h): h for h in apis[0].host.get_all()}
    return [by_address["%s.%d" % (xenhost.LINK_NET, k)] for k in (1, 2)]


def counting_guest(api, host, ref, vdi=None):
    """A PV test guest counting into its xenstore (and onto ``vdi`` as its xvda, if
    given), started on ``host`` (``ref``) and counting."""
    vm = api.VM.create(dict({
        "name_label": unique("xen-count"), "boot_method": "kernel_external",
        "kernel_kernel": xenhost.GUEST_KERNEL, "kernel_initrd": xenhost.GUEST_INITRD,
        "kernel_args": xenhost.GUEST_CMDLINE + " xend.test=count"}, **memory(128 * MIB)))
    if vdi:
        api.VBD.create({"VM": vm, "VDI": vdi, "device": "xvda", "mode": "RW",
                        "driver": "paravirtualised"})
    api.VM.start_on(vm, ref, False, False)
    wait_until(lambda: counter(host, vm)[0] >= 3, BOOT_WAIT,
               "the guest to count", interval=2)
    return vm


@pytest.fixture(scope="module")
def counting(apis, hosts, refs):
    """A diskless counting guest, started on host 1."""
    vm = counting_guest(apis[0], hosts[0], refs[0])
    yield vm
    try:
        apis[0].VM.hard_shutdown(vm)
    except XenAPI.Failure:
        pass


def counter(host, vm):
    """(count, uptime) the guest of ``vm`` last wrote on ``host``; (0, 0.0) while it
    has no domain there or has not counted yet."""
    dom = host.domain(vm)
    if dom is None:
        return 0, 0.0
    rc, out, _ = host.run("xenstore-read /local/domain/%d/data/counter "
                          "/local/domain/%d/data/uptime" % (dom["domid"], dom["domid"]))
    if rc != 0:
        return 0, 0.0
    count, uptime = out.split()
    return int(count), float(uptime)


def goes_on(host, vm, before):
    """Wait until the guest counts past ``before`` (count, uptime) on ``host``: it
    never restarted (a new boot counts from 1, its uptime from 0)."""
    wait_until(lambda: counter(host, vm)[0] > before[0] + 2, MIGRATE_WAIT,
               "the guest to count on after %r" % (before,), interval=1)
    now = counter(host, vm)
    assert now[0] > before[0] and now[1] > before[1], (before, now)
    return now


def only_on(hosts, k, vm):
    """The guest of ``vm`` has a domain on host ``k`` (0-based) alone, running."""
    where = [h.domain(vm) for h in hosts]
    # Running: r (on a CPU), b (blocked) or neither (runnable, waiting for a CPU).
    assert where[k] is not None and not set(where[k]["state"]) & set("pscd"), where
    assert all(d is None for i, d in enumerate(where) if i != k), where


def test_a_running_guest_moves_to_the_other_host_and_goes_on(apis, hosts, refs, counting):
    before = counter(hosts[0], counting)
    apis[0].VM.pool_migrate(counting, refs[1], {})
    assert apis[0].VM.get_resident_on(counting) == refs[1]
    assert apis[1].VM.get_power_state(counting) == "Running"
    only_on(hosts, 1, counting)
    goes_on(hosts[1], counting, before)
    # The guest booted on host 1 only: its console on host 2 never says it is ready.
    name = hosts[1].domain(counting)["name"]
    assert "xend-test: ready" not in hosts[1].guest_console(name)


def test_a_cancelled_migration_leaves_the_guest_where_it_runs(apis, hosts, refs, counting):
    """At 1 MiB/s the guest's 128 MiB take minutes: the cancel comes while it travels,
    and the guest runs on at the source, the target's half-made domain gone. The call
    and the cancel are made on the target: the guest's host runs the task, the
    caller's follows it."""
    source = 1 if apis[0].VM.get_resident_on(counting) == refs[1] else 0
    target = 1 - source
    before = counter(hosts[source], counting)
    api = apis[target]
    task = api.Async.VM.pool_migrate(counting, refs[target], {"bandwidth": "1"})
    # Beyond the 0.05 reported before the send: inside it, where a cancel acts.
    wait_until(lambda: float(api.task.get_progress(task)) > 0.1, MIGRATE_WAIT,
               "the migration to be under way", interval=0.5)
    api.task.cancel(task)
    wait_until(lambda: api.task.get_record(task)["status"] not in ("pending", "cancelling"),
               MIGRATE_WAIT, "the migration to end")
    assert api.task.get_record(task)["status"] == "cancelled"
    assert apis[target].VM.get_resident_on(counting) == refs[source]
    assert apis[target].VM.get_power_state(counting) == "Running"
    wait_until(lambda: hosts[target].domain(counting) is None, 60,
               "the target's domain of the guest to go")
    only_on(hosts, source, counting)
    goes_on(hosts[source], counting, before)


def test_the_guest_comes_back_through_a_call_on_the_other_host(apis, hosts, refs, counting):
    """A migration asked of the host the guest is not on is carried out by the host it
    runs on (the pool channel forwards it)."""
    source = 1 if apis[0].VM.get_resident_on(counting) == refs[1] else 0
    target = 1 - source
    before = counter(hosts[source], counting)
    apis[target].VM.pool_migrate(counting, refs[target], {})
    assert apis[source].VM.get_resident_on(counting) == refs[target]
    only_on(hosts, target, counting)
    goes_on(hosts[target], counting, before)


# -- a disk on NFS ------------------------------------------------------------------------

def disk_count(host, vdi):
    """The count the guest last wrote on the first sector of ``vdi`` (its image read on
    ``host``, where the SR is mounted), 0 before it wrote one."""
    rc, out, _ = host.run("qemu-io -r -U -f qcow2 -c 'read -v 0 32' "
                          "/var/lib/xend/sr/*/%s.qcow2" % vdi, timeout=60)
    data = bytes(int(b, 16) for line in out.splitlines() if re.match(r"[0-9a-f]{8}:", line)
                 for b in line.split(":", 1)[1].split()[:16])
    found = re.search(rb"xend-count (\d+)", data)
    return int(found.group(1)) if found else 0


def test_a_guest_with_its_disk_on_nfs_moves_and_writes_on(xen_pool, apis, hosts, refs):
    """Host 2 makes the SR: host 1 mounts the export too as soon as it reads it (no
    restart). The guest runs on host 1, moves to host 2, and its disk's count goes on."""
    sr = apis[1].SR.create({"name_label": unique("nfs"), "type": "nfs", "device_config": {
        "server": xen_pool.nfs_server, "serverpath": xenpool.NFS_EXPORT}})
    pbds = apis[0].SR.get_PBDs(sr)
    assert sorted(apis[0].PBD.get_host(p) for p in pbds) == sorted(refs)
    wait_until(lambda: all(apis[0].PBD.get_currently_attached(p) for p in pbds), 120,
               "both hosts to have the export mounted")
    vdi = apis[0].VDI.create({"name_label": unique("nfs-disk"), "SR": sr,
                              "virtual_size": str(16 * MIB // 512), "sharable": False,
                              "read_only": False})
    vm = counting_guest(apis[0], hosts[0], refs[0], vdi)
    try:
        wait_until(lambda: disk_count(hosts[1], vdi) >= 3, BOOT_WAIT,
                   "the guest's count on its disk, read on host 2")
        before = counter(hosts[0], vm)
        apis[0].VM.pool_migrate(vm, refs[1], {})
        only_on(hosts, 1, vm)
        now = goes_on(hosts[1], vm, before)
        wait_until(lambda: disk_count(hosts[0], vdi) >= now[0], MIGRATE_WAIT,
                   "the count on its disk to go on from host 2, read on host 1")
    finally:
        apis[0].VM.hard_shutdown(vm)
    # Host 1 deletes what host 2 made: both let go of the export.
    apis[0].VM.destroy(vm)
    apis[0].VDI.destroy(vdi)
    apis[0].SR.destroy(sr)
    for host in hosts:
        wait_until(lambda host=host: host.run("grep -q ' nfs4 ' /proc/mounts")[0] != 0, 120,
                   "the export unmounted on every host")
