"""Plain helpers shared by the test tiers (fixtures and the Daemon class are in conftest.py).

Imported as ``helpers``: pytest puts tests/ on sys.path for tests/conftest.py. What only
one tier needs stays next to it (xapi_helpers, metricshelp, qemuapi, qemutest, ...).

Everything a test learns here it learns the way a client or an administrator would:
through the official XenAPI SDK, or from the host (/proc, a guest's serial console log).
"""

import importlib.util
import os
import shutil
import signal
import socket
import time
import uuid

import pytest
import XenAPI

from xen.xend.api.sessions import Peer

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


# -- ports, directories, sockets ---------------------------------------------------------

def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scratch_dir():
    """A fresh directory under /tmp whose path has no "_": the XenAPI SDK turns "_" in the
    host part of its URL into "/" when it opens a Unix socket."""
    path = os.path.join("/tmp", "xendtest-" + uuid.uuid4().hex)
    os.makedirs(path, mode=0o700)
    return path


def answers(port):
    """True if something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def sdk_unix(socket_path, user="root", password=""):
    """A XenAPI SDK session over the Unix socket at ``socket_path``, logged in."""
    # The SDK takes the socket's path from the URL's host part, "/" written as "_".
    s = XenAPI.Session("http://%s/" % socket_path.replace("/", "_"),
                       transport=XenAPI.UDSTransport())
    s.xenapi.login_with_password(user, password)
    return s


# -- waiting and failures ----------------------------------------------------------------

def unique(prefix="t"):
    """``prefix`` with a random suffix: a name no other test uses."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def wait_until(predicate, timeout=20.0, what="condition", interval=0.05):
    """Poll ``predicate`` until it is truthy and return that value; AssertionError after
    ``timeout`` seconds (a deadline against hangs, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def failure(fn, *args):
    """Call an SDK method that must fail; return its ErrorDescription (a list of strings)."""
    try:
        value = fn(*args)
    except XenAPI.Failure as e:
        assert all(isinstance(x, str) for x in e.details), e.details
        return e.details
    raise AssertionError("expected a Failure, got Success %r" % (value,))


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


def new_vm(api, **fields):
    """A VM with the daemon's defaults but a unique name."""
    return create(api.VM, {"name_label": unique("vm")}, fields)


def new_no_os_vm(api, name=None, **fields):
    """A QEMU VM with no OS: SeaBIOS finds nothing to boot and idles. 64 MiB, one vCPU."""
    rec = {"name_label": name or unique("noos"), "boot_method": "bios", "bios_boot": "HD"}
    return create(api.VM, dict(rec, **memory(NO_OS_MEMORY)), fields)


def tiny_args(guest, mode=""):
    """The tiny guest's kernel command line, with ``xend.test=MODE`` if a mode is given."""
    return guest["cmdline"] + (" xend.test=%s" % mode if mode else "")


def new_tiny_vm(api, guest, mode="", name=None, **fields):
    """A VM booting the tiny Linux guest (tests/guest/build.py) with ``xend.test=MODE``."""
    rec = {"name_label": name or unique("tiny-" + (mode or "idle")),
           "boot_method": "kernel_external", "kernel_kernel": guest["kernel"],
           "kernel_initrd": guest["initrd"], "kernel_args": tiny_args(guest, mode)}
    return create(api.VM, dict(rec, **memory(TINY_MEMORY)), fields)


def new_disk(api, sr=None, size=16 * MIB, **fields):
    """A VDI of ``size`` bytes in ``sr`` (the first SR if none is given)."""
    rec = {"name_label": unique("disk"), "SR": sr or api.SR.get_all()[0],
           "virtual_size": str(size // 512), "sharable": False, "read_only": False}
    return create(api.VDI, rec, fields)


def attach_disk(api, vm, vdi, device="xvda", **fields):
    """A paravirtualised RW VBD of ``vdi`` on ``vm``."""
    rec = {"VM": vm, "VDI": vdi, "device": device, "mode": "RW", "driver": "paravirtualised"}
    return create(api.VBD, rec, fields)


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


def console_text(directory):
    """The serial console so far of the guest whose QEMU runs in ``directory`` (its
    console.log, appended across processes); "" before there is one."""
    try:
        with open(os.path.join(directory, "console.log"), errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def console(daemon, vm):
    """The serial console so far of ``daemon``'s guest ``vm``."""
    return console_text(vm_dir(daemon, vm))


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
    """hard_shutdown every VM of the daemon that is not Halted, through ``daemon.api`` (a
    guest event may hold a VM for a moment: OTHER_OPERATION_IN_PROGRESS is retried), then
    SIGKILL whatever QEMU of this daemon is left. Returns the problems met, [] if none."""
    api = daemon.api
    problems = []
    deadline = time.monotonic() + timeout
    for vm, rec in api.VM.get_all_records().items():
        while rec["power_state"] != "Halted":
            try:
                api.VM.hard_shutdown(vm)
            except XenAPI.Failure as e:
                if e.details[0] == "HANDLE_INVALID":
                    break
                if e.details[0] not in ("OTHER_OPERATION_IN_PROGRESS", "VM_BAD_POWER_STATE") \
                        or time.monotonic() > deadline:
                    problems.append("hard_shutdown %s: %s" % (vm, e.details))
                    break
                time.sleep(0.1)
            rec = api.VM.get_record(vm)
    killed = kill_qemus_under(daemon.state_dir)
    if killed:
        problems.append("QEMU processes left after hard_shutdown of every VM: %s" % killed)
    return problems


def retire(daemon):
    """Halt every guest of ``daemon`` (if it runs and is logged in), kill -9 it, SIGKILL any
    QEMU left under its directory and remove its files. Returns the problems met."""
    problems = []
    if daemon.api is not None and daemon.proc is not None:
        try:
            problems += halt_all(daemon)
        except Exception as e:   # the daemon may be the thing that broke
            problems.append("halting the guests failed: %r" % (e,))
    daemon.kill9()
    killed = kill_qemus_under(daemon.dir)
    if killed:
        problems.append("QEMU processes outlived the daemon: %s" % killed)
    daemon.cleanup()
    return problems


class Fleet:
    """The daemons one fixture starts, each logged in as root (``.api``), all retired
    together at the fixture's end."""

    def __init__(self, daemon_class):
        self.daemon_class = daemon_class
        self.made = []

    def start(self, **kwargs):
        """A started, logged-in ``daemon_class(**kwargs)``."""
        d = self.daemon_class(**kwargs)
        self.made.append(d)     # before start(): a daemon that fails to start is cleaned up too
        d.start()
        d.relogin()
        return d

    def retire(self):
        """retire() every daemon; AssertionError with the problems met, if any."""
        problems = []
        for d in self.made:
            problems += retire(d)
        assert not problems, problems


def serve(daemon_class, **kwargs):
    """For a fixture to ``yield from``: one Fleet daemon, ``daemon_class(**kwargs)`` started
    and logged in, retired at the fixture's end."""
    fleet = Fleet(daemon_class)
    yield fleet.start(**kwargs)
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
    """What xen.xend.transport.listeners.ConnectionHandler asks of its listener, for serving a socket
    with the daemon's own handler inside a test or a benchmark: every peer is root."""

    kind = "unix"

    def __init__(self, app):
        self.app = app

    def peer_of(self, sock, client_address):
        return ROOT_PEER
