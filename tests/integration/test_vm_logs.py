"""A VM's logs: the daemon's log lines of its starts and stops (with its name), and
GET /vm-log on the daemon's listeners."""

import urllib.parse

import pytest
from harness import make_user, new_vm, unique, write_vm_file
from xapi_helpers import ROOT_PASSWORD

from xen.xend.api import vmlogs

# conftest's ``api``: the SDK over the Unix socket, and its interface over JSON-RPC.
API_TRANSPORTS = ("unix", "jsonrpc")


def power_lines(daemon, name, vm):
    """The events of the daemon's power lines for the VM ``name`` (``vm``), in order."""
    prefix = "VM '%s' (%s): " % (name, vm)
    return [line.split(prefix, 1)[1] for line in daemon.log_text().splitlines()
            if " INFO xend.domains: " + prefix in line]


def test_starts_and_stops_are_logged_with_the_vm_name(daemon, api):
    name = unique("web")
    vm = new_vm(api, name_label=name)
    api.VM.start(vm, False)
    api.VM.clean_reboot(vm)
    api.VM.hard_reboot(vm)
    api.VM.suspend(vm, False)
    api.VM.resume(vm, False)
    api.VM.clean_shutdown(vm)
    api.VM.start(vm, True)
    api.VM.hard_shutdown(vm)
    assert power_lines(daemon, name, vm) == [
        "started", "rebooted (clean reboot)", "rebooted (hard reboot)", "suspended",
        "resumed", "stopped (clean shutdown)", "started", "stopped (hard shutdown)"]


# -- GET /vm-log ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sessions(daemon, root):
    """Session refs: root's over the Unix socket and over TCP, and a user's (not root)."""
    root_ref = root.user.get_by_short_name("root")[0]
    root.user.set_password(root_ref, ROOT_PASSWORD)
    _, name, password = make_user(root)
    return {"unix": daemon.sdk_unix()._session,
            "tcp": daemon.sdk_tcp("root", ROOT_PASSWORD)._session,
            "user": daemon.sdk_tcp(name, password)._session}


def vm_log(daemon, session, vm, kind, over="tcp", **more):
    """(status, Content-Type, body) of GET /vm-log."""
    query = urllib.parse.urlencode(dict({"ref": vm, "kind": kind, "session_id": session},
                                        **more))
    return daemon.http_get("/vm-log?" + query, over)


@pytest.fixture(scope="module")
def logged_vm(daemon, api):
    """A VM started and stopped once, with a console log in two generations and a QEMU
    log (written as QEMU's backend would)."""
    vm = new_vm(api)
    api.VM.start(vm, False)
    api.VM.hard_shutdown(vm)
    write_vm_file(daemon, vm, "console.log.1", b"boot 1\r\n")
    write_vm_file(daemon, vm, "console.log", b"boot 2\r\nlogin: ")
    write_vm_file(daemon, vm, "qemu.log", b"qemu-system-x86_64: warning\n")
    return vm


@pytest.mark.parametrize("over", ["unix", "tcp"])
def test_vm_log_serves_each_kind(daemon, sessions, logged_vm, over):
    session = sessions[over]
    assert vm_log(daemon, session, logged_vm, "console", over) == (
        200, "text/plain", b"boot 1\r\nboot 2\r\nlogin: ")
    assert vm_log(daemon, session, logged_vm, "qemu", over) == (
        200, "text/plain", b"qemu-system-x86_64: warning\n")
    status, _, body = vm_log(daemon, session, logged_vm, "daemon", over)
    lines = body.decode().splitlines()
    assert status == 200
    assert lines and all(logged_vm in line for line in lines)
    assert [line.split("): ", 1)[1] for line in lines if "INFO xend.domains: VM '" in line] \
        == ["started", "stopped (hard shutdown)"]


def test_vm_log_gives_the_last_bytes(daemon, sessions, logged_vm):
    session = sessions["tcp"]
    assert vm_log(daemon, session, logged_vm, "console", bytes=10)[2] == b"2\r\nlogin: "
    write_vm_file(daemon, logged_vm, "qemu.log", b"x" * (vmlogs.DEFAULT_BYTES + 10) + b"end")
    body = vm_log(daemon, session, logged_vm, "qemu")[2]
    assert len(body) == vmlogs.DEFAULT_BYTES and body.endswith(b"end")


def test_a_vm_never_started_has_empty_logs(daemon, api, sessions):
    vm = new_vm(api)
    for kind in ("qemu", "console", "daemon"):
        assert vm_log(daemon, sessions["tcp"], vm, kind) == (200, "text/plain", b"")


def test_a_user_reads_a_vms_guest_logs_but_not_the_daemons(daemon, sessions, logged_vm):
    assert vm_log(daemon, sessions["user"], logged_vm, "console")[:2] == (200, "text/plain")
    status, _, body = vm_log(daemon, sessions["user"], logged_vm, "daemon")
    assert (status, body) == (403, b"PERMISSION_DENIED only root may read the daemon's log\n")


@pytest.mark.parametrize("over", ["unix", "tcp"])
@pytest.mark.parametrize("session", ["", "OpaqueRef:not-a-session"])
def test_vm_log_refuses_a_bad_session(daemon, logged_vm, over, session):
    assert vm_log(daemon, session, logged_vm, "console", over) == (
        401, "text/plain; charset=utf-8", b"SESSION_INVALID (session)\n")


@pytest.mark.parametrize("kind, more, reason", [
    ("syslog", {}, b"INVALID_VALUE kind syslog\n"),
    ("", {}, b"INVALID_VALUE kind \n"),
    ("qemu", {"bytes": "0"}, b"INVALID_VALUE bytes 0\n"),
    ("qemu", {"bytes": "lots"}, b"INVALID_VALUE bytes lots\n"),
    ("qemu", {"bytes": str(vmlogs.MAX_BYTES + 1)},
     b"INVALID_VALUE bytes %d\n" % (vmlogs.MAX_BYTES + 1)),
])
def test_vm_log_refuses_bad_input(daemon, sessions, logged_vm, kind, more, reason):
    assert vm_log(daemon, sessions["tcp"], logged_vm, kind, **more)[::2] == (400, reason)


def test_vm_log_of_an_unknown_vm_or_another_object_is_not_found(daemon, api, sessions):
    sr = api.SR.get_all()[0]
    for ref in ("OpaqueRef:nothing", "", sr):
        assert vm_log(daemon, sessions["tcp"], ref, "console")[::2] == (
            404, b"HANDLE_INVALID VM %s\n" % ref.encode())


def test_daemon_lines_come_from_the_logs_tail_only(make_daemon):
    d = make_daemon()
    vm = new_vm(d.api)
    session = d.sdk_unix()._session
    with open(d.log, "a") as f:    # as the daemon writes it: whole lines, appended
        f.write("an old line naming %s\n" % vm)
        filler = "%s filler line\n" % ("x" * 100)
        f.write(filler * (vmlogs.DAEMON_TAIL // len(filler) + 1))
    d.api.VM.start(vm, False)
    lines = vm_log(d, session, vm, "daemon", "unix")[2].decode().splitlines()
    assert [line.split("): ", 1)[1] for line in lines] == ["started"]
