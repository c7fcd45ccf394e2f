"""xm's host, user, task and event commands; help, usage errors, connection errors."""

import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import xmlrpc.server

import pytest
from harness import ROOT, STATE_WAIT, Daemon, free_port, scratch_dir, wait_until
from xmtools import Shell, Xm, table

from xen.xm import commands, main
from xen.xm.client import DEFAULT_SOCKET
from xen.xm.commands import host as host_commands


def test_info(xm, root):
    out = xm("info")
    pairs = dict((k.strip(), v.strip()) for k, _, v in
                 (line.partition(" : ") for line in out.splitlines()))
    host = root.host.get_all()[0]
    assert pairs["uuid"] == host and pairs["host"] == root.host.get_name_label(host)
    assert pairs["nr_cpus"] == str(len(root.host_cpu.get_all()))
    # The guests only: the control domain's VM is resident too.
    assert pairs["resident_vms"] == str(len(root.host.get_resident_VMs(host)) - 1)
    assert pairs["software_version/xend"]
    total, free = int(pairs["total_memory"]), int(pairs["free_memory"])
    assert 0 < free <= total == int(root.host.get_memory_total(host)) // 2 ** 20
    assert "xen_major" not in pairs             # a sim host runs no Xen
    hosts = json.loads(xm("info", "--json"))
    assert len(hosts) == 1 and hosts[0]["host"]["uuid"] == host
    assert len(hosts[0]["cpus"]) == len(root.host_cpu.get_all())
    numbers = [c["number"] for c in hosts[0]["cpus"]]
    assert numbers == sorted(numbers)


def test_xen_version_as_classic_xm_info_shows_it():
    assert host_commands.xen_version_pairs("4.17.3-pre") == [
        ("xen_major", "4"), ("xen_minor", "17"), ("xen_extra", ".3-pre")]
    assert host_commands.xen_version_pairs(None) == []


def test_users_passwords_and_tcp_logins(xm, root, daemon):
    user = xm("user-add", "carol", "--fullname", "Carol C").strip()
    assert root.user.get_record(user)["fullname"] == "Carol C"
    assert "INVALID_VALUE" in xm.fails("user-add", "carol")
    xm("passwd", "carol", env={"XEND_NEW_PASSWORD": "first pw"})
    tcp = ["--uri", daemon.url, "--user", "carol"]
    xm("list", *tcp, env={"XEND_PASSWORD": "first pw"}, socket=False)
    err = xm.fails("list", *tcp, env={"XEND_PASSWORD": "wrong"}, socket=False)
    assert err.strip().startswith("Error: SESSION_AUTHENTICATION_FAILED: cannot log in as carol")
    # Without XEND_PASSWORD the password is asked for (read from stdin without a terminal).
    p = xm.run("list", *tcp, input="first pw\n", socket=False)
    assert p.returncode == 0 and "Password for carol at %s: " % daemon.url in p.stderr
    err = xm.fails("user-add", "dave", *tcp, env={"XEND_PASSWORD": "first pw"}, socket=False)
    assert err.strip() == "Error: PERMISSION_DENIED: permission denied: only root may change users"
    err = xm.fails("passwd", "carol", input="one\ntwo\n")
    assert "the passwords do not match; the password is unchanged" in err
    xm("list", *tcp, env={"XEND_PASSWORD": "first pw"}, socket=False)
    p = xm.run("passwd", "carol", input="second pw\nsecond pw\n")
    assert p.returncode == 0, p.stderr
    assert "Retype the new password" in p.stderr
    xm("list", *tcp, env={"XEND_PASSWORD": "second pw"}, socket=False)
    assert "no password was given" in xm.fails("passwd", "carol")
    assert "there is no user named 'nobody'" in xm.fails("passwd", "nobody")


def test_task_list(xm, root):
    vm = root.VM.create({"name_label": "task-src"})
    task = root.Async.VM.clone(vm, "task-copy")
    wait_until(lambda: root.task.get_status_struct(task)["Progress"] == 100, STATE_WAIT,
               "the clone to finish")
    tasks = {t["uuid"]: t for t in json.loads(xm("task-list", "--json"))}
    assert tasks[task]["status"] == "success" and tasks[task]["name_label"] == "Async.VM.clone"
    assert tasks[task]["progress"] == 1.0
    rows = {r["UUID"]: r for r in table(xm("task-list"))}
    assert rows[task]["Status"] == "success" and rows[task]["Progress"] == "100%"


def _monitor(xm, *args, vm_name="watched"):
    """Run "xm event-monitor -n 1 vm ARGS" while changing a VM until it reports."""
    root_vm = xm.root.VM.create({"name_label": vm_name})
    cmd = [sys.executable, "-m", "xen.xm", "--socket", xm.socket, "event-monitor", "-n", "1",
           "vm"] + list(args)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        changes = iter(range(1, 1000))

        def reported():
            """Change the VM once more; True once the monitor has exited."""
            xm.root.VM.set_name_description(root_vm, "change %d" % next(changes))
            return proc.poll() is not None
        # The monitor may register after the first change: keep changing until it has one.
        wait_until(reported, STATE_WAIT, "xm event-monitor to report a change", interval=0.1)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        xm.root.VM.destroy(root_vm)
    assert proc.returncode == 0, err
    return root_vm, out


@pytest.fixture
def watch_xm(xm, root):
    xm.root = root
    return xm


def test_event_monitor(watch_xm):
    vm, out = _monitor(watch_xm)
    fields = out.split()
    assert len(out.splitlines()) == 1
    assert fields[1:5] == ["vm", "mod", vm, "watched"]


def test_event_monitor_json(watch_xm):
    vm, out = _monitor(watch_xm, "--json")
    event = json.loads(out)
    assert (event["class"], event["operation"], event["ref"]) == ("vm", "mod", vm)
    assert event["snapshot"]["name_description"].startswith("change ")
    assert isinstance(event["snapshot"]["memory_static_max"], int)


# A name that would split a line and clear the screen if printed raw (\x9b is the 8-bit
# CSI; XML-RPC cannot carry \x1b).
BAD_NAME = "new\nline\x9b2J"
SHOWN = "'new\\nline\\x9b2J'"      # as xm shows it: quoted, escaped, one line


def test_control_characters_from_the_server_are_escaped(xm, root):
    """Every human-readable listing shows a name with control characters escaped on
    its one line; --json keeps it exact."""
    vm = root.VM.create({"name_label": "plain"})
    sr = root.SR.create({"name_label": "sr\tx", "type": "dir", "location": ""})
    vdi = root.VDI.create({"name_label": BAD_NAME, "SR": sr, "virtual_size": "1",
                           "sector_size": "512"})
    host = root.host.get_all()[0]
    host_name = root.host.get_name_label(host)
    try:
        xm("rename", "plain", BAD_NAME)
        out = xm("list", vm)
        assert len(out.splitlines()) == 2 and table(out)[0]["Name"] == SHOWN, out
        pairs = [line.partition(" :") for line in xm("list", "--long", vm).splitlines()]
        assert all(sep for _, sep, _ in pairs)      # every line is "key : value"
        assert [value for key, _, value in pairs if key.strip() == "name_label"] == [
            " " + SHOWN]
        assert json.loads(xm("list", "--json", vm))[0]["name_label"] == BAD_NAME
        out = xm("vdi-list", sr)
        assert len(out.splitlines()) == 2, out
        assert table(out)[0]["Name"] == SHOWN and table(out)[0]["SR"] == "'sr\\tx'"
        root.host.set_name_label(host, BAD_NAME)
        info = xm("info")
        assert info.startswith("host ") and info.splitlines()[0].endswith(": " + SHOWN)
        assert xm.error_line("list", BAD_NAME + "x") == (
            "Error: there is no VM named 'new\\nline\\x9b2Jx'")
    finally:
        root.host.set_name_label(host, host_name)
        root.VDI.destroy(vdi)
        root.SR.destroy(sr)
        root.VM.destroy(vm)


def test_event_monitor_escapes_names(watch_xm):
    vm, out = _monitor(watch_xm, vm_name=BAD_NAME)
    assert len(out.splitlines()) == 1 and out.split()[1:5] == ["vm", "mod", vm, SHOWN]


class _StubHandler(xmlrpc.server.SimpleXMLRPCRequestHandler):
    rpc_paths = ("/", "/RPC2")
    disable_nagle_algorithm = False          # TCP_NODELAY fails on a Unix socket

    def address_string(self):
        return "stub"

    def log_message(self, *args):
        pass


class StubXend(socketserver.ThreadingMixIn, socketserver.UnixStreamServer,
               xmlrpc.server.SimpleXMLRPCDispatcher):
    """A server that lets anyone log in and knows no other method: an older xend."""

    daemon_threads = True
    logRequests = False

    def __init__(self, path):
        xmlrpc.server.SimpleXMLRPCDispatcher.__init__(self)
        socketserver.UnixStreamServer.__init__(self, path, _StubHandler)

    def _dispatch(self, method, params):
        if method.startswith("session."):
            return {"Status": "Success", "Value": "stub-session" if "login" in method else ""}
        return {"Status": "Failure", "ErrorDescription": ["MESSAGE_METHOD_UNKNOWN", method]}


def test_event_monitor_on_a_server_without_events():
    path = os.path.join(scratch_dir(), "stub.sock")
    server = StubXend(path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        err = Xm(path).fails("event-monitor")
        assert err.strip() == ("Error: event-monitor is not supported by this server "
                               "(it has no event.register)")
        err = Xm(path).fails("list")
        assert err.strip() == ("Error: MESSAGE_METHOD_UNKNOWN: this server has no method "
                               "VM.get_all_records")
    finally:
        server.shutdown()
        server.server_close()


# -- help and usage ----------------------------------------------------------------------

def test_help_lists_every_command(xm):
    out = xm("help")
    for name in commands.COMMANDS:
        assert "\n  %s " % name in out
    assert xm("--help") == out
    p = xm.run()
    assert p.returncode == 1 and p.stdout == out


def test_command_help_includes_the_lifecycle_table(xm):
    out = xm("help", "start")
    assert out.startswith("usage: xm start [-h] [-p]")
    assert "Halted         start           -> Running" in out
    assert "Halted         start_paused    -> Paused" in out
    assert xm("start", "--help") == out
    assert "Running        clean_shutdown  -> Halted (shows ShuttingDown meanwhile)" in \
        xm("shutdown", "--help")
    assert "--json" in xm("help", "list") and "CONFIG is an xm/xl" in xm("help", "create")


def test_every_command_has_help():
    for name, cmd in commands.COMMANDS.items():
        text = main.command_parser(cmd).format_help()
        assert text.startswith("usage: xm " + name) and cmd.summary[1:] in text


def test_usage_errors_exit_1(xm):
    assert xm.fails("frobnicate").strip() == \
        "Error: there is no command 'frobnicate'; run \"xm help\""
    assert "there is no command 'frobnicate'" in xm.fails("help", "frobnicate")
    err = xm.fails("start")
    assert "xm start: error: the following arguments are required: VM" in err
    assert "unrecognized arguments: extra" in xm.fails("pause", "vm", "extra")
    err = xm.fails("list", "--uri", "http://127.0.0.1:1/")
    assert "--socket and --uri cannot be used together" in err
    assert "not a positive whole number" in xm.fails("event-monitor", "-n", "0")
    env = {"XEND_PASSWORD": "x"}
    assert xm.fails("list", "--uri", "ftp://host/", env=env, socket=False).strip() == \
        "Error: the URI must be http://HOST:PORT/ or https://HOST:PORT/, not ftp://host/"
    err = xm.fails("list", "--uri", "https://127.0.0.1:1/", "--cacert", "/no/cert.pem",
                   env=env, socket=False)
    assert err.strip() == \
        "Error: cannot use the certificate /no/cert.pem: No such file or directory"


def test_help_usage_line_is_the_documented_synopsis(xm):
    """xm --help's usage line names every connection option docs/xm.md's synopsis does."""
    with open(os.path.join(ROOT, "docs", "xm.md")) as f:
        synopsis = next(line for line in f if line.startswith("xm ["))
    out = xm("--help")
    usage = " ".join(out[:out.index("\n\n")].split())
    assert usage == "usage: " + " ".join(synopsis.split())
    assert "--fingerprint SHA256" in usage


@pytest.mark.parametrize("option, value", [("--fingerprint", "ab" * 32), ("--cacert", "c.pem")])
def test_certificate_options_need_an_https_uri(xm, daemon, option, value):
    """Refused in one line before connecting: over http:// the fingerprint used to make xm
    try TLS on a plain port (WRONG_VERSION_NUMBER), and a CA file was ignored; on the Unix
    socket (where no password is asked for either) both meant nothing."""
    url = "http://127.0.0.1:%d/" % daemon.port
    line = Xm("").error_line("list", "--uri", url, option, value, socket=False,
                             env={"XEND_PASSWORD": "x"})
    assert line == "Error: %s needs an https:// URI (--uri https://HOST:PORT/), not %s" % (
        option, url)
    assert xm.error_line("list", option, value) == (
        "Error: %s needs an https:// URI (--uri https://HOST:PORT/), not the Unix socket"
        % option)


def test_cacert_and_fingerprint_cannot_be_used_together(xm):
    line = Xm("").error_line("list", "--uri", "https://127.0.0.1:1/", "--cacert", "c.pem",
                             "--fingerprint", "ab", socket=False)
    assert line == "Error: --cacert and --fingerprint cannot be used together"


def test_connection_options_may_follow_the_command(xm, daemon):
    p = Xm("/nonexistent.sock").run("list", "--json", "--socket", daemon.socket)
    assert p.returncode == 0 and isinstance(json.loads(p.stdout), list)
    p = xm.run("list", socket=False, env={"XEND_SOCKET": daemon.socket})
    assert p.returncode == 0 and p.stdout.startswith("Name")


# -- xend not running ----------------------------------------------------------------------

def test_daemon_not_running_is_one_line_and_exit_2(tmp_path):
    missing = str(tmp_path / "xen-api.sock")
    err = Xm(missing).fails("list", code=2)
    assert err == "xm: cannot connect to xend at %s: is it running?\n" % missing
    stale = socket.socket(socket.AF_UNIX)       # a socket file nobody listens on
    stale.bind(missing)
    stale.close()
    assert Xm(missing).fails("create", "/dev/null", code=2) == err
    url = "http://127.0.0.1:%d/" % free_port()
    err = Xm("").fails("list", "--uri", url, env={"XEND_PASSWORD": "x"}, socket=False, code=2)
    assert err == "xm: cannot connect to xend at %s: is it running?\n" % url


def test_default_socket(tmp_path):
    if os.path.exists(DEFAULT_SOCKET):
        pytest.skip("a daemon may be using the default socket")
    err = Xm("").fails("info", socket=False, code=2)
    assert err == "xm: cannot connect to xend at %s: is it running?\n" % DEFAULT_SOCKET


# -- bash completion -----------------------------------------------------------------------

def test_bash_completion(xm, root, tmp_path):
    """tools/completion/xm.bash completes commands, options and VM names from the daemon;
    a name with a space is completed quoted, as one word, and matched as typed quoted."""
    root.VM.create({"name_label": "comp-one"})
    root.VM.create({"name_label": "comp two"})
    wrapper = tmp_path / "xm"
    wrapper.write_text('#!/bin/sh\nexec "%s" -m xen.xm "$@"\n' % sys.executable)
    wrapper.chmod(0o755)
    script = os.path.join(ROOT, "tools", "completion", "xm.bash")
    probe = """
source "$1"
complete_line() {
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=()
    _xm 2>/dev/null
    printf '%s|' "${COMPREPLY[@]}"; echo
}
complete_line xm unp
complete_line xm shutdown -
complete_line xm --socket "$XM_SOCKET" start comp
complete_line xm help vdi-
complete_line xm log --kind c
complete_line xm --socket "$XM_SOCKET" log --bytes 10 comp
complete_line xm log --b
complete_line xm --socket "$XM_SOCKET" start 'comp\\ t'
complete_line xm --socket "$XM_SOCKET" start "'comp t"
# What the shell reads back from a completed word: one argument.
eval "set -- $(complete_line xm --socket "$XM_SOCKET" start comp | cut -d'|' -f1)"
printf '%s|' "$#" "$@"; echo
"""
    env = dict(os.environ, PATH="%s:%s" % (tmp_path, os.environ["PATH"]), PYTHONPATH=ROOT,
               XM_SOCKET=xm.socket)
    env.pop("XEND_SOCKET", None)
    out = subprocess.run(["bash", "-c", probe, "probe", script], env=env, cwd=str(tmp_path),
                         capture_output=True, text=True, timeout=60).stdout.splitlines()
    assert out[0] == "unpause|"
    options = set(out[1].strip("|").split("|"))
    assert options == {"--help", "--socket", "--uri", "--user", "--cacert", "--fingerprint",
                       "--wait"}
    assert out[2] == "comp\\ two|comp-one|"          # quoted: the shell reads one word
    assert out[3] == "vdi-list|vdi-create|vdi-snapshot|vdi-delete|vdi-resize|vdi-import|vdi-export|"
    assert out[4:] == ["console|", "comp\\ two|comp-one|", "--bytes|",
                       "comp\\ two|", "comp\\ two|", "1|comp two|"]


# -- HTTPS -----------------------------------------------------------------------------------

def test_https_with_the_daemons_own_certificate(tmp_path):
    port = free_port()
    daemon = Daemon(extra_config='tls_listen = "127.0.0.1:%d"\n' % port).start()
    try:
        root = daemon.sdk_unix().xenapi
        root.user.set_password(root.user.get_by_short_name("root")[0], "root pw")
        url = "https://127.0.0.1:%d/" % port
        cert = os.path.join(daemon.state_dir, "xend-cert.pem")
        env = {"XEND_PASSWORD": "root pw"}
        p = Xm("").run("info", "--json", "--uri", url, "--cacert", cert, env=env, socket=False)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)[0]["host"]["uuid"] == root.host.get_all()[0]
        # Without it the self-signed certificate is not trusted: one line, exit 2.
        err = Xm("").fails("info", "--uri", url, env=env, socket=False, code=2)
        assert err.startswith("xm: cannot talk to xend at %s: " % url)
        assert "certificate verify failed" in err and len(err.splitlines()) == 1
        # Pinning the fingerprint xend logged trusts exactly that certificate.
        from xen.xend.transport import tls
        pin = tls.fingerprint(cert)
        p = Xm("").run("info", "--json", "--uri", url, "--fingerprint", pin, env=env,
                       socket=False)
        assert p.returncode == 0, p.stderr
        assert pin in daemon.log_text()
        # Another first byte: "00" would be the pin itself for one certificate in 256.
        wrong = ("01" if pin.startswith("00") else "00") + pin[2:]
        err = Xm("").fails("info", "--uri", url, "--fingerprint", wrong, env=env,
                           socket=False, code=2)
        assert "fingerprint" in err and len(err.splitlines()) == 1
    finally:
        daemon.cleanup()


def test_user_list(xm, root):
    ref = root.user.create({"short_name": "ulist", "fullname": "UserList"})
    rows = {r["Name"]: r for r in table(xm("user-list"))}
    assert rows["ulist"]["UUID"] == ref and xm("user-list").count("UserList") == 1
    assert "root" in rows
    users = json.loads(xm("user-list", "--json"))
    assert {u["uuid"] for u in users} == set(root.user.get_all())


def test_shell_runs_each_line(xm, root):
    """Each line runs as its own command; errors are printed and the shell goes on."""
    p = xm.run("shell", input=("user-add 'shell user'   # a comment\n"
                               "\n"
                               "bogus\n"
                               "list --json\n"
                               "list --no-such-option\n"
                               "user-add 'unbalanced\n"
                               "quit\n"
                               "user-add never-run\n"))
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr
    errors = p.stderr.splitlines()
    assert errors[0] == "Error: there is no command 'bogus' in the shell"
    assert errors[1].startswith("xm list: error: unrecognized arguments: --no-such-option")
    assert "quotation" in errors[2]
    assert errors[-1] == "Error: 3 commands failed"
    user = p.stdout.splitlines()[0]
    assert root.user.get_short_name(user) == "shell user"
    assert isinstance(json.loads("\n".join(p.stdout.splitlines()[1:])), list)
    assert not root.user.get_by_short_name("never-run")


def test_shell_at_a_terminal_prompts(daemon):
    sh = Shell(daemon.socket)
    try:
        sh.xm("shell")
        sh.expect("xm> ")
        sh.child.sendline("shell")
        sh.expect("Error: there is no command 'shell' in the shell")
        sh.expect("xm> ")
        sh.child.sendline("exit")
        assert "Error: 1 command failed" in sh.expect_prompt()
        assert sh.run("echo $?").strip() == "1"
    finally:
        sh.close()


def test_xm_works_against_a_daemon_that_gives_1_0_to_version_less_logins(tmp_path):
    """xm names the draft at login, so a host set for Xen 3.x's clients serves it alike."""
    d = Daemon(extra_config='api_version_default = "1.0"\n').start()
    try:
        xm = Xm(d.socket)
        cfg = tmp_path / "vm.cfg"
        cfg.write_text('name = "both"\nmemory = 64\nvcpus = 2\n')
        xm("new", str(cfg))
        xm("sched-credit", "-d", "both", "-w", "512")
        assert table(xm("sched-credit", "-d", "both"))[0]["Weight"] == "512"
        xm("start", "both")
        rows = table(xm("list"))
        assert [r["Name"] for r in rows][:1] == ["Domain-0"]
        assert {r["Name"]: r["VCPUs"] for r in rows}["both"] == "2"
        xm("destroy", "both")
        xm("delete", "both")
    finally:
        d.cleanup()
