"""Objects are persistent (DESIGN.md): every object, field and bound link is the same after
a restart and after kill -9; VM power states survive (the sim backend keeps its guests).
Each test runs on both of the store's engines: SQLite and a real PostgreSQL."""

import pytest
from harness import (
    Daemon,
    make_user,
    new_network,
    new_sr,
    new_vbd,
    new_vdi,
    new_vif,
    new_vm,
    unique,
)
from xapi_helpers import Raw, tcp_proxy, unix_proxy

from xen.xend.api.lifecycle import CONTROL_DOMAIN

STORED = ["VM", "host", "host_cpu", "network", "VIF", "SR", "VDI", "VBD", "user"]

# Fields measured at read time from outside the store (load, CPU time, free memory, disk
# usage, versions).
MEASURED = {"host_cpu": {"utilisation"}, "host": {"software_version", "memory_free"},
            "VM": {"VCPUs_utilisation", "VCPUs_CPU_time"},
            "SR": {"physical_size", "physical_utilisation"}, "VDI": {"physical_utilisation"}}


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_daemon(request, tmp_path, daemon_stop_signal):
    """A daemon of the test's own on each engine: SQLite in its state directory, or a
    database of its own on the session's PostgreSQL server."""
    config = ""
    if request.param == "postgres":
        # A member of a pool places its guests by free memory: room for the 1 TiB ones.
        config = request.getfixturevalue("postgres").daemon_config(str(tmp_path)) + \
            "sim_host_memory = %d\n" % 2 ** 42
    d = Daemon(extra_config=config).start()
    yield d
    d.cleanup(daemon_stop_signal)


def snapshot(api):
    out = {}
    for cls in STORED:
        records = getattr(api, cls).get_all_records()
        out[cls] = {ref: {k: v for k, v in rec.items() if k not in MEASURED.get(cls, ())}
                    for ref, rec in records.items()}
    return out


def build_world(api, daemon):
    """A little of everything: chains of disks, VMs in every state, users."""
    w = {}
    sr = new_sr(api, name_description="persisted")
    base = new_vdi(api, sr, virtual_size=str(2 ** 16), sector_size="4096")
    w["snap"] = api.VDI.snapshot(base)
    net = new_network(api, VLAN="12", default_gateway="10.1.2.3")
    states = {}
    for state in ("Halted", "Running", "Paused", "Suspended"):
        vm = new_vm(api, name_label="vm-" + state, memory_static_max=str(2 ** 40),
                    VCPUs_features_force_on=["FPU", "PAE"], actions_after_crash="preserve")
        new_vbd(api, vm, new_vdi(api, sr), device="xvda")
        new_vif(api, vm, net, MTU="9000")
        states[state] = vm
    w["template"] = new_vm(api, is_a_template=True)
    api.VM.start(states["Running"], False)
    api.VM.start(states["Paused"], True)
    api.VM.start(states["Suspended"], False)
    api.VM.suspend(states["Suspended"], False)
    w["states"] = states
    w["user"] = make_user(api, unique("pers"), "persist pw")
    w["clone"] = api.VM.clone(states["Halted"], "the clone")
    return w


def check_world(api, daemon, w, before):
    after = snapshot(api)
    assert after == before
    for state, vm in w["states"].items():
        assert api.VM.get_power_state(vm) == state
    host = api.host.get_all()[0]
    assert sorted(api.host.get_resident_VMs(host)) == sorted(
        [w["states"]["Running"], w["states"]["Paused"], CONTROL_DOMAIN])
    # the guests still answer to the lifecycle
    api.VM.pause(w["states"]["Running"])
    api.VM.unpause(w["states"]["Paused"])
    api.VM.resume(w["states"]["Suspended"], False)
    assert api.VM.get_power_state(w["states"]["Suspended"]) == "Running"
    # the user's password survived
    _, name, pw = w["user"]
    t = Raw(tcp_proxy(daemon))
    t.login(name, pw)
    assert t.ok("session.get_this_user", t.session) == name


def root_session(daemon):
    return daemon.sdk_unix().xenapi


def test_everything_survives_a_restart(fresh_daemon):
    d = fresh_daemon
    api = root_session(d)
    w = build_world(api, d)
    before = snapshot(api)
    old = Raw(unix_proxy(d))
    old_handle = old.login("root", "")
    d.restart()
    api = root_session(d)
    check_world(api, d, w, before)
    # sessions are the daemon's runtime objects: gone after a restart
    assert old.fail("VM.get_all") == ["SESSION_INVALID", old_handle]


def test_everything_survives_kill_9(fresh_daemon):
    d = fresh_daemon
    api = root_session(d)
    w = build_world(api, d)
    # the very last writes before the kill
    last = new_vm(api, name_label="written last")
    api.VM.set_name_description(last, "just before kill -9")
    doomed = new_vm(api)
    api.VM.delete(doomed)
    before = snapshot(api)
    d.kill9()
    d.start()
    api = root_session(d)
    check_world(api, d, w, before)
    assert api.VM.get_name_description(last) == "just before kill -9"
    assert doomed not in api.VM.get_all()


def test_host_and_cpu_refs_are_stable(fresh_daemon):
    d = fresh_daemon
    api = root_session(d)
    host, cpus = api.host.get_all(), sorted(api.host_cpu.get_all())
    default_srs = sorted(api.SR.get_all())
    users = sorted(api.user.get_all())
    d.restart()
    api = root_session(d)
    assert api.host.get_all() == host
    assert sorted(api.host_cpu.get_all()) == cpus
    assert sorted(api.SR.get_all()) == default_srs       # no second default SR
    assert sorted(api.user.get_all()) == users           # no second root
    assert len(api.user.get_by_short_name("root")) == 1
