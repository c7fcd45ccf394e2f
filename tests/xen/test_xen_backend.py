"""The xen backend through the API: xend runs in dom0 of the nested Xen host with
``backend = "xen"`` and the tests drive it with the official XenAPI SDK over the forwarded
port, the way a management tool would. What Xen did is checked in dom0 (``xl list -v``,
the guests' consoles as xenconsoled logs them, sysfs).

The guest is the PV test guest of tests/xen/xenhost.py (GUEST_INIT says what each
``xend.test=`` mode does). Booting costs 20-40 s under TCG, so VMs are shared: ``vm_a``
(idle, a qcow2 VDI as xvda, a raw VDI of a "file" SR as xvdb and one VIF on the network
whose NIC is xenbr0) goes through the lifecycle
operations in the order this file lists them, ``vm_io`` (writing its disk and pinging dom0)
serves the IO rates and then the reattach test, which runs last because it restarts the
daemon. Each test first brings its VM into the state it needs, so it also runs alone.
"""

import base64
import socket
import time
import urllib.parse
import urllib.request

import pytest
import XenAPI
import xenhost
from harness import (
    console_query,
    failure,
    guest_records,
    http_upgrade,
    make_user,
    memory,
    read_until,
    unique,
    wait_until,
)

pytestmark = [pytest.mark.xen, pytest.mark.qemu]

MIB = 1 << 20
BOOT_WAIT = 300        # xl create plus a guest boot, on a busy 2-core machine under TCG
STATE_WAIT = 180
METRICS_WAIT = 60
GUEST_IP = "192.168.254.10"


# -- fixtures ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def host(xen_daemon):
    return xen_daemon


@pytest.fixture(scope="module")
def api(host):
    """root's SDK proxy over the forwarded port; every VM it made is halted at the end."""
    session = host.session()
    yield session.xenapi
    # The reattach test restarts the daemon: clean up through a session of now.
    x = host.session().xenapi
    for vm, rec in guest_records(x).items():
        if rec["power_state"] != "Halted":
            try:
                x.VM.hard_shutdown(vm)
            except XenAPI.Failure:
                pass


@pytest.fixture(scope="module")
def network(api):
    """A network on dom0's bridge xenbr0."""
    return api.network.create({"name_label": unique("xenbr"), "NIC": xenhost.BRIDGE})


def new_guest(api, mode="", network=None, disk=True, kernel_args="", **fields):
    """A VM booting the PV test guest (128 MiB) in ``mode``, with a 64 MiB VDI as xvda
    and a VIF on ``network`` if given."""
    args = xenhost.GUEST_CMDLINE + (" xend.test=" + mode if mode else "") + kernel_args
    rec = dict({"name_label": unique("xen-" + (mode.replace(",", "-") or "idle")),
                "boot_method": "kernel_external", "kernel_kernel": xenhost.GUEST_KERNEL,
                "kernel_initrd": xenhost.GUEST_INITRD, "kernel_args": args},
               **memory(128 * MIB))
    rec.update(fields)
    vm = api.VM.create(rec)
    if disk:
        vdi = api.VDI.create({"name_label": unique("disk"), "SR": api.SR.get_all()[0],
                              "virtual_size": str(64 * MIB // 512), "sharable": False,
                              "read_only": False})
        api.VBD.create({"VM": vm, "VDI": vdi, "device": "xvda", "mode": "RW",
                        "driver": "paravirtualised"})
    if network:
        api.VIF.create({"VM": vm, "network": network, "device": "eth0", "MAC": ""})
    return vm


@pytest.fixture(scope="module")
def vm_a(api, network):
    """The idle guest, with a second disk: a raw image of a "file" SR, which xl hands to
    blkback (the qcow2 xvda goes to the device model's qdisk)."""
    vm = new_guest(api, network=network)
    sr = api.SR.create({"name_label": unique("raw"), "type": "file"})
    vdi = api.VDI.create({"name_label": unique("raw-disk"), "SR": sr,
                          "virtual_size": str(16 * MIB // 512)})
    api.VBD.create({"VM": vm, "VDI": vdi, "device": "xvdb", "mode": "RW",
                    "driver": "paravirtualised"})
    return vm


@pytest.fixture(scope="module")
def vm_io(api, network):
    """Reboots once on its own (the mark on its disk keeps the second boot up), then
    writes its disk and pings dom0 for good."""
    return new_guest(api, "reboot,write,net", network=network, actions_after_reboot="restart",
                     kernel_args=" xend.ip=%s xend.peer=%s" % (GUEST_IP, xenhost.BRIDGE_ADDRESS))


# -- helpers ----------------------------------------------------------------------------

def power(api, vm):
    return api.VM.get_power_state(vm)


def wait_power(api, vm, state, timeout=STATE_WAIT):
    wait_until(lambda: power(api, vm) == state, timeout, "%s to be %s" % (vm, state),
               interval=1)


def the_domain(host, vm):
    """The VM's domain (xenhost.XenHost.domains); AssertionError if it has none."""
    dom = host.domain(vm)
    assert dom is not None, "no domain for %s in xl list: %s" % (vm, host.domains())
    return dom


def no_domain(host, vm, timeout=STATE_WAIT):
    """Wait until no domain of VM ``vm`` is left."""
    wait_until(lambda: host.domain(vm) is None, timeout, "the domain of %s to go" % vm,
               interval=1)


def ready_count(host, vm):
    """How many times the VM's guest has said it is ready (its boots, across domids)."""
    dom = host.domain(vm)
    return host.guest_console(dom["name"]).count("xend-test: ready") if dom else 0


def wait_ready(host, vm, count=1):
    """Wait until the guest has said it is ready ``count`` times; its console."""
    name = the_domain(host, vm)["name"]
    return host.wait_guest_ready(name, count=count, timeout=BOOT_WAIT)


def settled(api, host, vm):
    """Start ``vm_io`` if it is not running and wait until its guest is past its own
    reboot; its console."""
    ensure(api, host, vm, "Running")
    wait_until(lambda: _last_word(host, vm) == "rebooted before, staying up",
               BOOT_WAIT, "%s to settle after its reboot" % vm, interval=2)
    return host.guest_console(the_domain(host, vm)["name"])


def _last_word(host, vm):
    dom = host.domain(vm)
    words = [line.split("xend-test: ", 1)[1].strip() for line in
             (host.guest_console(dom["name"]) if dom else "").splitlines()
             if "xend-test: " in line]
    return words[-1] if words else None


def ensure(api, host, vm, state):
    """Bring ``vm`` into ``state`` ("Halted", or "Running" with its guest booted)."""
    now = power(api, vm)
    if state == "Halted" and now != "Halted":
        api.VM.hard_shutdown(vm)
    elif state == "Running":
        if now == "Paused":
            api.VM.unpause(vm)
        elif now == "Suspended":
            api.VM.resume(vm, False)
        elif now == "Halted":
            api.VM.start(vm, False)
        wait_ready(host, vm, max(1, ready_count(host, vm)))
    assert power(api, vm) == state


# -- the lifecycle on one PV guest with a disk and a NIC ----------------------------------

def test_start_paused_then_unpause(api, host, vm_a):
    ensure(api, host, vm_a, "Halted")
    api.VM.start(vm_a, True)
    assert power(api, vm_a) == "Paused"
    dom = the_domain(host, vm_a)
    assert "p" in dom["state"], dom
    assert int(api.VM.get_domid(vm_a)) == dom["domid"]         # xl's domid
    api.VM.unpause(vm_a)
    assert power(api, vm_a) == "Running"
    assert "p" not in the_domain(host, vm_a)["state"]
    console = wait_ready(host, vm_a)
    # The guest has its disk, and its NIC is a port of xenbr0.
    assert "xend-test: ready domid=%d mode= disk=xvda" % dom["domid"] in console
    assert host.check("ls /sys/class/net/%s/brif" % xenhost.BRIDGE).split().count(
        "vif%d.0" % dom["domid"]) == 1
    assert api.VM.get_resident_on(vm_a) == api.host.get_all()[0]


def console_connect(host, session, vm):
    """CONNECT to ``vm``'s console, its only one (vt100), through the console proxy on the
    daemon's TCP listener (the forwarded port) for XenAPI ``session``: (the socket, at
    the stream's first byte, and the bytes read from it so far: none)."""
    x = session.xenapi
    consoles = x.VM.get_consoles(vm)
    assert [x.console.get_protocol(c) for c in consoles] == ["vt100"]
    url = urllib.parse.urlsplit(host.api_url)
    sock = socket.create_connection((url.hostname, url.port))
    status, head = http_upgrade(
        sock, b"CONNECT /console?%s HTTP/1.1\r\nHost: xend\r\n\r\n"
        % console_query(consoles[0], session._session).encode())
    assert status == 200, head
    return sock, b""


def console_until(sock, got, expected):
    """The console's bytes ``got`` so far, and more until ``expected`` is in them."""
    return got if expected in got else got + read_until(sock, expected, timeout=60)


def answers(sock):
    """Whether the guest's shell on the console runs a command typed (the sum shows it)."""
    sock.sendall(b"echo xend-sum-$((6*7))\n")
    return b"xend-sum-42" in read_until(sock, b"xend-sum-42", timeout=60)


def test_console_shows_the_boot_from_history_and_answers_a_command(api, host, vm_a):
    ensure(api, host, vm_a, "Running")
    ready = b"xend-test: ready domid=%d" % the_domain(host, vm_a)["domid"]
    sock, got = console_connect(host, host.session(), vm_a)
    with sock:
        assert ready in console_until(sock, got, ready)     # from the hub's history
        assert answers(sock)


def backend_devices(host, kind, domid):
    """{vdev: device id} of the domain's disks under dom0's xenstore backend/KIND."""
    where = "/local/domain/0/backend/%s/%d" % (kind, domid)
    rc, out, _ = host.run("xenstore-list %s" % where)
    ids = out.split() if rc == 0 else []
    return {host.check("xenstore-read %s/%s/dev" % (where, i)).strip(): i for i in ids}


def test_raw_disk_of_a_file_sr_is_served_by_blkback(api, host, vm_a):
    ensure(api, host, vm_a, "Running")
    domid = the_domain(host, vm_a)["domid"]
    assert "xvdb" in backend_devices(host, "vbd", domid)
    assert "xvdb" not in backend_devices(host, "qdisk", domid)
    assert "xvda" in backend_devices(host, "qdisk", domid)   # the qcow2 disk, for contrast


def test_pause_and_unpause(api, host, vm_a):
    ensure(api, host, vm_a, "Running")
    domid = the_domain(host, vm_a)["domid"]
    api.VM.pause(vm_a)
    assert power(api, vm_a) == "Paused"
    assert "p" in the_domain(host, vm_a)["state"]
    api.VM.unpause(vm_a)
    assert power(api, vm_a) == "Running"
    dom = the_domain(host, vm_a)
    assert "p" not in dom["state"] and dom["domid"] == domid


def test_metrics_from_xen_and_xenstore(api, host, vm_a):
    ensure(api, host, vm_a, "Running")

    def sampled():
        rec = api.VM.get_record(vm_a)
        return rec if int(rec["memory_actual"]) > 0 and rec["VCPUs_utilisation"] \
            and rec["tools_version"] else None
    rec = wait_until(sampled, METRICS_WAIT, "memory, vCPU and tools figures", interval=2)
    # xl reports the domain's allocation in MiB: 128 MiB, give or take Xen's rounding.
    assert 100 * MIB <= int(rec["memory_actual"]) <= 130 * MIB, rec["memory_actual"]
    assert set(rec["VCPUs_utilisation"]) == {"0"}
    assert all(0.0 <= u <= 1.0 for u in rec["VCPUs_utilisation"].values())
    assert int(rec["VCPUs_number"]) == 1
    # What the guest wrote into attr/PVAddons, as a guest agent would.
    assert rec["tools_version"] == {"major": "1", "minor": "0", "micro": "0"}
    versions = api.host.get_software_version(api.host.get_all()[0])
    assert versions["xen"].startswith("4.17"), versions


def scrape_metrics(host, api):
    """{sample name: value} of GET /metrics over the forwarded port, as a new user."""
    from prometheus_client.parser import text_string_to_metric_families
    _, name, password = make_user(api)
    token = base64.b64encode(("%s:%s" % (name, password)).encode()).decode()
    request = urllib.request.Request(host.api_url + "metrics",
                                     headers={"Authorization": "Basic " + token})
    with urllib.request.urlopen(request, timeout=30) as reply:
        text = reply.read().decode()
    return {s.name: s.value for fam in text_string_to_metric_families(text)
            for s in fam.samples if not s.labels}


def test_host_cpus_are_xens_physical_cpus(api, host, vm_a):
    """host_cpu counts Xen's physical CPUs (``xl info``), not dom0's vCPUs, at Xen's
    speed, and their utilisation comes from Xen's idle counters (xenpm), not from dom0's
    /proc/stat; the host's facts of Xen-API 1.0 are xl info's, and its debug keys reach
    Xen; the host's memory on GET /metrics is Xen's, not dom0's."""
    ensure(api, host, vm_a, "Running")
    info = dict((k.strip(), v.strip()) for k, _, v in
                (line.partition(":") for line in host.check("xl info").splitlines()))
    cpus = api.host_cpu.get_all_records()
    assert sorted(int(c["number"]) for c in cpus.values()) == list(range(int(info["nr_cpus"])))
    assert {int(api.host_cpu.get_speed(c)) for c in cpus} == {round(float(info["cpu_mhz"]))}
    # Xen-API 1.0's host facts are Xen's, and its debug keys reach Xen's console ring.
    ref = api.host.get_all()[0]
    rec = {f: getattr(api.host, "get_" + f)(ref)      # 1.0's: not in draft records
           for f in ("capabilities", "sched_policy", "cpu_configuration")}
    assert rec["capabilities"] == info["xen_caps"].split()
    assert rec["sched_policy"] == info["xen_scheduler"]
    assert rec["cpu_configuration"]["nr_cpus"] == info["nr_cpus"]
    assert rec["cpu_configuration"]["threads_per_core"] == info["threads_per_core"]
    api.host.send_debug_keys(ref, "q")
    assert "'q' pressed" in api.host.dmesg(ref)
    idle = host.check("xenpm get-cpuidle-states")
    assert idle.count("idle time(ms)") == int(info["nr_cpus"]), idle

    def loads():
        values = [float(api.host_cpu.get_utilisation(c)) for c in cpus]
        return values if any(v > 0 for v in values) else None
    values = wait_until(loads, METRICS_WAIT, "the host CPUs' utilisation to move", interval=2)
    assert all(0.0 <= v <= 1.0 for v in values), values

    figures = scrape_metrics(host, api)
    assert figures["xend_host_memory_total_bytes"] == int(info["total_memory"]) * MIB
    assert 0 < figures["xend_host_memory_free_bytes"] < figures["xend_host_memory_total_bytes"]


def test_suspend_and_resume(api, host, vm_a):
    ensure(api, host, vm_a, "Running")
    boots = ready_count(host, vm_a)
    old = the_domain(host, vm_a)
    api.VM.suspend(vm_a, False)
    assert power(api, vm_a) == "Suspended"
    assert host.domain(vm_a) is None
    api.VM.resume(vm_a, False)
    assert power(api, vm_a) == "Running"
    new = the_domain(host, vm_a)
    assert new["domid"] != old["domid"] and "p" not in new["state"]
    # Restored, not rebooted: the guest has not booted again.
    time.sleep(5)
    assert ready_count(host, vm_a) == boots
    assert power(api, vm_a) == "Running"


def test_sysrq_trigger_dump_core_and_dmesg(api, host, vm_a):
    ensure(api, host, vm_a, "Running")
    name = the_domain(host, vm_a)["name"]
    api.VM.send_sysrq(vm_a, "h")      # through xenstore: the PV kernel prints the help
    wait_until(lambda: "HELP" in host.guest_console(name), STATE_WAIT,
               "the guest's SysRq help on its console", interval=1)
    api.VM.send_trigger(vm_a, "nmi", "0")         # xl trigger; the guest runs on
    assert power(api, vm_a) == "Running"
    assert failure(api.VM.send_trigger, vm_a, "nmi", "1")[:2] == ["INVALID_VALUE", "vcpu"]
    path = "/tmp/%s.core" % vm_a
    assert api.VM.dump_core(vm_a, path) == path
    _, out, _ = host.run("head -c 4 %s | od -An -c; stat -c %%a %s" % (path, path))
    assert out.split() == ["177", "E", "L", "F", "600"], out
    host.run("rm -f " + path)
    assert power(api, vm_a) == "Running"
    log = api.host.dmesg(api.host.get_all()[0])
    assert "(XEN)" in log and len(log.encode()) <= 64 * 1024
    assert "(XEN)" in api.host.dmesg_clear(api.host.get_all()[0])     # xl dmesg -c


def test_save_and_restore_to_a_named_file(api, host, vm_a):
    ensure(api, host, vm_a, "Running")
    boots = ready_count(host, vm_a)
    old = the_domain(host, vm_a)
    path = "%s/%s.save" % (xenhost.DAEMON_STATE, unique("saved"))
    api.VM.save(vm_a, path)
    assert power(api, vm_a) == "Halted"
    assert host.domain(vm_a) is None
    assert host.run("stat -c %a " + path, check=True)[1].strip() == "600"
    assert api.VM.restore(path, False) == vm_a
    assert power(api, vm_a) == "Running"
    new = the_domain(host, vm_a)
    assert new["domid"] != old["domid"]
    # Restored, not rebooted: it answers a clean shutdown without having booted again.
    api.VM.clean_shutdown(vm_a)
    assert power(api, vm_a) == "Halted"
    console = host.guest_console(new["name"])
    assert console.count("xend-test: ready") == boots
    assert "xend-test: powering off" in console
    host.run("rm -f " + path)


def test_a_suspend_the_guest_does_not_answer(api, host):
    """A paused guest cannot take up the suspend request: libxl gives up, the VM stays
    as it was, and the error says the guest did not answer."""
    vm = new_guest(api, disk=False)
    api.VM.start(vm, True)
    dom = the_domain(host, vm)
    assert failure(api.VM.suspend, vm, False) == ["VM_FAILED_SUSPEND_ACK", vm]
    assert power(api, vm) == "Paused"
    assert the_domain(host, vm)["domid"] == dom["domid"]
    api.VM.unpause(vm)
    wait_ready(host, vm)
    assert power(api, vm) == "Running"
    api.VM.hard_shutdown(vm)


def reboot(api, host, vm, operation):
    """``operation`` (VM.hard_reboot or VM.clean_reboot) on running ``vm``: it is
    Running when the call returns, in a new domain whose guest boots; the console."""
    ensure(api, host, vm, "Running")
    boots = ready_count(host, vm)
    old = the_domain(host, vm)
    operation(vm)
    assert power(api, vm) == "Running"
    new = the_domain(host, vm)
    assert new["domid"] != old["domid"]
    console = wait_ready(host, vm, boots + 1)
    assert "xend-test: ready domid=%d" % new["domid"] in console
    return console


def test_hard_reboot(api, host, vm_a):
    reboot(api, host, vm_a, api.VM.hard_reboot)


def test_clean_reboot(api, host, vm_a):
    console = reboot(api, host, vm_a, api.VM.clean_reboot)
    # The guest was asked (ctrl-alt-del through xenstore), not reset.
    assert "xend-test: reboot requested" in console


def test_clean_shutdown(api, host, vm_a):
    ensure(api, host, vm_a, "Running")
    name = the_domain(host, vm_a)["name"]
    api.VM.clean_shutdown(vm_a)
    assert power(api, vm_a) == "Halted"
    assert host.domain(vm_a) is None
    assert api.VM.get_resident_on(vm_a) == ""
    # The guest was asked (control/shutdown in xenstore), not destroyed.
    assert "xend-test: powering off" in host.guest_console(name)


def test_hard_shutdown(api, host, vm_a):
    ensure(api, host, vm_a, "Halted")
    api.VM.start(vm_a, False)
    assert power(api, vm_a) == "Running"
    domid = the_domain(host, vm_a)["domid"]
    # The qcow2 disk brought the domain its device model (qdisk) in dom0.
    # (i38[6]: the pattern must not match the shell that runs pgrep.)
    device_model = "pgrep -f 'xen-qemu-system-i38[6] -xen-domid %d '" % domid
    assert host.run(device_model)[0] == 0
    api.VM.hard_shutdown(vm_a)      # at once, booted or not
    assert power(api, vm_a) == "Halted"
    assert host.domain(vm_a) is None
    # Nothing of the domain is left in dom0: no device model, no vif.
    host.wait_for("! " + device_model, timeout=30, what="the device model to exit")
    assert "vif%d." % domid not in host.check("ls /sys/class/net")


# -- live changes ------------------------------------------------------------------------

def test_vcpus_sched_credit_and_pinning_live(api, host, vm_a):
    ensure(api, host, vm_a, "Halted")
    api.VM.set_VCPUs_max(vm_a, "2")
    api.VM.set_VCPUs_at_startup(vm_a, "1")
    ensure(api, host, vm_a, "Running")
    domid = the_domain(host, vm_a)["domid"]

    def availability():
        return host.check("xenstore-read /local/domain/%d/cpu/1/availability" % domid).strip()
    # xl vcpu-set offers the guest its second vCPU (taking it online is the guest's
    # part: the test guest has no udev to do it) and takes it back.
    assert availability() == "offline"
    api.VM.set_VCPUs_number_live(vm_a, "2")
    assert availability() == "online"
    assert api.VM.get_VCPUs_number(vm_a) == api.VM.get_VCPUs_at_startup(vm_a) == "2"
    api.VM.set_VCPUs_number_live(vm_a, "1")
    assert availability() == "offline"

    # xl sched-credit (sched-credit2 under Xen's default credit2) and xl vcpu-pin, read
    # back from xl.
    sched = "xl sched-credit2" if "credit2" in host.check("xl info") else "xl sched-credit"
    api.VM.set_VCPUs_params(vm_a, "weight=512 cap=50 cpumap0=0")
    name, _, weight, cap = host.check("%s -d %d" % (sched, domid)).splitlines()[1].split()
    assert (weight, cap) == ("512", "50")
    vcpu0 = host.check("xl vcpu-list %d" % domid).splitlines()[1].split()
    assert vcpu0[2] == "0" and vcpu0[6] == "0", vcpu0      # VCPU 0, hard affinity 0
    api.VM.set_VCPUs_params(vm_a, "")
    vcpu0 = host.check("xl vcpu-list %d" % domid).splitlines()[1].split()
    assert vcpu0[6] == "all", vcpu0
    assert host.check("%s -d %d" % (sched, domid)).splitlines()[1].split()[2:] == [
        "256", "0"]
    api.VM.hard_shutdown(vm_a)


# -- what guests do on their own --------------------------------------------------------

@pytest.fixture(scope="module")
def event_vms(api, host):
    """Two guests started one after the other (their boots overlap), each doing something on
    its own: {"poweroff", "panic": VM}."""
    vms = {"poweroff": new_guest(api, "poweroff", disk=False, actions_after_shutdown="destroy"),
           "panic": new_guest(api, "panic", disk=False, actions_after_crash="destroy")}
    for vm in vms.values():
        api.VM.start(vm, False)
    return vms


def test_guest_powers_off(api, host, event_vms):
    vm = event_vms["poweroff"]
    wait_power(api, vm, "Halted", BOOT_WAIT)
    no_domain(host, vm)


def test_guest_crash_with_after_crash_destroy(api, host, event_vms):
    vm = event_vms["panic"]
    wait_power(api, vm, "Halted", BOOT_WAIT)
    no_domain(host, vm)


def test_guest_reboot_stays_running_in_a_new_domain(api, host, vm_io):
    """``vm_io``'s first boot marks its disk and reboots; actions_after_reboot=restart."""
    ensure(api, host, vm_io, "Halted")
    api.VM.start(vm_io, False)
    first = the_domain(host, vm_io)["domid"]
    console = settled(api, host, vm_io)
    domids = [int(line.split("domid=")[1].split()[0]) for line in console.splitlines()
              if "xend-test: ready" in line]
    assert domids == [first, domids[1]] and domids[1] != first, console
    assert "xend-test: rebooting" in console
    assert power(api, vm_io) == "Running"
    assert the_domain(host, vm_io)["domid"] == domids[1]
    # VM.domid follows the new domain, as the sampler sees it.
    wait_until(lambda: int(api.VM.get_domid(vm_io)) == domids[1], 30,
               "VM.domid to be the new domain's")
    # One console across both domains: its history holds both boots, and the new
    # domain's pty takes what is typed.
    sock, got = console_connect(host, host.session(), vm_io)
    with sock:
        got = console_until(sock, got, b"ready domid=%d" % domids[1])
        assert b"xend-test: rebooting" in got and answers(sock)


# -- IO figures -------------------------------------------------------------------------

def test_vif_rates(api, host, vm_io):
    settled(api, host, vm_io)
    vif = api.VM.get_VIFs(vm_io)[0]
    # The guest pings dom0's address on the bridge, and is answered.
    wait_until(lambda: float(api.VIF.get_network_read_kbs(vif)) > 0
               and float(api.VIF.get_network_write_kbs(vif)) > 0, METRICS_WAIT,
               "the VIF's rates to move", interval=2)
    assert host.run("busybox ping -c 1 -W 5 %s" % GUEST_IP)[0] == 0


def test_vbd_write_rate(api, host, vm_io):
    """vm_io's VDI is a qcow2 image (a dir SR), which the device model's qdisk serves: the
    rate comes from its block statistics (QMP), not from blkback."""
    settled(api, host, vm_io)
    vbd = api.VM.get_VBDs(vm_io)[0]
    # The guest writes its disk all the time.
    wait_until(lambda: float(api.VBD.get_IO_bandwidth_outgoing_kbs(vbd)) > 0, METRICS_WAIT,
               "the VBD's write rate to move", interval=2)


# -- the daemon restarts; domains stay ---------------------------------------------------

def test_reattach_after_kill9_leaves_handmade_domains_alone(api, host, vm_io):
    settled(api, host, vm_io)
    before = the_domain(host, vm_io)
    # A domain made by hand, not by the daemon.
    hand = unique("handmade")
    # Paused: it never boots, so it costs no CPU time.
    host.xl_create(hand, host.guest_config(hand, vifs=()), paused=True)
    try:
        (hand_uuid, hand_dom), = [(u, d) for u, d in host.domains().items()
                                  if d["name"] == hand]

        host.restart_daemon()              # kill -9, then start on the same state
        x = host.session().xenapi
        assert x.VM.get_power_state(vm_io) == "Running"
        assert the_domain(host, vm_io)["domid"] == before["domid"]
        assert vm_io in x.host.get_resident_VMs(x.host.get_all()[0])
        # The new daemon reads the guest's console again.
        sock, _ = console_connect(host, host.session(), vm_io)
        with sock:
            assert answers(sock)
        # The new daemon drives the domain it found again.
        x.VM.pause(vm_io)
        assert "p" in the_domain(host, vm_io)["state"]
        x.VM.unpause(vm_io)
        x.VM.clean_shutdown(vm_io)
        assert x.VM.get_power_state(vm_io) == "Halted"
        assert host.domain(vm_io) is None

        # The hand-made domain is nobody's VM, and was left as it was throughout.
        assert hand_uuid not in x.VM.get_all()
        assert not x.VM.get_by_name_label(hand)
        time.sleep(6)     # one more pass of the backend's periodic check (5 s)
        now = host.domain(hand_uuid)
        assert now is not None and now["domid"] == hand_dom["domid"], now
        assert now["state"] == hand_dom["state"], now
    finally:
        host.run("xl destroy %s" % hand)
