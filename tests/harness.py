"""The one test harness of every tier (and of bench/): a plain module, imported as ``harness``
(tests/conftest.py puts tests/ on sys.path; bench/ imports it as ``tests.harness``).

It holds:

* ``Daemon``: one real xend process on a scratch dir, socket and port, with its clients;
  ``Fleet`` / ``serving`` / ``retire``: daemons started together and retired together, no
  guest and no bridge outliving them (a module's or a tier's own daemons; the
  ``make_daemon`` fixture of tests/conftest.py is a Fleet too);
* ``wait_until(predicate, timeout, what)``: the one way to wait; it raises an
  AssertionError naming ``what`` once ``timeout`` passes (a bound against hangs, never a
  timing assertion), and the waits built on it (``wait_ready``, ...);
* ``Watcher``: a follower of ``event.from`` (event watchers);
* object factories made through the API (``new_vm``, ``new_sr``, ``new_vdi``, ``new_vbd``,
  ``new_network``, ``new_vif``, ``make_user``, ...), one set with one set of defaults;
* ``Postgres``: a PostgreSQL server of the tests' own (Debian's), for the store on
  PostgreSQL, with a fresh database per test (``new_database``);
* the lifecycle table as the API calls it, guests seen from the host (/proc, console
  logs), the tiny guest's builder, skips where QEMU or tap devices are missing, and an
  in-process listener for the connection handler.

What only one tier needs stays next to it (xapi_helpers, metricshelp, qemuapi, qemutest,
secutil, taskutil, daemontools, xmtools). Everything a test learns here it learns the way
a client or an administrator would: through the official XenAPI SDK, or from the host
(/proc, a guest's serial console log).
"""

import contextlib
import http.client
import importlib.util
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
import tomllib
import urllib.parse
import uuid
import xmlrpc.client

import pytest
import wsproto.connection
import wsproto.events
import XenAPI

from xen.xend.api.lifecycle import CONTROL_DOMAIN, CONTROL_DOMAIN_NAME
from xen.xend.api.sessions import Peer
from xen.xend.backend.common import boot_files
from xen.xend.backend.qemu.argv import HostFiles
from xen.xend.daemon.fencewatch import FenceWatch
from xen.xend.host import cgroups
from xen.xend.transport import tls
from xen.xend.util import pgserver, progress

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

QEMU = shutil.which("qemu-system-x86_64")
requires_qemu = pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed")

MIB = 1 << 20
NO_OS_MEMORY = 64 * MIB
TINY_MEMORY = 128 * MIB
# What the tiny guest prints on its serial console once it is up.
READY = "xend-test: ready"

# Upper bounds for waits (reaching one is a failure, never an expectation).
BOOT_WAIT = 90
EVENT_WAIT = 60
STATE_WAIT = 20


def skip_without_qemu():
    """Skip the test (or the fixture's users) where QEMU is not installed."""
    if QEMU is None:
        pytest.skip("qemu-system-x86_64 is not installed")


def skip_without_taps():
    """Skip where bridges and tap devices cannot be made (they need root and a tun device)."""
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        pytest.skip("bridges and tap devices need root and /dev/net/tun")


# -- ports, directories, sockets ---------------------------------------------------------

# The ports tests give daemons lie below the kernel's ephemeral range (32768 up), so that
# no outgoing connection takes one between the test choosing it and the daemon binding
# it, in a block of their own for each pytest-xdist worker, so that two workers never
# choose the same one; each run starts at a random place in its block.
PORT_BASE, PORT_BLOCK = 20000, 1000
_next_port = itertools.count(random.randrange(PORT_BLOCK))


def free_port():
    """A TCP port nobody listens on right now, this worker's to use."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw10")   # gw10: no xdist
    base = PORT_BASE + int(worker[2:]) % 12 * PORT_BLOCK
    for _ in range(PORT_BLOCK):
        port = base + next(_next_port) % PORT_BLOCK
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in %d..%d" % (base, base + PORT_BLOCK - 1))


def scratch_dir():
    """A fresh directory under /tmp whose path has no "_": the XenAPI SDK turns "_" in the
    host part of its URL into "/" when it opens a Unix socket."""
    path = os.path.join("/tmp", "xendtest-" + uuid.uuid4().hex)
    os.makedirs(path, mode=0o700)
    return path


@contextlib.contextmanager
def tmpfs(path, size):
    """A tmpfs of ``size`` bytes, mode 0700, mounted at ``path`` (made if missing) for the
    block: a file system of its own, small enough to fill. Skips where mounting is not
    allowed (tests not run as root)."""
    os.makedirs(path, exist_ok=True)
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0700" % size,
                          "tmpfs", path], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("cannot mount a tmpfs: %s" % out.stderr.strip())
    try:
        yield path
    finally:
        # Lazily: a daemon being retired may still hold a file there.
        subprocess.run(["umount", "--lazy", path], check=True)


def answers(port):
    """True if something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over the Unix socket at ``path`` (the daemon's plain HTTP routes)."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def sdk_unix(socket_path, user="root", password="", version=None):
    """A XenAPI SDK session over the Unix socket at ``socket_path``, logged in (naming
    the API ``version`` if one is given)."""
    # The SDK takes the socket's path from the URL's host part, "/" written as "_".
    s = XenAPI.Session("http://%s/" % socket_path.replace("/", "_"),
                       transport=XenAPI.UDSTransport())
    s.xenapi.login_with_password(user, password, *((version, "xend-tests") if version else ()))
    return s


# -- the daemon ----------------------------------------------------------------------------

class Daemon:
    """One xend process on its own state dir, socket and TCP port."""

    def __init__(self, backend="sim", extra_config="", log_level="debug", state_dir=None):
        """``state_dir``: where the daemon keeps its state; by default a directory of its
        own files (``.dir``)."""
        self.dir = scratch_dir()
        self.state_dir = state_dir or os.path.join(self.dir, "state")
        self.socket = os.path.join(self.dir, "run", "xen-api.sock")
        self.port = free_port()
        self.config = os.path.join(self.dir, "xend.toml")
        with open(self.config, "w") as f:
            f.write('login_failure_delay = 0.05\nlog_level = "%s"\n' % log_level + extra_config)
        self.log = os.path.join(self.dir, "xend.log")
        self.backend = backend
        self.proc = None
        self.api = None         # root's SDK proxy, once relogin() was called

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.port

    def start(self):
        """Start the daemon and wait until it answers on its socket and port; RuntimeError
        with its stderr if it exits instead."""
        cmd = [sys.executable, "-m", "xen.xend", "start", "--foreground",
               "--config", self.config, "--state-dir", self.state_dir,
               "--socket", self.socket, "--listen", "127.0.0.1:%d" % self.port,
               "--backend", self.backend, "--log-file", self.log]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("xend exited: %s" % self.proc.stderr.read().decode())
            return os.path.exists(self.socket) and answers(self.port)
        wait_until(up, 30, "xend to answer on %s and port %d" % (self.socket, self.port))
        return self

    def stop(self, sig=signal.SIGTERM):
        """Send ``sig`` and reap the daemon (SIGKILL if it is not gone within 30 s)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def kill9(self):
        self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self, sig=signal.SIGTERM):
        """Stop the daemon with ``sig``, kill the fence watchdog a member killed with -9
        leaves behind, and remove its files."""
        self.stop(sig)
        pid = self.fence_watch().running()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def fence_watch(self):
        """The daemon's side of the fence watchdog of its state dir (``.running()``:
        its pid, or None)."""
        return FenceWatch(self.state_dir, "")

    # -- clients -------------------------------------------------------------

    def sdk_unix(self, user="root", password="", version=None):
        """A logged-in XenAPI SDK session over the Unix socket."""
        return sdk_unix(self.socket, user, password, version)

    def relogin(self):
        """Log root in over the Unix socket again (e.g. after a restart): the new SDK proxy
        becomes ``.api`` and is returned."""
        self.api = self.sdk_unix().xenapi
        return self.api

    def starts(self):
        """How many times the daemon began serving (its log's "serving" lines)."""
        return len(re.findall(r"xend \S+ serving", self.log_text()))

    def serving_again(self, starts, timeout=30):
        """Wait until the daemon, restarting in its own process (pool.join, an
        ejection), serves for the time after ``starts`` (``starts()`` before) and lets
        root log in; that login becomes ``.api``."""
        def logged_in():
            assert self.proc.poll() is None, "xend exited while restarting"
            if self.starts() <= starts:
                return False
            try:
                self.relogin()
                return True
            except (OSError, XenAPI.Failure):
                return False
        wait_until(logged_in, timeout, "xend to serve again on %s" % self.socket)
        return self.api

    def sdk_tcp(self, user, password):
        """A logged-in XenAPI SDK session over TCP."""
        s = XenAPI.Session(self.url)
        s.xenapi.login_with_password(user, password, "0.2", "xend-tests")
        return s

    def raw_tcp(self):
        """A plain xmlrpc.client proxy over TCP (no SDK conveniences)."""
        return xmlrpc.client.ServerProxy(self.url)

    def http_get(self, path, over="tcp"):
        """(status, Content-Type, body as bytes) of GET ``path`` over "tcp" or "unix"."""
        status, headers, body = self.http_request("GET", path, over=over)
        return status, headers.get("Content-Type"), body

    def http_request(self, method, path, headers=None, over="tcp"):
        """(status, headers as an http.client.HTTPMessage, body as bytes) of a request
        with ``headers`` (a dict) over "tcp" or "unix"; ``path`` is sent as it is."""
        conn = (UnixHTTPConnection(self.socket) if over == "unix"
                else http.client.HTTPConnection("127.0.0.1", self.port, timeout=10))
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def own_host(self):
        """This daemon's host: the one its pool-host file names on a pool's database,
        else its only one."""
        try:
            with open(os.path.join(self.state_dir, "pool-host")) as f:
                return f.read().strip()
        except FileNotFoundError:
            return self.api.host.get_all()[0]

    def sim_guests(self):
        """{VM uuid: state} of the guests the sim backend runs."""
        return sim_guests(self.state_dir)


def sim_guests(state_dir):
    """{VM uuid: state} of the guests a sim backend runs (what a hypervisor would
    report), read from its state file in ``state_dir``."""
    try:
        with open(os.path.join(state_dir, "sim-domains.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


# -- PostgreSQL -----------------------------------------------------------------------------

class Postgres(pgserver.Server):
    """A PostgreSQL server of the tests' own (``pgserver.Server``) in a scratch directory,
    run as ``nobody``, on a free loopback port, with fsync off (the tests kill daemons,
    never the server, and stop it cleanly). The role ``xend`` logs in with ``password``.
    ``skip_without_postgres()`` first."""

    def __init__(self):
        super().__init__(scratch_dir(), port=free_port())
        self.password = uuid.uuid4().hex
        self.create(self.password, fsync=False)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def new_database(self):
        """The URI of a new, empty database owned by the role ``xend`` (no password)."""
        return self.create_database("xend_" + uuid.uuid4().hex[:12])

    def daemon_config(self, directory):
        """A daemon's configuration lines for a new database: ``database`` and a
        ``database_password_file`` (mode 0600) written in ``directory``."""
        path = os.path.join(directory, "database-password")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(self.password + "\n")
        return 'database = "%s"\ndatabase_password_file = "%s"\n' % (self.new_database(),
                                                                         path)


def make_ca(directory, name="xend pool CA"):
    """A CA of its own (a pool's) in ``directory``: its (certificate, key) paths."""
    ca = (os.path.join(directory, name.replace(" ", "-") + "-cert.pem"),
          os.path.join(directory, name.replace(" ", "-") + "-key.pem"))
    tls.issue(*ca, name, [], [])
    return ca


def migration_tls(directory, name, ca, address="127.0.0.1"):
    """A backend's migration ``tls`` option: a certificate for ``address`` signed by
    ``ca`` (make_ca's), its key and the CA, made in ``directory``."""
    cert, key = (os.path.join(directory, "%s-%s.pem" % (name, n)) for n in ("cert", "key"))
    tls.issue(cert, key, name, [], [address], issuer=ca)
    return {"cert": cert, "key": key, "ca": ca[0]}


def pool_member_configs(postgres, directory, count):
    """The configurations of ``count`` members of one new database of ``postgres`` that
    call one another over the pool channel: each a TLS listener on a free 127.0.0.1 port
    with a certificate signed by a CA made in ``directory`` (its ``ca-cert.pem``, every
    member's ``pool_ca_file``)."""
    ca = (os.path.join(directory, "ca-cert.pem"), os.path.join(directory, "ca-key.pem"))
    tls.issue(*ca, "xend pool CA", [], [])
    database = postgres.daemon_config(directory)
    configs = []
    for k in range(count):
        cert, key = (os.path.join(directory, "host%d-%s.pem" % (k, n)) for n in ("cert", "key"))
        tls.issue(cert, key, "127.0.0.1", ["localhost"], ["127.0.0.1"], issuer=ca)
        configs.append(database + 'tls_listen = "127.0.0.1:%d"\ntls_cert = "%s"\n'
                       'tls_key = "%s"\npool_ca_file = "%s"\n' % (free_port(), cert, key,
                                                                   ca[0]))
    return configs


def start_members(fleet, postgres, directory, count, extra_configs=()):
    """``count`` sim daemons of ``fleet`` on one new database, calling one another over the
    pool channel (``pool_member_configs``), each seeing every host; member K's
    configuration ends with ``extra_configs[K]`` where there is one. Each daemon's ``ca``
    is the pool CA's certificate, its ``host`` its own host's ref."""
    extras = list(extra_configs) + [""] * count
    daemons = [fleet.start(extra_config=c + extras[k])
               for k, c in enumerate(pool_member_configs(postgres, directory, count))]
    for d in daemons:
        d.ca = os.path.join(directory, "ca-cert.pem")
        d.host = d.own_host()
    for d in daemons:    # every lease read: each member sees every member live
        v10 = d.sdk_unix(version="1.0").xenapi
        wait_until(lambda v10=v10: [m["live"] for m in v10.host_metrics.get_all_records()
                                    .values()] == [True] * count, STATE_WAIT,
                   "every host to be seen live from %s" % d.url)
    return daemons


def skip_without_postgres():
    """Skip the test (or the fixture's users) where Debian's PostgreSQL server or
    psycopg is not installed, or where it cannot be run as an unprivileged user."""
    if pgserver.PG_BIN is None:
        pytest.skip("PostgreSQL (Debian's postgresql) is not installed")
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("psycopg is not installed (the postgres extra)")
    if os.geteuid() != 0:
        pytest.skip("the tests' PostgreSQL server is started as nobody, which needs root")


# -- a pool of hosts ---------------------------------------------------------------------

class Pool:
    """A pool of ``count`` hosts made by tools/pool-up in a scratch directory (each host's
    daemon in its network namespace, one PostgreSQL): ``up()`` then ``down()``. Host K
    (from 1) is ``hosts[K - 1]``: its ``url`` (HTTPS) and ``tcp_url``. One pool at a time
    per machine (the tool's bridge and namespaces have fixed names).
    ``skip_without_pool()`` first."""

    TOOL = os.path.join(ROOT, "tools", "pool-up")

    def __init__(self, count=3, backend="sim", options=()):
        self.count = count
        self.backend = backend
        self.options = list(options)     # more of the tool's: ["--lease", "3", ...]
        self.dir = scratch_dir()
        self.hosts = []
        self.ca = self.password = None

    def tool(self, *args):
        """Run tools/pool-up with ``args`` and this pool's --dir; the CompletedProcess."""
        return subprocess.run([sys.executable, self.TOOL, *args, "--dir", self.dir],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)

    def up(self):
        """Start the pool; RuntimeError with the tool's stderr if it fails. Reads the
        lines the tool prints: the CA's file, then each host's URLs and password file."""
        out = self.tool(str(self.count), "--backend", self.backend, *self.options)
        if out.returncode != 0:
            raise RuntimeError("tools/pool-up failed: %s" % out.stderr)
        for line in out.stdout.splitlines():
            words = line.split()
            if words[0] == "ca:":
                self.ca = words[1]
            elif words[0] == "host":
                # host K: https://ADDR/ password-file PATH (http://ADDR:PORT/)
                self.hosts.append({"url": words[2], "tcp_url": words[5].strip("()")})
                with open(words[4]) as f:
                    self.password = f.read().strip()
        assert len(self.hosts) == self.count and self.ca, out.stdout
        return self

    def down(self):
        """tools/pool-up --down: the CompletedProcess (the tool may run it twice)."""
        return self.tool("--down")

    def sdk(self, k, version="1.0"):
        """A XenAPI SDK session of root on host ``k``, over its HTTPS URL from this
        machine, the host's certificate verified against the pool CA."""
        context = ssl.create_default_context(cafile=self.ca)
        s = XenAPI.Session(self.hosts[k - 1]["url"],
                           transport=xmlrpc.client.SafeTransport(context=context))
        s.xenapi.login_with_password("root", self.password, version, "xend-tests")
        return s

    def host_dir(self, k):
        return os.path.join(self.dir, "host%d" % k)

    def state_dir(self, k):
        """Host ``k``'s daemon's state directory (its guests' QEMU runs under vms/)."""
        return os.path.join(self.host_dir(k), "state")

    def socket(self, k):
        """Host ``k``'s Unix socket, where root needs no password."""
        return os.path.join(self.host_dir(k), "xen-api.sock")

    def sim_guests(self, k):
        """{VM uuid: state} of the guests host ``k``'s sim backend runs."""
        return sim_guests(self.state_dir(k))

    def host_ref(self, k):
        """Host ``k``'s own host ref (its ``pool-host`` file)."""
        with open(os.path.join(self.state_dir(k), "pool-host")) as f:
            return f.read().strip()

    def log_text(self, k):
        with open(os.path.join(self.host_dir(k), "xend.log")) as f:
            return f.read()

    def daemon_pid(self, k):
        with open(os.path.join(self.host_dir(k), "xend.pid")) as f:
            return int(f.read().split()[0])

    @staticmethod
    def netns(k):
        return "xend-pool%d" % k

    def kill_host(self, k):
        """SIGKILL every process of host ``k``'s namespace (its daemon, fence watchdog
        and guests' QEMUs: the machine lost), and wait until they are gone."""
        pids = [int(p) for p in subprocess.run(["ip", "netns", "pids", self.netns(k)],
                                               capture_output=True, text=True,
                                               check=True).stdout.split()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not any(os.path.exists("/proc/%d" % p) for p in pids),
                   STATE_WAIT, "host %d's processes to be gone" % k)

    def restart_host(self, k):
        """tools/pool-up --restart K: host ``k``'s daemon started again."""
        out = self.tool("--restart", str(k))
        if out.returncode != 0:
            raise RuntimeError("tools/pool-up --restart failed: %s" % out.stderr)

    def in_netns(self, k, argv):
        """Run ``argv`` in host ``k``'s network namespace; the CompletedProcess (text)."""
        return subprocess.run(["ip", "netns", "exec", self.netns(k), *argv],
                              capture_output=True, text=True, timeout=60)

    def database(self):
        """The pool's PostgreSQL (a pgserver.Server, for its superuser's ``psql``), at the
        address and port host 1's configuration names."""
        with open(os.path.join(self.host_dir(1), "xend.toml"), "rb") as f:
            uri = urllib.parse.urlsplit(tomllib.load(f)["database"])
        return pgserver.Server(os.path.join(self.dir, "postgres"), address=uri.hostname,
                               port=uri.port)


def skip_without_pool():
    """Skip where tools/pool-up cannot run: no PostgreSQL, not root, or no network
    namespaces (``ip netns``)."""
    skip_without_postgres()
    probe = "xend-probe-%d" % os.getpid()
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode != 0:
        pytest.skip("network namespaces cannot be made here (ip netns add)")
    subprocess.run(["ip", "netns", "del", probe], check=True)


# -- waiting and failures ----------------------------------------------------------------

def unique(prefix="t"):
    """``prefix`` with a random suffix: a name no other test uses."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def wait_until(predicate, timeout, what, interval=0.05):
    """Poll ``predicate`` until it is truthy and return that value. Once ``timeout`` seconds
    have passed, raise an AssertionError saying what was waited for: ``what``, a string or a
    function giving one (called then, to describe the state reached). The timeout is a
    bound against hangs, never a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s"
                                 % (timeout, what() if callable(what) else what))
        time.sleep(interval)


def read_until(sock, expected, timeout=STATE_WAIT):
    """What stream socket ``sock`` gives until ``expected`` is in it, or until EOF (a
    console's stream); socket.timeout if it is silent for ``timeout`` seconds."""
    sock.settimeout(timeout)
    got = b""
    while expected not in got:
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def failure(fn, *args):
    """Call an SDK method that must fail; return its ErrorDescription (a list of strings)."""
    try:
        value = fn(*args)
    except XenAPI.Failure as e:
        assert all(isinstance(x, str) for x in e.details), e.details
        return e.details
    raise AssertionError("expected a Failure, got Success %r" % (value,))


# -- an operation run as a task ------------------------------------------------------------

@contextlib.contextmanager
def as_task(on_progress=lambda fraction: None):
    """Run what the block calls as an API task's worker runs it: its progress reports go
    to ``on_progress`` and ``request_cancel()`` of the yielded tracker cancels it."""
    tracker = progress.Tracker(on_progress)
    tracker.begin()
    progress.install(tracker)
    try:
        yield tracker
    finally:
        progress.install(None)


# -- events ----------------------------------------------------------------------------

# The statuses of a task that has finished.
FINISHED = ("success", "failure", "cancelled")


def event_from(x, classes, token, timeout):
    """event.from through the SDK proxy ``x`` ("from" is a Python keyword)."""
    return getattr(x.event, "from")(classes, token, float(timeout))


class Watcher:
    """Follows event.from for some classes from the moment it is made."""

    def __init__(self, x, classes):
        self.x = x
        self.classes = classes
        self.token = event_from(x, classes, "", 0)["token"]

    def collect(self, until, timeout=STATE_WAIT, poll=1.0):
        """Events since the last call until ``until(events_so_far)`` is true."""
        got = []

        def done():
            if until(got):
                return True
            batch = event_from(self.x, self.classes, self.token, poll)
            self.token = batch["token"]
            got.extend(batch["events"])
            return until(got)
        wait_until(done, timeout, lambda: "events; those so far: %r" % (
            [(e["class"], e["operation"], e["ref"]) for e in got],), interval=0)
        return got

    def drain(self, wait=0.3):
        """Whatever arrives within ``wait`` seconds."""
        batch = event_from(self.x, self.classes, self.token, wait)
        self.token = batch["token"]
        return batch["events"]


# -- objects made through the API --------------------------------------------------------

def create(cls, defaults, fields):
    """``cls.create`` (e.g. ``api.VM``) of the record ``defaults`` updated with ``fields``."""
    return cls.create(dict(defaults, **fields))


def make_user(api, name=None, password=None, fullname="A User"):
    """A non-root user with a password (random unless given); (ref, short name, password)."""
    name = name or unique("u")
    password = password or "pw-" + uuid.uuid4().hex[:8]
    ref = api.user.create({"short_name": name, "fullname": fullname})
    api.user.set_password(ref, password)
    return ref, name, password


def memory(static_max, dynamic_max=None, dynamic_min=None, static_min=16 * MIB):
    """The four memory fields of a VM record; the dynamic ones default to the one above."""
    dynamic_max = static_max if dynamic_max is None else dynamic_max
    dynamic_min = dynamic_max if dynamic_min is None else dynamic_min
    return {"memory_static_min": str(static_min), "memory_dynamic_min": str(dynamic_min),
            "memory_dynamic_max": str(dynamic_max), "memory_static_max": str(static_max)}


def is_guest(vm, rec):
    """Whether the VM ``vm`` (its record ``rec``, any revision's) is no control domain
    (Domain-0, which every host has: CONTROL_DOMAIN on a single host and a pool's first,
    named so on every other host of a pool, where its name cannot change)."""
    return vm != CONTROL_DOMAIN and rec["name_label"] != CONTROL_DOMAIN_NAME


def guests(api):
    """The refs of the daemon's VMs but the control domains: the VMs tests make."""
    return list(guest_records(api))


def resident_guests(api, host):
    """host.resident_VMs of ``host`` but its control domain (see is_guest)."""
    return [vm for vm in api.host.get_resident_VMs(host)
            if is_guest(vm, {"name_label": api.VM.get_name_label(vm)})]


def guest_records(api):
    """{ref: record} of the daemon's VMs but the control domains (see is_guest)."""
    return {vm: rec for vm, rec in api.VM.get_all_records().items() if is_guest(vm, rec)}


def new_vm(api, **fields):
    """A VM with the daemon's defaults but a unique name."""
    return create(api.VM, {"name_label": unique("vm")}, fields)


def new_no_os_vm(api, name=None, **fields):
    """A QEMU VM with no OS: SeaBIOS finds nothing to boot and idles. 64 MiB, one vCPU."""
    rec = {"name_label": name or unique("noos"), "boot_method": "bios", "bios_boot": "HD"}
    return create(api.VM, dict(rec, **memory(NO_OS_MEMORY)), fields)


CONSOLE_FD = 4   # the console socket's descriptor, as QEMU would inherit it


def files_by_name(spec):
    """The HostFiles of ``spec`` for a test of QEMU's command line alone (no QEMU runs):
    every file is named by its path where the daemon would pass a descriptor."""
    return HostFiles(qmp_fd=3, console_fd=CONSOLE_FD,
                     disks={d.vbd: [(d.path, d.format, False)] for d in spec.disks},
                     boot={field: (path, False) for field, path, _ in boot_files(spec.vm)})


def tiny_args(guest, mode=""):
    """The tiny guest's kernel command line, with ``xend.test=MODE`` if a mode is given."""
    return guest["cmdline"] + (" xend.test=%s" % mode if mode else "")


def new_tiny_vm(api, guest, mode="", name=None, **fields):
    """A VM booting the tiny Linux guest (tests/guest/build.py) with ``xend.test=MODE``."""
    rec = {"name_label": name or unique("tiny-" + (mode or "idle")),
           "boot_method": "kernel_external", "kernel_kernel": guest["kernel"],
           "kernel_initrd": guest["initrd"], "kernel_args": tiny_args(guest, mode)}
    return create(api.VM, dict(rec, **memory(TINY_MEMORY)), fields)


def new_sr(api, **fields):
    """An SR (type dir); without a location the daemon puts it in its state dir."""
    return create(api.SR, {"name_label": unique("sr")}, fields)


def new_vdi(api, sr=None, size=16 * MIB, **fields):
    """A VDI of ``size`` bytes in ``sr`` (the first SR if none is given)."""
    rec = {"name_label": unique("vdi"), "SR": sr or api.SR.get_all()[0],
           "virtual_size": str(size // 512), "sharable": False, "read_only": False}
    return create(api.VDI, rec, fields)


def new_vbd(api, vm, vdi, device="xvda", **fields):
    """A paravirtualised RW VBD of ``vdi`` on ``vm``."""
    rec = {"VM": vm, "VDI": vdi, "device": device, "mode": "RW", "driver": "paravirtualised"}
    return create(api.VBD, rec, fields)


def new_network(api, **fields):
    """A network with a unique name."""
    return create(api.network, {"name_label": unique("net")}, fields)


def new_vif(api, vm, network, device="eth0", **fields):
    """A VIF of ``vm`` on ``network`` (the daemon picks its MAC)."""
    return create(api.VIF, {"VM": vm, "network": network, "device": device}, fields)


# -- the lifecycle table, as the API calls it --------------------------------------------

LIFECYCLE_STATES = ["Halted", "Running", "Paused", "Suspended"]
RESIDENT_STATES = ("Running", "Paused")

# (API call, its operation in api/lifecycle.TABLE, arguments after the VM)
LIFECYCLE_OPERATIONS = [
    ("start", "start", (False,)),
    ("start", "start_paused", (True,)),
    ("pause", "pause", ()),
    ("unpause", "unpause", ()),
    ("clean_shutdown", "clean_shutdown", ()),
    ("clean_reboot", "clean_reboot", ()),
    ("hard_shutdown", "hard_shutdown", ()),
    ("hard_reboot", "hard_reboot", ()),
    ("suspend", "suspend", (False,)),
    ("suspend", "suspend", (True,)),
    ("resume", "resume", (False,)),
    ("resume", "resume_paused", (True,)),
    ("clone", "clone", ("a clone",)),
]


def operation_id(call, op, args):
    """A test id for a LIFECYCLE_OPERATIONS row: its operation, "-live" for a live suspend."""
    return op + ("-live" if call == "suspend" and args == (True,) else "")


def vm_in(api, state, make=None):
    """A VM made by ``make()`` (by new_vm if no ``make`` is given) and brought into
    ``state`` (one of LIFECYCLE_STATES) through the API."""
    vm = make() if make else new_vm(api)
    if state == "Running":
        api.VM.start(vm, False)
    elif state == "Paused":
        api.VM.start(vm, True)
    elif state == "Suspended":
        api.VM.start(vm, False)
        api.VM.suspend(vm, False)
    assert api.VM.get_power_state(vm) == state
    return vm


# -- guests, seen from the host ----------------------------------------------------------

def vm_dir(daemon, vm):
    """The VM's directory in the daemon's state dir (where QEMU runs)."""
    return os.path.join(daemon.state_dir, "vms", vm)


def write_vm_file(daemon, vm, name, data):
    """A file of the VM's directory, as its backend would write it (a log, for
    GET /vm-log)."""
    os.makedirs(vm_dir(daemon, vm), mode=0o700, exist_ok=True)
    with open(os.path.join(vm_dir(daemon, vm), name), "wb") as f:
        f.write(data)


def console_text(directory, name="console.log"):
    """The serial console so far of the guest whose QEMU runs in ``directory`` (its
    console.log, appended across processes; ``name`` console.log.1 for the generation
    before); "" before there is one."""
    try:
        with open(os.path.join(directory, name), errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def console(daemon, vm):
    """The serial console so far of ``daemon``'s guest ``vm``."""
    return console_text(vm_dir(daemon, vm))


def type_line(backend, vm, line):
    """Type ``line`` on the serial console of ``backend``'s guest ``vm``: a command for
    the tiny guest's shell (xend.test=shell)."""
    with backend.open_console(vm, "vt100") as sock:
        sock.sendall(line.encode() + b"\n")


def wait_ready(daemon, vm, count=1, timeout=BOOT_WAIT):
    """Wait until the tiny guest said it is ready ``count`` times on its console."""
    wait_until(lambda: console(daemon, vm).count(READY) >= count, timeout,
               "%r x%d on the console of %s" % (READY, count, vm))


def qemu_pids(vm):
    """Live QEMU processes started for ``vm`` (found by ``-uuid``), sorted; zombies, which
    are dead already, are left out."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                args = f.read().split(b"\0")
            with open("/proc/%s/stat" % entry) as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if not zombie and any(a == b"-uuid" and b == vm.encode()
                              for a, b in zip(args, args[1:])):
            pids.append(int(entry))
    return sorted(pids)


def kill_qemus_under(directory):
    """SIGKILL every live QEMU whose working directory is below ``directory`` (QEMU runs in
    its guest's directory of a daemon's state dir). Returns the pids killed."""
    killed = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            cwd = os.readlink("/proc/%d/cwd" % pid)
            with open("/proc/%d/comm" % pid) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm.startswith("qemu-system") and (cwd + "/").startswith(directory.rstrip("/") + "/"):
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
    return killed


# -- daemons with guests: no guest outlives its test -------------------------------------

def halt_all(daemon, timeout=30):
    """hard_shutdown every VM of the daemon that is not Halted and not another pool
    member's guest, through ``daemon.api`` (a guest event may hold a VM for a moment: that
    is retried until ``timeout``), then SIGKILL whatever QEMU of this daemon is left.
    Returns the problems met, [] if none."""
    api = daemon.api
    problems = []
    here = daemon.own_host()
    for vm, rec in guest_records(api).items():
        if rec["power_state"] == "Halted" or rec["resident_on"] not in ("", here):
            continue
        try:
            wait_until(lambda vm=vm: _hard_shutdown(api, vm), timeout, "VM %s to halt" % vm)
        except XenAPI.Failure as e:
            problems.append("hard_shutdown %s: %s" % (vm, e.details))
        except AssertionError as e:
            problems.append("hard_shutdown %s: %s" % (vm, e))
    killed = kill_qemus_under(daemon.state_dir)
    if killed:
        problems.append("QEMU processes left after hard_shutdown of every VM: %s" % killed)
    if daemon.backend == "qemu":
        left = cgroups_left(guests(api))
        if left:
            problems.append("CPU cgroups left after hard_shutdown of every VM: %s" % left)
    return problems


def cgroups_left(vms):
    """The VMs of ``vms`` (uuids) whose guest's CPU cgroup (host/cgroups.py) is there."""
    hierarchy, _ = cgroups.probe()      # the one a daemon on this host picks
    return [vm for vm in vms if hierarchy and os.path.exists(hierarchy.path(vm))]


def _hard_shutdown(api, vm):
    """One try at hard_shutdown of ``vm``: True once it is Halted or gone, False while
    another operation holds it (to be retried); any other Failure is raised."""
    try:
        if api.VM.get_power_state(vm) != "Halted":
            api.VM.hard_shutdown(vm)
        return api.VM.get_power_state(vm) == "Halted"
    except XenAPI.Failure as e:
        if e.details[0] == "HANDLE_INVALID":
            return True
        if e.details[0] in ("OTHER_OPERATION_IN_PROGRESS", "VM_BAD_POWER_STATE"):
            return False
        raise


def retire(daemon):
    """Halt every guest of ``daemon`` (if it runs and is logged in), delete a qemu daemon's
    VMs and networks (so that it removes the bridges it made), kill -9 it, SIGKILL any QEMU
    left under its directory and remove its files. Returns the problems met."""
    problems = []
    if daemon.api is not None and daemon.proc is not None:
        try:
            problems += halt_all(daemon)
            if daemon.backend == "qemu":       # only the qemu backend makes bridges
                forget_networks(daemon)
        except Exception as e:   # the daemon may be the thing that broke
            problems.append("halting the guests failed: %r" % (e,))
    daemon.kill9()
    killed = kill_qemus_under(daemon.dir)
    if killed:
        problems.append("QEMU processes outlived the daemon: %s" % killed)
    daemon.cleanup()
    return problems


def forget_networks(daemon):
    """Delete every VM and network of ``daemon`` (its VMs are halted), so that the
    daemon removes the bridges it made for them."""
    api = daemon.api
    for vm in guests(api):
        api.VM.destroy(vm)
    for net in api.network.get_all():
        api.network.destroy(net)


class Fleet:
    """The daemons one fixture starts, each logged in as root (``.api``), all retired
    together at the fixture's end."""

    def __init__(self):
        self.made = []

    def start(self, login=True, **kwargs):
        """A started ``Daemon(**kwargs)``, root logged in (``.api``) if ``login``: a test
        of connection limits may want no idle connection of root's held open."""
        d = Daemon(**kwargs)
        self.made.append(d)     # before start(): a daemon that fails to start is cleaned up too
        d.start()
        if login:
            d.relogin()
        return d

    def retire(self):
        """retire() every daemon; AssertionError with the problems met, if any."""
        problems = []
        for d in self.made:
            problems += retire(d)
        assert not problems, problems


@contextlib.contextmanager
def serving(**kwargs):
    """``with serving(**kwargs) as d``: one daemon of a Fleet, ``Fleet.start(**kwargs)``,
    retired when the block ends (for a module's or a session's own daemon; a test's own
    come from the ``make_daemon`` fixture)."""
    fleet = Fleet()
    try:
        yield fleet.start(**kwargs)
    finally:
        fleet.retire()


# -- the tiny guest ------------------------------------------------------------------------

def load_module(name, path):
    """Import a file that is not on sys.path (the guest builder)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def guest_builder():
    """tests/guest/build.py as a module."""
    return load_module("xend_test_guest_build", os.path.join(ROOT, "tests", "guest", "build.py"))


def build_tiny_guest(directory):
    """tests/guest/build.py's guest: {"kernel", "initrd", "cmdline"} (built once, cached),
    with its files pinned in ``directory``: the builder prunes cache entries of other
    recipes, so a concurrent build of an edited recipe would pull them from under us."""
    builder = guest_builder()
    for attempt in range(3):
        guest = builder.build()
        try:
            pinned = dict(guest)
            for key in ("kernel", "initrd"):
                pinned[key] = os.path.join(directory, os.path.basename(guest[key]))
                if os.path.exists(pinned[key]):
                    os.unlink(pinned[key])
                try:
                    os.link(guest[key], pinned[key])
                except OSError as e:
                    if isinstance(e, FileNotFoundError):
                        raise
                    shutil.copyfile(guest[key], pinned[key])
            return pinned
        except FileNotFoundError:
            if attempt == 2:
                raise


# -- the daemon's own connection handler, in process ------------------------------------

# The peer of an in-process connection: root over the Unix socket.
ROOT_PEER = Peer("unix", uid=0, address="pid 1")


class InProcessListener:
    """What xen.xend.transport.listeners.ConnectionHandler asks of its listener, for serving a
    socket
    with the daemon's own handler inside a test or a benchmark: every peer is root."""

    kind = "unix"

    def __init__(self, app):
        self.app = app

    def peer_of(self, sock, client_address):
        return ROOT_PEER

    def answering(self, sock):
        return True

    def answered(self, sock, peer):
        pass


# -- the console proxy's clients -----------------------------------------------------------

def console_query(con, session, mode=None):
    """The query string of a console request for console ``con`` by ``session``."""
    return urllib.parse.urlencode(dict({"ref": con, "session_id": session},
                                       **({"mode": mode} if mode else {})))


def daemon_socket(daemon, over="unix", tls_port=None):
    """A client socket to ``daemon``'s listener ``over`` "unix", "tcp" or "tls" (the
    TLS listener on ``tls_port``, its self-signed certificate not checked)."""
    if over == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(daemon.socket)
        return sock
    sock = socket.create_connection(("127.0.0.1", tls_port if over == "tls" else daemon.port))
    if over == "tls":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(sock)
    return sock


def http_upgrade(sock, head):
    """Send request ``head`` on ``sock``: (the reply's status, its head), read byte by
    byte so that the socket is left at what follows: the stream after a 200 or 101, the
    reply's body otherwise."""
    sock.sendall(head)
    sock.settimeout(STATE_WAIT)
    reply = b""
    while not reply.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        assert byte, "EOF within the reply's head: %r" % reply
        reply += byte
    return int(reply.split(b" ", 2)[1]), reply.decode("latin-1")


def console_connect(daemon, query, over="unix", tls_port=None):
    """CONNECT /console?``query``: (status, the socket after the reply's head)."""
    sock = daemon_socket(daemon, over, tls_port)
    status, _ = http_upgrade(
        sock, b"CONNECT /console?%s HTTP/1.1\r\nHost: xend\r\n\r\n" % query.encode())
    return status, sock


def crash_sim_guest(daemon, vm):
    """Crash the Running sim guest ``vm`` of ``daemon``, as a real guest told to panic
    crashes: type the sim guest's crash line on its console (backend/sim.py), and wait
    until the daemon has followed the VM's actions_after_crash."""
    session = daemon.sdk_unix()
    api = session.xenapi
    try:
        (con,) = api.VM.get_consoles(vm)
        status, sock = console_connect(daemon, console_query(con, session._session))
        assert status == 200, status
        with sock:
            sock.sendall(b"crash\n")
            wait_until(lambda: api.VM.get_power_state(vm) != "Running", STATE_WAIT,
                       "the sim guest to crash")
    finally:
        api.session.logout()


class WebSocketClient:
    """A client of GET /console/ws after its handshake: wsproto's frames on ``sock``."""

    def __init__(self, sock):
        self.sock = sock
        self.ws = wsproto.connection.Connection(wsproto.connection.ConnectionType.CLIENT)
        self.events = []     # what the server sent other than binary messages, in order
        self.closed = None   # the CloseConnection the server sent, once it has

    def send(self, event):
        self.sock.sendall(self.ws.send(event))

    def read_until(self, expected, timeout=STATE_WAIT):
        """The binary messages' bytes until ``expected`` is in them, or until the server
        closes; the other events it sent (pongs, a close) go to ``self.events``."""
        self.sock.settimeout(timeout)
        got = b""
        while expected not in got and self.closed is None:
            self.ws.receive_data(self.sock.recv(65536) or None)
            for event in self.ws.events():
                if isinstance(event, wsproto.events.BytesMessage):
                    got += event.data
                else:
                    self.events.append(event)
                if isinstance(event, wsproto.events.CloseConnection):
                    self.closed = event
        return got


def console_websocket(daemon, query, over="unix", tls_port=None, extra=b""):
    """GET /console/ws?``query`` with a WebSocket upgrade (``extra`` further header
    lines): (status, the reply's head, a WebSocketClient after a 101; else the reply's
    body, read to the end)."""
    sock = daemon_socket(daemon, over, tls_port)
    status, head = http_upgrade(
        sock, b"GET /console/ws?%s HTTP/1.1\r\nHost: xend\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n%s\r\n" % (query.encode(), extra))
    if status == 101:
        return status, head, WebSocketClient(sock)
    with sock:
        return status, head, read_until(sock, b"never")


# -- RFB (VNC) clients ------------------------------------------------------------------

def rfb_connect(sock):
    """The RFB 3.8 handshake with no authentication, through ``sock``; (width, height,
    bytes per pixel) from the ServerInit."""
    sock.settimeout(STATE_WAIT)
    assert rfb_receive(sock, 12) == b"RFB 003.008\n"
    sock.sendall(b"RFB 003.008\n")
    (count,) = rfb_receive(sock, 1)
    assert 1 in rfb_receive(sock, count)                        # security type None
    sock.sendall(b"\x01")
    assert rfb_receive(sock, 4) == b"\0\0\0\0"                   # SecurityResult: OK
    sock.sendall(b"\x01")                                   # ClientInit: shared
    width, height, bits = struct.unpack(">HHB", rfb_receive(sock, 5))
    rfb_receive(sock, 15)                                       # the rest of the pixel format
    (name_length,) = struct.unpack(">I", rfb_receive(sock, 4))
    rfb_receive(sock, name_length)
    return width, height, bits // 8


def rfb_receive(sock, size):
    """Exactly ``size`` bytes from ``sock``."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "EOF from the RFB server"
        data += chunk
    return data


def rfb_colours(sock, width, height, depth):
    """The distinct pixel values of a whole-screen FramebufferUpdate (raw encoding)."""
    sock.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, width, height))
    kind, _, rects = struct.unpack(">BBH", rfb_receive(sock, 4))
    assert kind == 0                                        # FramebufferUpdate
    seen = set()
    for _ in range(rects):
        _, _, w, h, encoding = struct.unpack(">HHHHi", rfb_receive(sock, 12))
        assert encoding == 0                                # raw: none other was offered
        pixels = rfb_receive(sock, w * h * depth)
        seen |= {pixels[i:i + depth] for i in range(0, len(pixels), depth)}
    return seen
