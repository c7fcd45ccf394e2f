"""pool.join and pool.eject with real daemons (docs/pool.md, "Membership"): a standalone
sim host with a VM and a VDI joins a master on PostgreSQL over HTTPS, and its objects
are on every member; a wrong password and clashes (the host's name, a UUID) are refused
with nothing changed; a host with a running guest is not ejected, an idle one is, and
its daemon serves again on a store of its own."""

import os
import re
import shutil

import pytest
from harness import (
    STATE_WAIT,
    Daemon,
    Fleet,
    failure,
    free_port,
    new_vdi,
    new_vm,
    unique,
    wait_until,
)
from xapi_helpers import ROOT_PASSWORD

from xen.xend.transport.tls import CERT_NAME


@pytest.fixture(scope="module")
def pool(postgres, tmp_path_factory):
    """(the master, a joining host's configuration lines): the master on a database of
    its own with a TLS listener, root's password set; a joiner names that database as
    pool_database and trusts the master's certificate."""
    config = postgres.daemon_config(str(tmp_path_factory.mktemp("pool")))
    fleet = Fleet()
    try:
        master = fleet.start(extra_config=config + 'tls_listen = "127.0.0.1:%d"\n'
                             % free_port())
        master.api.user.set_password(master.api.user.get_by_short_name("root")[0],
                                     ROOT_PASSWORD)
        joiner = re.sub(r"^database = ", "pool_database = ", config, flags=re.M)
        joiner += 'pool_ca_file = "%s"\n' % os.path.join(master.state_dir, CERT_NAME)
        master.tls_address = re.search(r'tls_listen = "([^"]+)"',
                                       open(master.config).read()).group(1)
        yield master, joiner
    finally:
        fleet.retire()


@pytest.fixture
def standalone(pool, make_daemon):
    """A standalone sim host, named apart from the pool's hosts, with a VM and a VDI."""
    d = make_daemon(extra_config=pool[1])
    d.api.host.set_name_label(d.api.host.get_all()[0], unique("joiner"))
    d.vm, d.vdi = new_vm(d.api), new_vdi(d.api)
    return d


def join(daemon, master, password=ROOT_PASSWORD):
    daemon.api.pool.join(master.tls_address, "root", password)


def objects(master):
    """The refs of the master's hosts, VMs and VDIs."""
    api = master.api
    return set(api.host.get_all()), set(api.VM.get_all()), set(api.VDI.get_all())


def test_a_wrong_password_is_refused_with_nothing_changed(pool, standalone):
    master, _ = pool
    before = objects(master)
    code, user, _ = failure(join, standalone, master, "wrong")
    assert (code, user) == ("POOL_JOINING_HOST_AUTHENTICATION_FAILED", "root")
    assert objects(master) == before
    assert standalone.vm in standalone.api.VM.get_all()


def test_only_a_standalone_host_configured_for_the_pool_joins(pool, make_daemon):
    master, _ = pool
    with open(os.path.join(master.state_dir, "pool-host")) as f:
        own = f.read().strip()
    assert failure(join, master, master) == ["POOL_JOINING_HOST_MUST_BE_STANDALONE", own]
    plain = make_daemon()
    assert failure(join, plain, master) == ["POOL_JOINING_HOST_NOT_CONFIGURED",
                                            "pool_database"]


def test_a_host_named_as_a_pool_host_is_refused_with_nothing_changed(pool, standalone):
    master, _ = pool
    before = objects(master)
    taken = master.api.host.get_name_label(master.api.host.get_all()[0])
    standalone.api.host.set_name_label(standalone.api.host.get_all()[0], taken)
    assert failure(join, standalone, master) == ["POOL_JOINING_HOST_NAME_CLASH", taken]
    assert objects(master) == before


def test_a_host_joins_is_refused_twice_and_is_ejected_once_idle(pool, standalone):
    master, _ = pool
    joined = standalone
    host = joined.api.host.get_all()[0]
    guest = new_vm(joined.api)
    joined.api.VM.start(guest, False)
    # A twin of the host (a copy of its store) to clash with it once it has joined.
    joined.stop()
    twin = Daemon(extra_config=pool[1])
    shutil.copytree(joined.state_dir, twin.state_dir)
    joined.start()
    joined.relogin()
    starts = joined.starts()
    join(joined, master)
    api = joined.serving_again(starts)
    wait_until(lambda: host in master.api.host.get_all(), STATE_WAIT, "the host on the master")
    for d in (master, joined):
        assert {joined.vm, guest} <= set(d.api.VM.get_all())
        assert joined.vdi in d.api.VDI.get_all()
        assert set(d.api.host.get_all()) == set(master.api.host.get_all())
    assert api.VM.get_power_state(guest) == "Running"      # kept across the restart
    assert len(master.api.pool.get_all()) == 1 == len(api.pool.get_all())

    try:
        twin.start()
        twin.relogin()
        twin.api.host.set_name_label(host, unique("twin"))
        before = objects(master)
        assert failure(join, twin, master)[0] == "POOL_JOINING_HOST_UUID_CLASH"
        assert objects(master) == before
    finally:
        twin.cleanup()

    code, refused, _ = failure(master.api.pool.eject, host)
    assert (code, refused) == ("HOST_HAS_RESIDENT_VMS", host)
    api.VM.hard_shutdown(guest)
    wait_until(lambda: master.api.VM.get_power_state(guest) == "Halted", STATE_WAIT,
               "the guest halted on the master")
    starts = joined.starts()
    master.api.pool.eject(host)
    assert host not in master.api.host.get_all()
    alone = joined.serving_again(starts)
    assert len(alone.host.get_all()) == 1 and guest not in alone.VM.get_all()
    assert not os.path.exists(os.path.join(joined.state_dir, "pool-member"))
    for d in (master, joined):
        assert ROOT_PASSWORD not in d.log_text()
