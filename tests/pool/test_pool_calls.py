"""tools/pool-up's pool at work, through each member's HTTPS URL with the XenAPI SDK: every
member sees every host with its CPUs and live figures; a guest's call made on another
member is carried out by the guest's host (forwarded over TLS); one member's event.from
sees the changes made through the others in commit order; placement by free memory,
host.disable and VM.start_on; a host ejected and joined again.

One pool of three sim hosts for the module, each with memory of its own (MEMORY) and
3 s leases (so a member sees the others' figures within a second)."""

import http.client

import pytest
import XenAPI
from harness import (
    EVENT_WAIT,
    MIB,
    Pool,
    failure,
    memory,
    new_vm,
    sdk_unix,
    skip_without_pool,
    wait_until,
)

pytestmark = pytest.mark.pool

HOSTS = (1, 2, 3)
MEMORY = {1: 2048 * MIB, 2: 8192 * MIB, 3: 4096 * MIB}
BIG = 6144 * MIB        # only host 2 has room for it


@pytest.fixture(scope="module")
def pool():
    skip_without_pool()
    p = Pool(3, options=["--lease", "3"] + ["--memory=%d=%d" % kv for kv in MEMORY.items()])
    try:
        yield p.up()
    finally:
        p.down()


@pytest.fixture
def api(pool):
    """{K: root's SDK proxy on host K over HTTPS}, every host live as seen from each."""
    sessions = {k: pool.sdk(k) for k in HOSTS}
    refs = [pool.host_ref(k) for k in HOSTS]
    for k, s in sessions.items():
        x = s.xenapi
        wait_until(lambda x=x: all(x.host_metrics.get_live(x.host.get_metrics(h))
                                   for h in refs), EVENT_WAIT,
                   "host %d to see every member live" % k)
    yield {k: s.xenapi for k, s in sessions.items()}
    for s in sessions.values():
        try:
            s.xenapi.session.logout()
        except (OSError, XenAPI.Failure):
            pass                    # a host that restarted (ejected) ended its sessions


def halted(x, vm):
    if x.VM.get_power_state(vm) != "Halted":
        x.VM.hard_shutdown(vm)
    x.VM.destroy(vm)


def test_every_member_lists_every_host_with_its_cpus_and_live_figures(pool, api):
    refs = {pool.host_ref(k): k for k in HOSTS}
    for x in api.values():
        assert set(x.host.get_all()) == set(refs)
        for host, k in refs.items():
            cpus = x.host.get_host_CPUs(host)
            assert cpus and {x.host_cpu.get_host(c) for c in cpus} == {host}
            metrics = x.host.get_metrics(host)
            assert x.host_metrics.get_live(metrics)
            assert int(x.host_metrics.get_memory_total(metrics)) == MEMORY[k]
            assert x.host.get_name_label(host) == pool.netns(k)


def test_a_call_on_host_3_pauses_a_guest_of_host_1(pool, api):
    one, three = api[1], api[3]
    vm = new_vm(one)
    uuid = one.VM.get_uuid(vm)
    one.VM.start_on(vm, pool.host_ref(1), False, False)
    try:
        three.VM.pause(vm)                     # carried out by host 1, over TLS
        assert pool.sim_guests(1)[uuid] == "Paused"
        assert uuid not in pool.sim_guests(3)
        assert three.VM.get_power_state(vm) == "Paused"
        three.VM.unpause(vm)
        assert pool.sim_guests(1)[uuid] == "Running"
        assert one.VM.get_power_state(vm) == "Running"
    finally:
        halted(one, vm)


def test_one_members_events_show_the_others_changes_in_commit_order(api):
    one, two, three = api[1], api[2], api[3]
    token = two.event_from(["VM"], "", 0.0)["token"]
    a = new_vm(one)
    # A member reads from its memory: host 3 names the VM once its follower has it.
    wait_until(lambda: a in three.VM.get_all(), EVENT_WAIT, "host 3 to see the VM")
    three.VM.set_name_label(a, "renamed-through-3")
    b = new_vm(one)
    three.VM.destroy(a)
    wanted = [("add", a), ("renamed", a), ("add", b), ("del", a)]
    seen = []

    def all_seen():
        nonlocal token
        reply = two.event_from(["VM"], token, 1.0)
        token = reply["token"]
        for e in reply["events"]:
            renamed = (e["operation"] == "mod"
                       and e.get("snapshot", {}).get("name_label") == "renamed-through-3")
            seen.append(("renamed" if renamed else e["operation"], e["ref"]))
        return all(w in seen for w in wanted)
    wait_until(all_seen, EVENT_WAIT, lambda: "host 2 to see %r; it saw %r" % (wanted, seen))
    assert sorted(wanted, key=seen.index) == wanted
    one.VM.destroy(b)


def test_placement_by_free_memory_disable_and_start_on(pool, api):
    one = api[1]
    host = {k: pool.host_ref(k) for k in HOSTS}
    big, small = new_vm(one, **memory(BIG)), new_vm(one)
    try:
        one.VM.start(big, False)                      # only host 2 has room
        assert one.VM.get_resident_on(big) == host[2]
        assert one.VM.get_uuid(big) in pool.sim_guests(2)
        one.VM.hard_shutdown(big)
        one.host.disable(host[2])
        try:
            code = failure(one.VM.start, big, False)[0]
            assert code == "HOST_NOT_ENOUGH_FREE_MEMORY"
            assert one.VM.get_power_state(big) == "Halted"
            assert failure(one.VM.start_on, big, host[2], False, False)[:2] == \
                ["HOST_DISABLED", host[2]]
        finally:
            one.host.enable(host[2])
        one.VM.start_on(small, host[3], False, False)  # not the host with most room
        assert one.VM.get_resident_on(small) == host[3]
        assert api[3].VM.get_power_state(small) == "Running"
        assert one.VM.get_uuid(small) in pool.sim_guests(3)
    finally:
        halted(one, big)
        halted(one, small)


def test_a_host_ejected_serves_alone_then_joins_again(pool, api):
    one = api[1]
    the_pool = one.pool.get_all()
    old = pool.host_ref(3)
    one.pool.eject(old)
    wait_until(lambda: old not in one.host.get_all(), EVENT_WAIT, "host 3 to leave")

    def pool_of_host_3():
        """Host 3's pool.get_all through its Unix socket; None while it restarts."""
        try:
            s = sdk_unix(pool.socket(3))
            try:
                return s.xenapi.pool.get_all()
            finally:
                s.xenapi.session.logout()
        except (OSError, http.client.HTTPException, XenAPI.Failure):
            return None
    wait_until(lambda: pool_of_host_3() not in (None, the_pool), EVENT_WAIT,
               "host 3 to serve alone")
    alone = sdk_unix(pool.socket(3)).xenapi
    assert len(alone.host.get_all()) == 1
    # Joined again as tools/pool-up joined it: the pool as the other tests found it.
    alone.host.set_name_label(alone.host.get_all()[0], pool.netns(3))
    alone.pool.join("10.231.0.1", "root", pool.password)
    wait_until(lambda: pool_of_host_3() == the_pool, EVENT_WAIT, "host 3 to serve as a member")
    new = pool.host_ref(3)
    assert new != old
    wait_until(lambda: new in one.host.get_all() and
               one.host_metrics.get_live(one.host.get_metrics(new)), EVENT_WAIT,
               "host 1 to see host 3 back and live")
