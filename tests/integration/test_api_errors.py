"""Every error code a client can provoke, with its parameters, over plain xmlrpc.client
(the SDK retries SESSION_INVALID itself, so it would hide some of these)."""

import os

import pytest
from harness import STATE_WAIT, serving, unique, wait_until
from xapi_helpers import Raw, tcp_proxy, unix_proxy

from xen.xend.api.lifecycle import CONTROL_DOMAIN

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def r(raw):
    return raw


def new_vm(r, **fields):
    rec = {"name_label": unique("vm")}
    rec.update(fields)
    return r.ok("VM.create", rec)


@pytest.fixture(scope="module")
def user(r, daemon):
    """A non-root user logged in over TCP."""
    name = unique("alice")
    ref = r.ok("user.create", {"short_name": name, "fullname": "Alice"})
    r.ok("user.set_password", ref, "alice-pw")
    u = Raw(tcp_proxy(daemon))
    u.login(name, "alice-pw")
    u.name, u.ref = name, ref
    return u


# -- sessions ------------------------------------------------------------------------------

def test_session_authentication_failed(daemon):
    t = Raw(tcp_proxy(daemon))
    reply = t.call("session.login_with_password", "nobody-" + unique(), "wrong")
    assert reply["Status"] == "Failure"
    d = reply["ErrorDescription"]
    assert d[0] == "SESSION_AUTHENTICATION_FAILED" and len(d) == 3
    assert d[1].startswith("nobody-")


def test_session_invalid_for_a_bad_handle(r):
    reply = r.call("VM.get_all", "not-a-session")
    assert reply["ErrorDescription"] == ["SESSION_INVALID", "not-a-session"]
    reply = r.call("VM.get_all", MISSING)
    assert reply["ErrorDescription"] == ["SESSION_INVALID", MISSING]


def test_session_invalid_after_logout(daemon):
    s = Raw(unix_proxy(daemon))
    handle = s.login("root", "")
    assert s.ok("VM.get_all") is not None
    assert s.call("session.logout", handle) == {"Status": "Success", "Value": ""}
    assert s.fail("VM.get_all") == ["SESSION_INVALID", handle]
    assert s.fail("session.logout") == ["SESSION_INVALID", handle]


# -- refs and names -----------------------------------------------------------------------------

def test_handle_invalid_for_an_unknown_ref(r):
    assert r.fail("VM.get_name_label", MISSING) == ["HANDLE_INVALID", "VM", MISSING]
    assert r.fail("VM.set_name_label", "garbage", "x") == ["HANDLE_INVALID", "VM", "garbage"]


def test_handle_invalid_for_a_ref_of_another_class(r):
    vm = new_vm(r)
    assert r.fail("network.get_name_label", vm) == ["HANDLE_INVALID", "network", vm]
    assert r.fail("VBD.get_record", vm) == ["HANDLE_INVALID", "VBD", vm]
    sr = r.ok("SR.create", {"name_label": unique()})
    assert r.fail("VDI.create", {"SR": vm, "virtual_size": "1"}) == [
        "HANDLE_INVALID", "SR", vm]
    assert r.fail("VDI.create", {"SR": sr, "virtual_size": "1", "parent": sr}) == [
        "HANDLE_INVALID", "VDI", sr]


def test_uuid_invalid(r):
    assert r.fail("VM.get_by_uuid", MISSING) == ["UUID_INVALID", "VM", MISSING]
    host = r.ok("host.get_all")[0]
    assert r.fail("VM.get_by_uuid", host) == ["UUID_INVALID", "VM", host]


@pytest.mark.parametrize("method", ["VM.nonexistent", "Nothing.get_all", "VM",
                                    "VM.get_nonexistent_field", "host.get_by_short_name",
                                    "VM.set_VBDs"])
def test_message_method_unknown(r, method):
    assert r.fail(method) == ["MESSAGE_METHOD_UNKNOWN", method]


@pytest.mark.parametrize("method, args, expected", [
    ("VM.get_name_label", (), 1),
    ("VM.get_all", ("extra",), 0),
    ("VM.start", (MISSING,), 2),
    ("VM.start", (MISSING, False, "x"), 2),
    ("SR.clone", (MISSING, "loc"), 3),
    ("VM.create", (), 1),
])
def test_message_parameter_count_mismatch(r, method, args, expected):
    assert r.fail(method, *args) == ["MESSAGE_PARAMETER_COUNT_MISMATCH", method,
                                     str(expected), str(len(args))]


# -- fields ----------------------------------------------------------------------------------

def test_field_type_error(r):
    vm = new_vm(r)
    assert r.fail("VM.set_name_label", vm, 5)[0] == "FIELD_TYPE_ERROR"
    assert r.fail("VM.set_user_version", vm, "many")[0] == "FIELD_TYPE_ERROR"
    assert r.fail("VM.create", {"name_label": 5}) == ["FIELD_TYPE_ERROR", "name_label"]
    assert r.fail("VM.create", {"VCPUs_features_force_on": "FPU"}) == [
        "FIELD_TYPE_ERROR", "VCPUs_features_force_on"]
    assert r.fail("VM.create", "a record")[0] == "FIELD_TYPE_ERROR"
    assert r.fail("VM.get_by_name_label", 5)[0] == "FIELD_TYPE_ERROR"
    assert r.ok("VM.get_name_label", vm).startswith("vm-")


def test_field_missing(r):
    sr = r.ok("SR.create", {"name_label": unique()})
    assert r.fail("VDI.create", {"virtual_size": "1"}) == ["FIELD_MISSING", "SR"]
    assert r.fail("VDI.create", {"SR": sr}) == ["FIELD_MISSING", "virtual_size"]
    assert r.fail("VBD.create", {"VM": new_vm(r)}) == ["FIELD_MISSING", "VDI"]
    assert r.fail("user.create", {"fullname": "x"}) == ["FIELD_MISSING", "short_name"]


def test_field_unknown(r):
    assert r.fail("VM.create", {"name_label": "x", "colour": "red"}) == [
        "FIELD_UNKNOWN", "colour"]
    assert r.fail("VM.create", {"name/label": "x"}) == ["FIELD_UNKNOWN", "name/label"]


def test_field_read_only_on_set(r):
    vm = new_vm(r)
    assert r.fail("VM.set_memory_static_min", vm, "1") == ["FIELD_READ_ONLY",
                                                          "memory_static_min"]
    assert r.fail("VM.set_power_state", vm, "Running") == ["FIELD_READ_ONLY", "power_state"]
    assert r.fail("VM.set_uuid", vm, MISSING) == ["FIELD_READ_ONLY", "uuid"]
    assert r.ok("VM.get_power_state", vm) == "Halted"


@pytest.mark.parametrize("field, value", [("power_state", "Running"), ("uuid", MISSING),
                                          ("memory_actual", "5"), ("resident_on", ""),
                                          ("VCPUs_number", "2"), ("tools_version", {})])
def test_an_ro_run_key_in_create_is_ignored(r, field, value):
    """Clients pass back whole records they read (xend ignored their runtime fields)."""
    vm = r.ok("VM.create", {"name_label": "x", field: value})
    fresh = r.ok("VM.get_record", r.ok("VM.create", {"name_label": "x"}))
    got = r.ok("VM.get_record", vm)
    assert got[field] == (vm if field == "uuid" else fresh[field])


def test_invalid_value_for_a_bad_enum(r):
    vm = new_vm(r)
    d = r.fail("VM.set_bios_boot", vm, "USB")
    assert d[0] == "INVALID_VALUE" and d[-1] == "USB" and len(d) == 3
    assert r.fail("VM.create", {"boot_method": "pxe"}) == ["INVALID_VALUE", "boot_method",
                                                          "pxe"]
    assert r.fail("VBD.create", {"VM": vm, "VDI": MISSING, "mode": "rw"})[0] in (
        "INVALID_VALUE", "HANDLE_INVALID")
    assert r.ok("VM.get_bios_boot", vm) == "HD"


def test_invalid_value_when_memory_ordering_is_violated(r):
    gib = 2 ** 30
    vm = new_vm(r, memory_static_max=str(4 * gib), memory_dynamic_max=str(2 * gib),
                memory_dynamic_min=str(gib), memory_static_min=str(gib // 2))
    d = r.fail("VM.set_memory_dynamic_max", vm, str(8 * gib))    # above static_max
    assert d[0] == "INVALID_VALUE" and len(d) == 3
    d = r.fail("VM.set_memory_dynamic_min", vm, str(3 * gib))    # above dynamic_max
    assert d[0] == "INVALID_VALUE"
    d = r.fail("VM.set_memory_dynamic_min", vm, str(gib // 4))   # below static_min
    assert d[0] == "INVALID_VALUE"
    assert r.ok("VM.get_memory_dynamic_max", vm) == str(2 * gib)
    assert r.ok("VM.get_memory_dynamic_min", vm) == str(gib)
    d = r.fail("VM.create", {"memory_static_min": str(gib), "memory_static_max": str(gib // 2)})
    assert d[0] == "INVALID_VALUE"
    d = r.fail("VM.create", {"memory_static_min": "-1", "memory_dynamic_min": "0",
                             "memory_dynamic_max": "0", "memory_static_max": "0"})
    assert d[0] == "INVALID_VALUE"


def test_invalid_vcpus_names_the_allowed_range(r):
    vm = new_vm(r)
    for count in ("999", "0"):
        assert r.fail("VM.set_VCPUs_max", vm, count) == [
            "INVALID_VALUE", "VCPUs_max", "%s (must be 1..255)" % count]
    assert r.fail("VM.create", {"name_label": unique("vm"), "VCPUs_max": "256"}) == [
        "INVALID_VALUE", "VCPUs_max", "256 (must be 1..255)"]
    assert r.ok("VM.get_VCPUs_max", vm) == "1"


def test_vif_model_is_one_the_backend_gives_and_sets_the_type(r):
    vm, net = new_vm(r), r.ok("network.create", {"name_label": unique("net")})
    vif = r.ok("VIF.create", {"VM": vm, "network": net, "model": "e1000"})
    assert (r.ok("VIF.get_model", vif), r.ok("VIF.get_type", vif)) == ("e1000", "ioemu")
    r.ok("VIF.set_model", vif, "virtio-net-pci")                 # a virtio model is PV
    assert r.ok("VIF.get_type", vif) == "paravirtualised"
    bad = r.fail("VIF.set_model", vif, "e1000,script=/bin/sh")
    assert bad == ["VALUE_NOT_SUPPORTED", "model", "e1000,script=/bin/sh",
                   "the sim backend gives the NIC models e1000, rtl8139, virtio-net-pci"]
    assert r.ok("VIF.get_model", vif) == "virtio-net-pci"        # nothing was changed
    assert r.fail("VIF.create", {"VM": vm, "network": net, "model": "tulip2"})[0] == \
        "VALUE_NOT_SUPPORTED"
    assert r.ok("VM.get_VIFs", vm) == [vif]
    r.ok("VIF.set_model", vif, "")                               # the backend's default
    assert r.ok("VIF.get_type", vif) == "paravirtualised"


# -- VM states ------------------------------------------------------------------------------

def test_vm_bad_power_state(r):
    vm = new_vm(r)
    assert r.fail("VM.pause", vm) == ["VM_BAD_POWER_STATE", vm, "Running", "Halted"]
    assert r.fail("VM.resume", vm, False) == ["VM_BAD_POWER_STATE", vm, "Suspended", "Halted"]
    r.ok("VM.start", vm, False)
    try:
        assert r.fail("VM.start", vm, False) == ["VM_BAD_POWER_STATE", vm, "Halted", "Running"]
        assert r.fail("VM.clone", vm, "c") == ["VM_BAD_POWER_STATE", vm, "Halted", "Running"]
        d = r.fail("VM.hard_reboot", new_vm(r))
        assert d[0] == "VM_BAD_POWER_STATE" and d[2].split(",") == ["Running", "Paused"]
    finally:
        r.ok("VM.hard_shutdown", vm)


def test_vm_is_a_template(r):
    vm = new_vm(r, is_a_template=True)
    assert r.fail("VM.start", vm, False) == ["VM_IS_TEMPLATE", vm]
    assert r.fail("VM.start", vm, True) == ["VM_IS_TEMPLATE", vm]
    assert r.ok("VM.get_power_state", vm) == "Halted"
    clone = r.ok("VM.clone", vm, unique())              # templates are for cloning
    assert r.ok("VM.get_power_state", clone) == "Halted"
    r.ok("VM.set_is_a_template", vm, False)
    r.ok("VM.start", vm, False)
    r.ok("VM.hard_shutdown", vm)


def test_operation_not_allowed(r):
    host = r.ok("host.get_all")[0]
    d = r.fail("host.create", {})
    assert d[0] == "OPERATION_NOT_ALLOWED" and len(d) == 2
    assert r.fail("host.delete", host)[0] == "OPERATION_NOT_ALLOWED"
    root = r.ok("user.get_by_short_name", "root")[0]
    assert r.fail("user.delete", root)[0] == "OPERATION_NOT_ALLOWED"
    assert root in r.ok("user.get_all")


# -- permissions ------------------------------------------------------------------------------

def test_permission_denied_creating_a_user(user, r):
    d = user.fail("user.create", {"short_name": unique("eve")})
    assert d[0] == "PERMISSION_DENIED" and len(d) == 2
    assert all(r.ok("user.get_short_name", u) != "eve" for u in r.ok("user.get_all"))


def test_permission_denied_setting_a_password(user, r):
    assert user.fail("user.set_password", user.ref, "new")[0] == "PERMISSION_DENIED"
    root = r.ok("user.get_by_short_name", "root")[0]
    assert user.fail("user.set_password", root, "mine now")[0] == "PERMISSION_DENIED"


def test_permission_denied_deleting_users_and_host_power(user, r):
    other = r.ok("user.create", {"short_name": unique("victim")})
    assert user.fail("user.delete", other)[0] == "PERMISSION_DENIED"
    assert other in r.ok("user.get_all")
    host = r.ok("host.get_all")[0]
    assert user.fail("host.disable", host)[0] == "PERMISSION_DENIED"
    assert r.ok("host.get_enabled", host) is True


def test_only_root_changes_the_host_and_networks(user, r):
    host = r.ok("host.get_all")[0]
    name = r.ok("host.get_name_label", host)
    assert user.fail("host.set_name_label", host, "pwned")[0] == "PERMISSION_DENIED"
    assert r.ok("host.get_name_label", host) == name
    networks = set(r.ok("network.get_all"))
    assert user.fail("network.create", {"name_label": unique("net")})[0] == "PERMISSION_DENIED"
    assert set(r.ok("network.get_all")) == networks
    net = r.ok("network.create", {"name_label": unique("roots")})
    assert user.fail("network.set_name_label", net, "mine")[0] == "PERMISSION_DENIED"
    assert user.fail("network.destroy", net)[0] == "PERMISSION_DENIED"
    # What users may do with them: read them, and plug their own VMs into a network.
    assert user.ok("host.get_name_label", host) == name
    vm = user.ok("VM.create", {"name_label": unique("vm")})
    vif = user.ok("VIF.create", {"VM": vm, "network": net, "device": "eth0", "MAC": ""})
    assert user.ok("network.get_VIFs", net) == [vif]


def test_a_user_may_change_their_own_fullname_only(user, r):
    assert user.ok("user.set_fullname", user.ref, "Alice A.") == ""
    assert r.ok("user.get_fullname", user.ref) == "Alice A."
    root = r.ok("user.get_by_short_name", "root")[0]
    assert user.fail("user.set_fullname", root, "pwned")[0] == "PERMISSION_DENIED"


# -- host power -----------------------------------------------------------------------------

def test_host_errors(r):
    """HOST_DISABLED, HOST_NOT_DISABLED, HOST_HAS_RESIDENT_VMS, HOST_POWER_COMMAND_UNSET."""
    host = r.ok("host.get_all")[0]
    for vm in r.ok("host.get_resident_VMs", host):
        if vm != CONTROL_DOMAIN:        # no guest: it goes down with the host
            r.ok("VM.hard_shutdown", vm)
    vm = new_vm(r)
    assert r.fail("host.shutdown", host) == ["HOST_NOT_DISABLED", host]
    assert r.fail("host.reboot", host) == ["HOST_NOT_DISABLED", host]
    r.ok("VM.start", vm, False)
    assert r.ok("host.disable", host) == ""
    try:
        assert r.ok("host.get_enabled", host) is False
        assert r.fail("host.shutdown", host) == ["HOST_HAS_RESIDENT_VMS", host, vm]
        r.ok("VM.suspend", vm, False)
        assert r.fail("VM.resume", vm, False) == ["HOST_DISABLED", host]
        assert r.ok("VM.get_power_state", vm) == "Suspended"
        r.ok("VM.hard_shutdown", vm)
        assert r.fail("VM.start", vm, False) == ["HOST_DISABLED", host]
        assert r.fail("VM.start", vm, True) == ["HOST_DISABLED", host]
        assert r.ok("VM.get_power_state", vm) == "Halted"
        assert r.fail("host.shutdown", host) == ["HOST_POWER_COMMAND_UNSET", host, "shutdown"]
        assert r.fail("host.reboot", host) == ["HOST_POWER_COMMAND_UNSET", host, "reboot"]
    finally:
        assert r.ok("host.enable", host) == ""
    assert r.ok("host.get_enabled", host) is True
    r.ok("VM.start", vm, False)
    assert r.ok("VM.get_power_state", vm) == "Running"
    r.ok("VM.hard_shutdown", vm)


def test_a_disabled_host_keeps_running_vms(r):
    host = r.ok("host.get_all")[0]
    vm = new_vm(r)
    r.ok("VM.start", vm, False)
    r.ok("host.disable", host)
    try:
        assert r.ok("VM.get_power_state", vm) == "Running"
        r.ok("VM.pause", vm)                    # not a start: allowed
        r.ok("VM.unpause", vm)
    finally:
        r.ok("host.enable", host)
        r.ok("VM.hard_shutdown", vm)


# -- internal errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["\u00b2", "--5", "1\u00b2", "\u0663"])
def test_odd_digit_strings_are_field_type_errors(r, value):
    """(These used to crash Int.from_wire and answer INTERNAL_ERROR.)"""
    vm = new_vm(r)
    assert r.fail("VM.set_user_version", vm, value)[0] == "FIELD_TYPE_ERROR"
    assert r.ok("VM.get_user_version", vm) == "1"


@pytest.mark.parametrize("size, sector", [(str(2 ** 62), "512"), (str(2 ** 50), "4096")])
def test_oversized_vdi_is_invalid_value(r, size, sector):
    sr = r.ok("SR.create", {"name_label": unique()})
    d = r.fail("VDI.create", {"SR": sr, "virtual_size": size, "sector_size": sector})
    assert d[0] == "INVALID_VALUE"
    assert r.ok("SR.get_VDIs", sr) == []


def test_oversized_vdi_resize_is_invalid_value(r):
    sr = r.ok("SR.create", {"name_label": unique()})
    vdi = r.ok("VDI.create", {"SR": sr, "virtual_size": "1"})
    assert r.fail("VDI.set_virtual_size", vdi, str(2 ** 62))[0] == "INVALID_VALUE"
    assert r.ok("VDI.get_virtual_size", vdi) == "1"


# Inputs that have provoked INTERNAL_ERROR in this server: whatever they answer now, it
# carries no traceback and the daemon keeps serving.
ODD_CALLS = [
    ("VM.set_user_version", lambda r: [new_vm(r), "\u00b2"]),
    ("VDI.create", lambda r: [{"SR": r.ok("SR.create", {"name_label": unique()}),
                               "virtual_size": str(2 ** 62)}]),
    ("VDI.set_virtual_size", lambda r: [r.ok("VDI.create", {
        "SR": r.ok("SR.create", {"name_label": unique()}), "virtual_size": "1"}),
        str(2 ** 62)]),
]


@pytest.mark.parametrize("method, args", ODD_CALLS, ids=[m for m, _ in ODD_CALLS])
def test_internal_error_never_carries_a_traceback(r, daemon, method, args):
    d = r.fail(method, *args(r))
    text = " ".join(d)
    assert "Traceback" not in text and 'File "' not in text and "\n" not in text
    if d[0] == "INTERNAL_ERROR":
        assert len(d) == 2
    assert isinstance(r.ok("VM.get_all"), list)      # still serving


# -- OTHER_OPERATION_IN_PROGRESS -------------------------------------------------------------------

@pytest.fixture(scope="module")
def slow():
    """A daemon whose sim operations take a second, so one can be caught in flight."""
    with serving(login=False, extra_config="sim_op_seconds = 1.0\n") as d:
        s = Raw(unix_proxy(d))
        s.login("root", "")
        yield s


def test_other_operation_in_progress(slow):
    vm = slow.ok("VM.create", {"name_label": "busy"})
    task = slow.ok("Async.VM.start", vm, False)
    # wait until the start is inside the backend (it reports progress from there)
    wait_until(lambda: slow.ok("task.get_progress", task) > 0, STATE_WAIT, "start in progress")
    d = slow.fail("VM.clone", vm, "meanwhile")
    assert d == ["OTHER_OPERATION_IN_PROGRESS", "VM", vm]
    d = slow.fail("VM.start", vm, False)
    assert d == ["OTHER_OPERATION_IN_PROGRESS", "VM", vm]
    wait_until(lambda: slow.ok("task.get_record", task)["status"] != "pending", STATE_WAIT, "task")
    assert slow.ok("task.get_record", task)["status"] == "success"
    assert slow.ok("VM.get_power_state", vm) == "Running"


def test_debugging_a_guest_root_only_parts_and_bad_arguments(user, r, daemon):
    host = r.ok("host.get_all")[0]
    vm = r.ok("VM.create", {"name_label": unique("dbg")})
    r.ok("VM.start", vm, False)
    # The hypervisor's log and a file on the host are root's; keys and triggers every user's.
    assert user.fail("host.dmesg", host)[0] == "PERMISSION_DENIED"
    assert user.fail("host.dmesg_clear", host)[0] == "PERMISSION_DENIED"
    assert user.fail("VM.dump_core", vm, "")[0] == "PERMISSION_DENIED"
    assert not os.path.exists(os.path.join(daemon.state_dir, "dump"))
    user.ok("VM.send_sysrq", vm, "h")
    user.ok("VM.send_trigger", vm, "nmi")                 # vcpu 0 unless given
    assert "sim: %s: sysrq h" % vm in r.ok("host.dmesg", host)
    assert r.fail("VM.send_sysrq", vm, "hh") == [
        "INVALID_VALUE", "key", "hh (must be one of 0123456789bcdefghijklmnopqrstuvwxyz)"]
    assert r.fail("VM.send_sysrq", vm, "A")[:2] == ["INVALID_VALUE", "key"]
    assert r.fail("VM.send_trigger", vm, "boom", 0) == [
        "INVALID_VALUE", "trigger", "boom (must be one of nmi, reset, power, init)"]
    assert r.fail("VM.send_trigger", vm, "nmi", 1) == ["INVALID_VALUE", "vcpu", "1 (must be 0..0)"]
    assert r.fail("VM.dump_core", vm, "relative.core") == [
        "INVALID_VALUE", "filename", "relative.core (must be absolute)"]
    assert r.fail("VM.dump_core", vm, "/nonexistent-dir/x.core") == [
        "INVALID_VALUE", "filename", "/nonexistent-dir/x.core (no such directory)"]
    assert "trigger boom" not in r.ok("host.dmesg", host)
    r.ok("VM.hard_shutdown", vm)
