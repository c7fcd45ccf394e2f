"""tools/pool-up's pool, as clients and the machine see it: every host answers the
XenAPI SDK over HTTPS verified against the pool CA, each daemon runs and listens only in
its own network namespace, the hosts reach each other and PostgreSQL over the bridge,
one database serves them all, and ``--down`` leaves nothing behind (the module's last
test)."""

import os
import ssl
import subprocess
import sys
import xmlrpc.client

import pytest
import XenAPI
from harness import EVENT_WAIT, new_vm, wait_until

pytestmark = pytest.mark.pool

HOSTS = (1, 2, 3)


def address(pool, k):
    """Host ``k``'s address: the host part of its URL."""
    return pool.hosts[k - 1]["url"].split("/")[2]


def test_every_host_answers_the_sdk_over_its_tls_url(pool):
    for k in HOSTS:
        s = pool.sdk(k)
        try:
            assert s.xenapi.host.get_all()
            assert s.xenapi.session.get_this_host(s._session)
        finally:
            s.xenapi.session.logout()


def test_a_host_is_verified_against_the_pool_ca_only(pool):
    """The system's CAs do not vouch for a host: only the pool CA does."""
    s = XenAPI.Session(pool.hosts[0]["url"], transport=xmlrpc.client.SafeTransport(
        context=ssl.create_default_context()))
    with pytest.raises(ssl.SSLCertVerificationError):
        s.xenapi.login_with_password("root", pool.password, "1.0", "xend-tests")


def test_a_wrong_password_is_refused_over_tls(pool):
    s = XenAPI.Session(pool.hosts[1]["url"], transport=xmlrpc.client.SafeTransport(
        context=ssl.create_default_context(cafile=pool.ca)))
    with pytest.raises(XenAPI.Failure) as e:
        s.xenapi.login_with_password("root", pool.password + "x", "1.0", "xend-tests")
    assert e.value.details[0] == "SESSION_AUTHENTICATION_FAILED"


def test_each_daemon_runs_and_listens_in_its_own_namespace(pool):
    machine = os.stat("/proc/self/ns/net").st_ino
    seen = set()
    for k in HOSTS:
        ns = os.stat("/proc/%d/ns/net" % pool.daemon_pid(k)).st_ino
        assert ns == os.stat("/run/netns/%s" % pool.netns(k)).st_ino
        assert ns != machine and ns not in seen
        seen.add(ns)
        listening = pool.in_netns(k, ["ss", "-Hltn"]).stdout
        assert "%s:443 " % address(pool, k) in listening
        # Its address is that namespace's alone: neither the machine's nor another host's.
        inet = "inet %s/" % address(pool, k)
        assert inet in pool.in_netns(k, ["ip", "-o", "addr"]).stdout
        assert inet not in subprocess.run(["ip", "-o", "addr"], capture_output=True,
                                          text=True).stdout
        assert inet not in pool.in_netns(HOSTS[k % len(HOSTS)], ["ip", "-o", "addr"]).stdout


def test_hosts_reach_each_other_and_postgres_over_the_bridge(pool):
    db = pool.database()
    targets = [(address(pool, k), 443) for k in HOSTS] + [(db.address, db.port)]
    probe = ("import socket, sys\n"
             "for a in sys.argv[1:]:\n"
             "    host, port = a.rsplit(':', 1)\n"
             "    socket.create_connection((host, int(port)), timeout=10).close()\n")
    for k in HOSTS:
        out = pool.in_netns(k, [sys.executable, "-c", probe]
                            + ["%s:%d" % t for t in targets if t[0] != address(pool, k)])
        assert out.returncode == 0, out.stderr
    # Every daemon holds its connections to the one database from its own address.
    clients = db.psql("SELECT DISTINCT host(client_addr) FROM pg_stat_activity "
                      "WHERE datname = 'xend'").split()
    assert sorted(clients) == sorted(address(pool, k) for k in HOSTS)


def test_a_vm_made_through_host_1_is_seen_through_host_3(pool):
    first, third = pool.sdk(1), pool.sdk(3)
    try:
        vm = new_vm(first.xenapi)
        name = first.xenapi.VM.get_name_label(vm)
        wait_until(lambda: vm in third.xenapi.VM.get_all(), EVENT_WAIT,
                   "host 3 to see the VM made through host 1")
        assert third.xenapi.VM.get_name_label(vm) == name
        third.xenapi.VM.destroy(vm)
        wait_until(lambda: vm not in first.xenapi.VM.get_all(), EVENT_WAIT,
                   "host 1 to see the VM destroyed through host 3 go")
    finally:
        first.xenapi.session.logout()
        third.xenapi.session.logout()


def test_a_second_pool_up_says_a_pool_is_up(pool):
    out = pool.tool("2", "--backend", "sim")
    assert out.returncode == 1
    assert "a pool is already up" in out.stderr
    pool.sdk(2).xenapi.session.logout()          # and the pool is untouched


def namespaces():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith("xend-pool")]


def alive(pid):
    """Whether process ``pid`` runs: there and not a zombie (which is gone but for its
    exit status, for a parent that may reap it late: here the machine's init)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_down_leaves_no_process_namespace_or_bridge(pool):
    """Last in the module: it takes the module's pool down."""
    db = pool.database()
    with open(os.path.join(db.data, "postmaster.pid")) as f:
        pids = [int(f.readline())] + [pool.daemon_pid(k) for k in HOSTS]
    assert all(alive(p) for p in pids) and len(namespaces()) == len(HOSTS)
    out = pool.down()
    assert out.returncode == 0, out.stderr
    assert [p for p in pids if alive(p)] == []
    assert namespaces() == []
    assert not os.path.exists("/sys/class/net/xendpool0")
    assert not os.path.exists(pool.dir)
    again = pool.down()                            # safe to run twice
    assert again.returncode == 0, again.stderr
