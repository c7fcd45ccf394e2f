"""Helpers of the metrics tier: waiting, failures, GET /metrics, guests seen from the host.

Everything a test learns it learns through the official XenAPI SDK, GET /metrics, or from
the host the way an administrator would (/proc, the guest's serial console log). The only
daemon module imported is hostinfo, whose CPU_FEATURES table is the documented mapping of
/proc/cpuinfo flags to the API's cpu_feature values.
"""

import base64
import http.client
import importlib.util
import os
import shutil
import signal
import socket
import time
import uuid

import XenAPI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

QEMU = shutil.which("qemu-system-x86_64")

MIB = 1 << 20
READY = "xend-test: ready"

# Upper bounds for waits (reaching one is a failure, never an expectation).
BOOT_WAIT = 90
STATE_WAIT = 20


def unique(prefix="t"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def wait_until(predicate, timeout, what="condition", interval=0.05):
    """Poll ``predicate`` until it is truthy; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def failure(fn, *args):
    """Call an SDK method that must fail; return its ErrorDescription."""
    try:
        value = fn(*args)
    except XenAPI.Failure as e:
        assert all(isinstance(x, str) for x in e.details), e.details
        return e.details
    raise AssertionError("expected a Failure, got Success %r" % (value,))


def spec_or_wire(name):
    """A field name as errors may give it: its wire name (memory_dynamic_max) or its spec
    name (memory/dynamic_max) -> the wire name."""
    return name.replace("/", "_")


# -- users ---------------------------------------------------------------------------------

def make_user(api, password=None):
    """A non-root user with a password; returns (ref, short name, password)."""
    name = unique("u")
    password = password or "pw-" + uuid.uuid4().hex[:8]
    ref = api.user.create({"short_name": name, "fullname": "Metrics Tester"})
    api.user.set_password(ref, password)
    return ref, name, password


# -- VMs through the API -------------------------------------------------------------------

def memory(static_max, dynamic_max=None, dynamic_min=None, static_min=16 * MIB):
    dynamic_max = static_max if dynamic_max is None else dynamic_max
    dynamic_min = dynamic_max if dynamic_min is None else dynamic_min
    return {"memory_static_min": str(static_min), "memory_dynamic_min": str(dynamic_min),
            "memory_dynamic_max": str(dynamic_max), "memory_static_max": str(static_max)}


def new_vm(api, **fields):
    rec = {"name_label": unique("vm")}
    rec.update(fields)
    return api.VM.create(rec)


def new_no_os_vm(api, **fields):
    """A QEMU VM with no OS: SeaBIOS finds nothing to boot and idles. 64 MiB."""
    rec = {"name_label": unique("noos"), "boot_method": "bios", "bios_boot": "HD"}
    rec.update(memory(64 * MIB))
    rec.update(fields)
    return api.VM.create(rec)


def new_tiny_vm(api, guest, mode="", **fields):
    """A VM booting the tiny Linux guest of tests/guest/build.py with ``xend.test=MODE``."""
    args = guest["cmdline"] + (" xend.test=%s" % mode if mode else "")
    rec = {"name_label": unique("tiny-" + (mode or "idle")),
           "boot_method": "kernel_external", "kernel_kernel": guest["kernel"],
           "kernel_initrd": guest["initrd"], "kernel_args": args}
    rec.update(memory(128 * MIB))
    rec.update(fields)
    return api.VM.create(rec)


def new_disk(api, size=16 * MIB):
    sr = api.SR.get_all()[0]
    return api.VDI.create({"name_label": unique("disk"), "SR": sr,
                           "virtual_size": str(size // 512), "sharable": False,
                           "read_only": False})


def attach_disk(api, vm, vdi, device="xvda"):
    return api.VBD.create({"VM": vm, "VDI": vdi, "device": device, "mode": "RW",
                           "driver": "paravirtualised"})


def halt_all(api, timeout=30):
    """hard_shutdown every VM that is not Halted (retrying while a VM is busy)."""
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
    return problems


# -- the guest, seen from the host ---------------------------------------------------------

def console(daemon, vm):
    """The guest's serial console so far (state_dir/vms/VM/console.log)."""
    try:
        with open(os.path.join(daemon.state_dir, "vms", vm, "console.log"),
                  errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_ready(daemon, vm, timeout=BOOT_WAIT):
    wait_until(lambda: READY in console(daemon, vm), timeout,
               "%r on the console of %s" % (READY, vm), interval=0.1)


def kill_qemus_under(directory):
    """SIGKILL every live QEMU whose working directory is below ``directory`` (QEMU runs
    in its guest's state dir). Returns the pids killed."""
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


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def guest_builder():
    return load_module("xend_test_guest_build_metrics",
                       os.path.join(ROOT, "tests", "guest", "build.py"))


# -- GET /metrics --------------------------------------------------------------------------

class _UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over AF_UNIX."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def _get(conn, path, headers):
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode("utf-8")
    finally:
        conn.close()


def scrape_unix(daemon, path="/metrics"):
    """(status, headers, body) of GET ``path`` on the daemon's Unix socket."""
    return _get(_UnixHTTPConnection(daemon.socket), path, {})


def scrape_tcp(daemon, user=None, password=None, authorization=None, path="/metrics"):
    """(status, headers, body) of GET ``path`` over TCP, with HTTP Basic if ``user``."""
    headers = {}
    if user is not None:
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        headers["Authorization"] = "Basic " + token
    if authorization is not None:
        headers["Authorization"] = authorization
    return _get(http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10), path,
                headers)


def parse(text):
    """{family name: Metric} by prometheus_client's text-format parser (which raises on
    anything that is not valid exposition text)."""
    from prometheus_client.parser import text_string_to_metric_families
    return {fam.name: fam for fam in text_string_to_metric_families(text)}


def samples(families, name):
    """[(labels, value)] of the samples called ``name`` (a sample name, e.g. a counter's
    ``..._total``) across the parsed families."""
    return [(s.labels, s.value) for fam in families.values() for s in fam.samples
            if s.name == name]


def metrics_unix(daemon):
    status, _, body = scrape_unix(daemon)
    assert status == 200, (status, body)
    return parse(body)
