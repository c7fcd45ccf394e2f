"""Placement (docs/pool.md, "Placement"): VM.start in a pool starts the VM on the live,
enabled member that reaches its disks' SRs and has the most free memory; VM.start_on
names the member, which must be able to run it."""

from harness import (
    MIB,
    STATE_WAIT,
    failure,
    memory,
    new_vbd,
    new_vdi,
    new_vm,
    wait_until,
)

# Three members, A, B and C (the pool_members fixture), with short leases and
# simulated memory of their own: A small, B large, C smaller still.
MEMBERS = 3
MEMBER_CONFIGS = ["sim_host_memory = %d\npool_lease_seconds = 6.0\n" % size
                  for size in (512 * MIB, 4096 * MIB, 128 * MIB)]


def started(api, vm):
    """Where ``vm`` runs once VM.start (made through ``api``) has answered."""
    api.VM.start(vm, False)
    assert api.VM.get_power_state(vm) == "Running"
    return api.VM.get_resident_on(vm)


def local_sr(daemon):
    """The SR local to ``daemon``'s host (its default SR, ``Local storage``)."""
    return next(ref for ref, rec in daemon.api.SR.get_all_records().items()
                if rec["name_label"] == "Local storage" and
                daemon.api.PBD.get_all_records() and
                any(p["host"] == daemon.host and p["SR"] == ref
                    for p in daemon.api.PBD.get_all_records().values()))


def test_a_guest_too_big_for_a_lands_on_b(pool_members):
    a, b, _ = pool_members
    vm = new_vm(a.api, **memory(1024 * MIB))
    assert started(a.api, vm) == b.host
    assert b.sim_guests()[vm] == "Running" and vm not in a.sim_guests()
    # Named explicitly, A is refused with what it has.
    other = new_vm(a.api, **memory(1024 * MIB))
    refused = failure(a.api.VM.start_on, other, a.host, False, False)
    assert refused[:2] == ["HOST_NOT_ENOUGH_FREE_MEMORY", str(1024 * MIB)]


def test_a_guest_on_a_s_local_sr_runs_only_on_a(pool_members):
    a, b, _ = pool_members
    sr = local_sr(a)
    vm = new_vm(a.api, **memory(64 * MIB))
    new_vbd(a.api, vm, new_vdi(a.api, sr))
    assert failure(b.api.VM.start_on, vm, b.host, False, False) == \
        ["VM_REQUIRES_SR", vm, sr]
    assert started(b.api, vm) == a.host          # called on B, placed on A
    assert a.sim_guests()[vm] == "Running" and vm not in b.sim_guests()


def test_a_disabled_host_is_never_chosen(pool_members):
    a, b, _ = pool_members
    a.api.host.disable(b.host)
    try:
        wait_until(lambda: not b.api.host.get_enabled(b.host), STATE_WAIT,
                   "B to see itself disabled")
        assert started(b.api, new_vm(b.api, **memory(64 * MIB))) == a.host
        big = new_vm(a.api, **memory(1024 * MIB))     # only B has room: none is chosen
        assert failure(a.api.VM.start, big, False)[0] == "HOST_NOT_ENOUGH_FREE_MEMORY"
        assert failure(a.api.VM.start_on, big, b.host, False, False) == \
            ["HOST_DISABLED", b.host]
    finally:
        a.api.host.enable(b.host)


def test_start_on_a_host_whose_lease_expired_is_host_not_live(pool_members):
    a, _, c = pool_members
    c.kill9()
    v10 = a.sdk_unix(version="1.0").xenapi
    metrics = v10.host.get_metrics(c.host)
    wait_until(lambda: not v10.host_metrics.get_live(metrics), STATE_WAIT,
               "C's lease to expire")
    vm = new_vm(a.api, **memory(64 * MIB))
    assert failure(a.api.VM.start_on, vm, c.host, False, False) == ["HOST_NOT_LIVE", c.host]
    assert started(a.api, vm) != c.host
