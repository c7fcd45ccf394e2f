"""``Xend``: everything the daemon owns, built from a configuration (the store,
sessions, class handlers, event log, tasks, dispatcher, backend, domain owner and
sampler); at start it brings the host's own objects up to date and reattaches the
guests that were running.

Lower layers are handed this object rather than importing the layers above them.
The listeners (transport/listeners.py) read ``config`` and ``state_dir``, answer
calls through ``dispatcher.dispatch`` (in a serving daemon, serve.CallGate in front
of the Dispatcher) and check /metrics credentials with
``sessions.check_credentials``; /metrics (transport/prometheus.py) reads ``store``,
``sampler``, ``handlers``, ``host_ref`` and ``dispatcher.stats``; the handlers and
the state owners reach one another through it too (``domains``, ``handlers``,
``backend``, ``tasks``, ``events``).
"""

import logging
import os
import shutil
import signal
import threading
import uuid as uuidlib

from ..api import datamodel, lifecycle, methods, xmltime
from ..api.dispatch import Call, Dispatcher
from ..api.handlers.base import HOST_KEY, MASTER_KEY, ClassHandler
from ..api.handlers.console import ConsoleHandler
from ..api.handlers.crashdump import CrashdumpHandler
from ..api.handlers.derived import DerivedHandler
from ..api.handlers.event import EventHandler
from ..api.handlers.host import HostCpuHandler, HostHandler, cpu_records
from ..api.handlers.metrics import (
    HostMetricsHandler,
    VBDMetricsHandler,
    VIFMetricsHandler,
    VMGuestMetricsHandler,
    VMMetricsHandler,
)
from ..api.handlers.network import NetworkHandler, VIFHandler
from ..api.handlers.pbd import PBDHandler
from ..api.handlers.pif import PIFHandler, PIFMetricsHandler
from ..api.handlers.pool import PoolHandler
from ..api.handlers.session import SessionHandler
from ..api.handlers.storage import SRHandler, VBDHandler, VDIHandler, vdi_bytes
from ..api.handlers.task import TaskHandler
from ..api.handlers.user import UserHandler
from ..api.handlers.vm import VMHandler
from ..api.handlers.vtpm import VTPMHandler
from ..api.objects import Objects
from ..api.sessions import ROOT, Session, Sessions
from ..api.tasks import Tasks
from ..host import facts as hostinfo
from ..state import srreach
from ..state.domains import Domains
from ..state.events import EventLog
from ..state.migration import INTERNAL_OPS
from ..state.sampler import Sampler
from ..state.sqlite import SqliteEngine
from ..state.store import Store
from ..transport.poolchannel import PORT_KEY, PoolChannel
from ..util.addresses import pool_endpoint
from ..util.files import (
    private_dir,
    read_text,
    same_file_system,
    tighten,
    unlink_if_exists,
    write_private,
)
from . import config as configmod
from .fencewatch import FenceWatch

log = logging.getLogger("xend")

VERSION = "0.1.0"

# The classes with behaviour of their own; every other class gets the generic handler.
HANDLERS = (SessionHandler, TaskHandler, VMHandler, HostHandler, HostCpuHandler,
            NetworkHandler, VIFHandler, SRHandler, VDIHandler, VBDHandler, UserHandler,
            ConsoleHandler, EventHandler, VMMetricsHandler,
            # 1.0: metrics
            VMGuestMetricsHandler, HostMetricsHandler, VIFMetricsHandler, VBDMetricsHandler,
            # 1.0: host's interfaces, storage and objects
            PIFHandler, PIFMetricsHandler, PBDHandler, CrashdumpHandler, VTPMHandler,
            PoolHandler)

# A fixed namespace so that host_cpu refs are the same at every start on the same host.
_CPU_NAMESPACE = uuidlib.UUID("6f1d2c1e-6a43-4bde-9b0e-8d8c0c3a7f21")
# The same for the control domains of a pool's hosts other than its first.
_CONTROL_NAMESPACE = uuidlib.UUID("3c0e5a52-8b7d-4f0e-a6d1-2f9b7c4e1d08")

# In the state directory of a daemon on a pool's database: its own host record's ref.
POOL_HOST_FILE = "pool-host"
# In the state directory of a host that joined a pool: the pool's database (its URI),
# which it uses in place of its configuration's ``database`` until it is ejected.
POOL_MEMBER_FILE = "pool-member"


def member_config(config):
    """``config`` with ``database`` the pool's where the host joined one (pool.join
    wrote POOL_MEMBER_FILE in its state directory)."""
    uri = read_text(os.path.join(config["state_dir"], POOL_MEMBER_FILE)).strip()
    return dict(config, database=uri) if uri else config


def _index_plan():
    """What the store must index: every bound Ref field, the indexed fields, and the
    bytes each SR's VDIs promise (so that no allocation check sums every VDI)."""
    reverse = [(b.ref_class, b.ref_field) for b in datamodel.BINDINGS]
    lookup = [(c.name, f.wire) for c, f in datamodel.all_fields() if f.indexed]
    return reverse, lookup, {("VDI", "SR"): vdi_bytes}


def open_engine(config):
    """The store's engine the configuration names: SQLite in the state directory when
    ``database`` is "", else PostgreSQL at that URI (psycopg, the ``postgres`` extra)."""
    if not config["database"]:
        return SqliteEngine(os.path.join(config["state_dir"], "xend.db"))
    password = configmod.database_password(config)
    try:
        from ..state.postgres import PostgresEngine
    except ImportError as e:
        raise configmod.ConfigError("database = %r needs psycopg 3 (pip install "
                                    "'xend[postgres]'): %s" % (config["database"], e)) from None
    return PostgresEngine(config["database"], password, config["database_log_retention"])


# Lists "control_d" in Xen's control domain (dom0), where guests belong to Xen.
XEN_CAPABILITIES = "/proc/xen/capabilities"


def choose_backend(name, qemu_binary="qemu-system-x86_64"):
    """The backend name to use: ``auto`` picks xen in a Xen dom0, else qemu wherever
    ``qemu_binary`` (the configured QEMU) is installed, else sim."""
    if name != "auto":
        return name
    if os.path.exists(XEN_CAPABILITIES):
        with open(XEN_CAPABILITIES) as f:
            if "control_d" in f.read():
                return "xen"
    return "qemu" if shutil.which(qemu_binary) else "sim"


def make_backend(name, config):
    """Construct the named backend."""
    if name == "sim":
        from ..backend.sim import SimBackend
        log.warning("using the simulated backend: guests are not real")
        return SimBackend(config["state_dir"], op_seconds=config["sim_op_seconds"],
                          console_history_bytes=config["console_history_bytes"],
                          host_memory_bytes=config["sim_host_memory"])
    if name == "qemu":
        from ..backend.qemu import QemuBackend
        return QemuBackend(accel=config["accel"], qemu_binary=config["qemu_binary"],
                           reattach_timeout=config["reattach_timeout"],
                           console_log_bytes=config["console_log_bytes"],
                           state_reserve_bytes=config["state_reserve_bytes"],
                           qemu_user=config["qemu_user"],
                           console_history_bytes=config["console_history_bytes"])
    if name == "xen":
        from ..backend.xen import XenBackend
        return XenBackend(xl=config["xen_xl"], pvh_cpuid=config["xen_pvh_cpuid"],
                          console_history_bytes=config["console_history_bytes"])
    raise ValueError("backend %r is not available" % name)


class Xend:
    """Everything the daemon owns, built from a configuration dict (config.load)."""

    leases = None   # on PostgreSQL, this host's lease (state/leases.py) once it has one
    pool_channel = None   # on PostgreSQL, transport/poolchannel.py's PoolChannel

    def __init__(self, config):
        config = member_config(config)
        self.config = config
        self.state_dir = config["state_dir"]
        self.restart_requested = False     # serve() runs the daemon again once stopped
        private_dir(self.state_dir)
        # Where root puts kernels, initrds and ISO images for users' guests: readable by
        # all, writable by root only, so no user can plant a file or link in it.
        self.boot_dir = os.path.join(self.state_dir, "boot")
        private_dir(self.boot_dir, 0o755)
        self._tighten_own_dirs()
        reverse, lookup, totals = _index_plan()
        engine = open_engine(config)
        self.store = Store(engine,
                           [c.name for c in datamodel.CLASSES.values() if not c.owner],
                           reverse_fields=reverse, lookup_fields=lookup, totals=totals,
                           volatile=[c.name for c in datamodel.CLASSES.values()
                                     if not c.stored and not c.owner])
        self.sessions = Sessions(self, idle_timeout=config["session_idle_timeout"],
                                 failure_delay=config["login_failure_delay"],
                                 auth=config["auth"])
        own = {h.cls_name: h for h in HANDLERS}
        self.handlers = {c: own[c](self) if c in own else
                         (DerivedHandler if k.owner else ClassHandler)(self, c)
                         for c, k in datamodel.CLASSES.items()}
        self.events = EventLog(self, capacity=config["event_log_size"],
                               max_bytes=config["event_log_bytes"])
        self.tasks = Tasks(self, workers=config["task_workers"],
                           max_pending=config["max_pending_tasks"],
                           max_pending_per_user=config["max_pending_tasks_per_user"],
                           max_age=config["task_max_age"],
                           max_finished=config["task_max_finished"])
        self.objects = Objects(self.store, self.handlers)
        self.dispatcher = Dispatcher(self, {rev: methods.build(self.handlers, rev)
                                            for rev in datamodel.REVISIONS})
        self.backend_name = choose_backend(config["backend"], config["qemu_binary"])
        self.backend = make_backend(self.backend_name, config)
        self.domains = Domains(self, self.backend)
        self.sampler = Sampler(self, config["sampler_interval"])
        self._sr_locks = {}
        self._sr_locks_lock = threading.Lock()
        self.host_ref = self._own_host_ref()
        self._ensure_host()
        self.master_ref = self._ensure_master()
        self.control_domain = self.control_domain_of(self.host_ref)
        self._ensure_control_domain()
        self._ensure_root_user()
        self._ensure_default_sr()
        srreach.attach_shared(self)      # the pool's shared SRs, reached from here too
        self.leases = self._open_leases()
        self.fence_watch = FenceWatch(self.state_dir, config["log_file"])
        self._watch_fence()
        # Calls to and from the pool's other members; none on a host alone.
        self.pool_channel = (None if engine.pool_secret is None else
                             PoolChannel(self, engine.pool_secret, config["pool_ca_file"]))
        if self.pool_channel is not None:
            for op, name in INTERNAL_OPS.items():     # a migration's steps on its target
                self.pool_channel.register(op, getattr(self.domains, name))
        if self.leases is not None and self.leases.lapsed:
            self.domains.lapsed_start()   # its guests may run elsewhere now
        self.domains.reattach_all()
        if config["database"]:
            self.store.add_listener(self._notice_ejection)
            srreach.SharedSRFollower(self)
        if self.leases is not None:
            self.leases.start()
        self.sampler.start(extra_work=(self.sessions.expire_idle, self.tasks.collect,
                                       self.domains.recheck_unknown))
        log.info("xend %s: state loaded from %s, backend %s", VERSION, self.state_dir,
                 self.backend_name)

    def _tighten_own_dirs(self):
        """Make the directories of SRs and guests in the state dir root's alone (0700),
        as this version makes them: an older xend, or an admin, may have left them open."""
        for top in (os.path.join(self.state_dir, "sr"), os.path.join(self.state_dir, "vms")):
            tighten(top, 0o700)
            if os.path.isdir(top):
                for entry in os.scandir(top):
                    if entry.is_dir(follow_symlinks=False):
                        tighten(entry.path, 0o700)

    # -- the host's own objects -----------------------------------------------

    def _own_host_ref(self):
        """This daemon's own host's ref. On SQLite the store's one host; on a pool's
        database the one ``pool-host`` names (written once it is made), so that every
        daemon on the database has its own; a new one where there is none yet."""
        if not self.config["database"]:
            hosts = self.store.refs("host")
        else:
            named = read_text(os.path.join(self.state_dir, POOL_HOST_FILE)).strip()
            hosts = [named] if self.store.get("host", named) is not None else []
        return hosts[0] if hosts else str(uuidlib.uuid4())

    def _ensure_host(self):
        """This daemon's own host record, made at its first start on its store (the
        first on a store is the pool's master), and its host_cpu records brought up to
        date; ``pool-host`` names it on a pool's database."""
        ref = self.host_ref
        address, port = pool_endpoint(self.config)
        reach = {"address": address, PORT_KEY: port}
        with self.store.transaction() as txn:     # caught up: another daemon's host seen
            if txn.get("host", ref) is None:
                txn.create("host", ref, {"name_label": hostinfo.host_facts()["hostname"],
                                         "name_description": "", "enabled": True, **reach,
                                         **({MASTER_KEY: True} if not self.store.count("host")
                                            else {})})
            elif any(txn.get("host", ref).get(k) != v for k, v in reach.items()):
                txn.update("host", ref, reach)
            wanted = {str(uuidlib.uuid5(_CPU_NAMESPACE, "%s/%d" % (ref, r["number"]))): r
                      for r in cpu_records(ref, self.backend.host_cpus())}
            for cpu in self.store.referrers("host_cpu", "host", ref):
                if cpu not in wanted:
                    txn.delete("host_cpu", cpu)
            for cpu, rec in wanted.items():
                if self.store.get("host_cpu", cpu) != rec:
                    if self.store.get("host_cpu", cpu) is None:
                        txn.create("host_cpu", cpu, rec)
                    else:
                        txn.update("host_cpu", cpu, rec)
        path = os.path.join(self.state_dir, POOL_HOST_FILE)
        if self.config["database"] and read_text(path).strip() != ref:
            write_private(path, ref + "\n")

    def _ensure_master(self):
        """The pool's master's host ref. A store made before hosts recorded it has one
        host (SQLite), or hosts sharing the first control domain: that one's host is the
        master, marked so once."""
        for ref, rec in self.store.records("host"):
            if rec.get(MASTER_KEY):
                return ref
        first = self.store.get("VM", lifecycle.CONTROL_DOMAIN) or {}
        master = first.get("resident_on") or self.host_ref
        with self.store.transaction() as txn:
            txn.update("host", master, {MASTER_KEY: True})
        return master

    def control_domain_of(self, host):
        """The ref of ``host``'s control domain: the fixed lifecycle.CONTROL_DOMAIN on a
        single host and on a pool's master, one derived from the host's ref on every
        other host of the pool (the same at every start)."""
        if host == self.master_ref:
            return lifecycle.CONTROL_DOMAIN
        return str(uuidlib.uuid5(_CONTROL_NAMESPACE, host))

    def host_of(self, rec):
        """The host a local SR or a network with a NIC (its record ``rec``) is on: the
        one its record names, else (made before records named one) the master."""
        return rec.get(HOST_KEY) or self.master_ref

    def _ensure_control_domain(self):
        """This host's control domain's VM (``control_domain``), made at the first start
        and brought up to date at each: Running on this host, with the machine's memory,
        CPUs and boot time. What clients may write of it (its description and
        other_config) is kept."""
        total, cpus = self.sampler.own_memory[0], os.cpu_count() or 1
        facts = {"name_label": lifecycle.CONTROL_DOMAIN_NAME, "is_control_domain": True,
                 "power_state": lifecycle.RUNNING, "resident_on": self.host_ref,
                 "memory_static_max": total, "memory_dynamic_max": total,
                 "memory_dynamic_min": total, "memory_static_min": total,
                 "VCPUs_max": cpus, "VCPUs_at_startup": cpus,
                 "_domid": 0, "_start_time": xmltime.stamp(hostinfo.boot_time())}
        own = self.control_domain
        with self.store.transaction() as txn:
            if txn.get("VM", own) is None:
                record = self.handlers["VM"].record_from_wire({})[0]
                txn.create("VM", own, dict(record, **facts))
            elif any(txn.get("VM", own).get(k) != v for k, v in facts.items()):
                # Only on a change: an update moves it last in the host's resident_VMs.
                txn.update("VM", own, facts)

    def _ensure_root_user(self):
        if not self.store.lookup("user", "short_name", ROOT):
            with self.store.transaction() as txn:
                txn.create("user", str(uuidlib.uuid4()),
                           {"short_name": ROOT, "fullname": "Administrator"})

    def _ensure_default_sr(self):
        """Each host's own local SR, made at its first start."""
        if not any(srreach.local_host(self, rec) == self.host_ref
                   for _, rec in self.store.records("SR")):
            self.handlers["SR"].make(str(uuidlib.uuid4()), {
                "name_label": "Local storage", "name_description": "qcow2 images in "
                "the state directory", "type": "dir",
                "location": os.path.join(self.state_dir, "sr", "default")})

    # -- pool membership (api/membership.py) --------------------------------------

    def pool_engine(self):
        """An engine on the pool's database the configuration names (pool_database),
        for pool.join."""
        return open_engine(dict(self.config, database=self.config["pool_database"]))

    def become_member(self):
        """After pool.join's commit: this host is the pool's from its next start on,
        which comes at once (once the join's reply is out)."""
        write_private(os.path.join(self.state_dir, POOL_HOST_FILE), self.host_ref + "\n")
        write_private(os.path.join(self.state_dir, POOL_MEMBER_FILE),
                      self.config["pool_database"] + "\n")
        self.request_restart("joined the pool at %s" % self.config["pool_database"])

    def _notice_ejection(self, changes):
        """A store listener: this host's record deleted (pool.eject) makes the daemon
        leave the pool and start again on a new SQLite store of its own (its image
        files stay on disk)."""
        if any(op == "del" and cls == "host" and ref == self.host_ref
               for op, cls, ref, _, _ in changes):
            for name in (POOL_MEMBER_FILE, POOL_HOST_FILE, "xend.db", "xend.db-wal",
                         "xend.db-shm"):
                unlink_if_exists(os.path.join(self.state_dir, name))
            self.request_restart("ejected from the pool")

    def request_restart(self, why):
        """Stop as on SIGTERM (calls finish, their replies are written), then serve()
        runs the daemon again in this process; guests keep running and are reattached."""
        log.warning("restarting: %s", why)
        self.restart_requested = True
        os.kill(os.getpid(), signal.SIGTERM)

    def _open_leases(self):
        """This host's lease on the pool's database (PostgreSQL), renewed from now on;
        None on SQLite, where the host is alone."""
        if not self.config["database"]:
            return None
        # psycopg is there: the engine needs it too.
        from ..state.leases import Leases
        return Leases(self.config["database"], configmod.database_password(self.config),
                      self.host_ref, self.config["pool_lease_seconds"],
                      lambda: self.sampler.host_memory, self.domains)

    def _watch_fence(self):
        """A member's fence watchdog (daemon/fencewatch.py) adopted or started, and
        petted at each renewal of the lease; on SQLite, one left from before stopped."""
        if self.leases is None:
            self.fence_watch.stop()
            return
        lease = self.leases.seconds
        self.fence_watch.ensure(self.leases.last_sent, lease)
        self.leases.on_renewed = lambda sent: self.fence_watch.pet(sent, lease)

    def lease(self, host):
        """Host ``host``'s lease as last read ({"live", "memory_total", "memory_free"}),
        or None (no lease: on SQLite, or a member that never renewed one)."""
        return None if self.leases is None else self.leases.lease(host)

    def host_memory(self, host):
        """(total, free) bytes of ``host``'s memory: this host's as the sampler last saw
        them, another member's as its lease last said ((0, 0) without one)."""
        if host == self.host_ref or self.leases is None:
            return self.sampler.host_memory
        lease = self.lease(host) or {}
        return lease.get("memory_total", 0), lease.get("memory_free", 0)

    def host_live(self, host):
        """Whether ``host`` is alive: a host alone always is; a member while its lease
        has not expired."""
        return self.leases is None or bool((self.lease(host) or {}).get("live"))

    def start_placed(self, vm):
        """Start ``vm`` as root would with VM.start: on the member placement chooses
        (a dead member's guests restarted, state/hostfailure.py)."""
        self.handlers["VM"].start(self.root_call("VM.start"), vm, False)

    def root_call(self, method):
        """A Call of ``method`` made by the daemon itself, as root: its own work on
        objects (a migration's VDIs made and destroyed, a guest restarted)."""
        root = Session("", ROOT, 0.0, 0.0, datamodel.REVISIONS[-1])
        return Call(self, method, session=root)

    def reserve_for(self, path):
        """The bytes guest disks must leave free on ``path``'s file system: the
        state_reserve_bytes kept for the daemon's own database and log on the state
        directory's file system, none on any other."""
        if same_file_system(path, self.state_dir):
            return self.config["state_reserve_bytes"]
        return 0

    def sr_lock(self, sr):
        """The lock that serialises image-file work in one SR."""
        with self._sr_locks_lock:
            return self._sr_locks.setdefault(sr, threading.Lock())

    # -- facts the handlers read ------------------------------------------------

    def software_version(self):
        extra = {"xend": VERSION, "backend": self.backend_name,
                 **self.backend.software_version()}
        qemu = hostinfo.qemu_version(self.config["qemu_binary"])   # the QEMU guests run on
        if qemu:
            extra["qemu"] = qemu
        return hostinfo.software_version(extra)

    def host_features(self, host=None):
        """The cpu_feature values every CPU of ``host`` (this host by default) has."""
        cpus = [self.store.get("host_cpu", c) for c in
                self.store.referrers("host_cpu", "host", host or self.host_ref)]
        return set.intersection(*(set(c.get("features", [])) for c in cpus)) if cpus else set()

    def guest_file_roots(self):
        """The directories under which a user other than root may point a guest at a
        host file (kernel/kernel, kernel/initrd, bios/cdrom): ``path_roots`` where it
        is set, else the boot directory. The same roots bound the images such a user
        adopts as VDIs (SR.introduce, VDI.introduce)."""
        return list(self.config["path_roots"]) or [self.boot_dir]

    def cpu_utilisation(self):
        return self.sampler.host_cpus

    def close(self):
        """Stop background work and close the store; guests keep running."""
        self.sampler.stop()
        if self.leases is not None:
            self.leases.stop()   # the lease runs out unless the daemon is back in time
            self.fence_watch.stop()   # stopped on purpose: its guests are not fenced
        self.tasks.close()
        self.backend.close()
        self.store.close()
