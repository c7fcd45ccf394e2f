"""xm console, create -c and start -c: the sim backend's echo guest through the daemon's
console proxy, at a real terminal (pexpect) and from scripts, over the Unix socket and TCP."""

import os
import signal
import subprocess
import sys

import pytest
from harness import ROOT, STATE_WAIT, free_port, make_user, new_vm, unique, wait_until
from xmtools import Shell, Xm

from xen.xend.transport import tls

DETACH = "\x1d"     # Ctrl-]


@pytest.fixture
def shell(daemon):
    sh = Shell(daemon.socket)
    yield sh
    sh.close()


@pytest.fixture
def running(root):
    """A running VM of the sim backend: its ref and name."""
    name = unique("con")
    vm = new_vm(root, name_label=name)
    root.VM.start(vm, False)
    return vm, name


def test_console_types_to_the_guest_and_detaches_leaving_it_running(shell, root, running):
    vm, name = running
    modes = shell.run("stty -a")
    shell.xm("console", name)
    shell.expect("xend simulated guest %s" % vm)       # the history comes first
    # Raw mode: Ctrl-C goes to the guest instead of stopping xm, and the terminal echoes
    # nothing of its own (the guest answers the line once).
    shell.child.send("\x03hello console\r")
    shell.expect("echo: \x03hello console\r\n")
    shell.child.send(DETACH)
    shell.expect_prompt()
    assert shell.run("stty -a") == modes
    assert root.VM.get_power_state(vm) == "Running"


def test_the_guest_stopping_ends_the_console_with_one_line(shell, root, running):
    vm, name = running
    modes = shell.run("stty -a")
    shell.xm("console", name)
    shell.expect("xend simulated guest")
    root.VM.hard_shutdown(vm)
    shell.expect("xm: the console of %s has closed: its guest stopped\r\n" % name)
    shell.expect_prompt()
    assert shell.run("echo $?") == "0\r\n"
    assert shell.run("stty -a") == modes


def test_sigterm_restores_the_terminal(shell, running):
    vm, name = running
    modes = shell.run("stty -a")
    # The shell prints xm's pid (exec keeps it) before xm starts.
    shell.child.sendline("sh -c 'echo xm-pid=$$; exec \"$0\" \"$@\"' %s -m xen.xm --socket %s "
                         "console %s" % (sys.executable, shell.socket, name))
    shell.child.expect(r"xm-pid=(\d+)")
    pid = int(shell.child.match.group(1))
    shell.expect("xend simulated guest")
    os.kill(pid, signal.SIGTERM)
    shell.expect_prompt()
    assert shell.run("echo $?") == "%d\r\n" % (128 + signal.SIGTERM)
    assert shell.run("stty -a") == modes


def test_console_over_tcp(shell, daemon, root):
    _, user, password = make_user(root)
    sdk = daemon.sdk_tcp(user, password).xenapi
    name = unique("tcp")
    vm = sdk.VM.create({"name_label": name})
    sdk.VM.start(vm, False)
    shell.child.sendline("export XEND_PASSWORD=%s" % password)
    shell.expect_prompt()
    shell.xm("console", name, "--uri", daemon.url, "--user", user, socket=False)
    shell.expect("xend simulated guest %s" % vm)
    shell.child.send("over tcp\r")
    shell.expect("echo: over tcp\r\n")
    shell.child.send(DETACH)
    shell.expect_prompt()


def test_read_only_watches_what_a_writer_types(shell, xm, running):
    vm, name = running
    shell.xm("console", "--read-only", name)
    shell.expect("xend simulated guest")
    shell.child.send("ignored\r")
    xm_script = _script(shell.socket, name)
    xm_script.stdin.write(b"typed elsewhere\n")
    xm_script.stdin.flush()
    shell.expect("echo: typed elsewhere\r\n")
    shell.child.send(DETACH)
    shell.expect_prompt()
    xm_script.kill()
    xm_script.wait()
    assert "ignored" not in xm("console", "--dump", name)


def _script(socket, name, *connection, env=None):
    """``xm console NAME`` as a script runs it: stdin and stdout pipes, no terminal; over
    ``socket``, or ``connection``'s options when it is None."""
    where = ["--socket", socket] if socket else list(connection)
    return subprocess.Popen([sys.executable, "-m", "xen.xm"] + where + ["console", name],
                            cwd=ROOT, env=dict(os.environ, **(env or {})),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def test_console_over_tls_with_a_ca_file_or_a_pinned_certificate(make_daemon):
    port = free_port()
    daemon = make_daemon(extra_config='tls_listen = "127.0.0.1:%d"\n' % port)
    root = daemon.api
    root.user.set_password(root.user.get_by_short_name("root")[0], "root pw")
    vm = new_vm(root, name_label="tls-vm")
    root.VM.start(vm, False)
    cert = os.path.join(daemon.state_dir, "xend-cert.pem")
    url, env = "https://127.0.0.1:%d/" % port, {"XEND_PASSWORD": "root pw"}
    xm = Xm(None)
    assert xm("console", "--dump", "tls-vm", "--uri", url, "--cacert", cert, env=env,
              socket=False) == "xend simulated guest %s\n" % vm
    p = _script(None, "tls-vm", "--uri", url, "--fingerprint", tls.fingerprint(cert), env=env)
    p.stdin.write(b"over tls\n")
    p.stdin.close()
    wait_until(lambda: "echo: over tls" in xm("console", "--dump", "tls-vm", "--uri", url,
                                              "--cacert", cert, env=env, socket=False),
               STATE_WAIT, "the guest to answer")
    root.VM.hard_shutdown(vm)
    assert p.wait(timeout=STATE_WAIT) == 0
    assert p.stdout.read() == b"xend simulated guest %s\r\necho: over tls\r\n" % vm.encode()


def test_without_a_terminal_stdin_goes_to_the_guest_until_it_stops(daemon, xm, root, running):
    vm, name = running
    p = _script(daemon.socket, name)
    p.stdin.write(b"from a script \x1d\x1b[2J\n")    # Ctrl-] is no escape here
    p.stdin.close()
    wait_until(lambda: "echo: from a script" in xm("console", "--dump", name),
               STATE_WAIT, "the guest to answer")
    root.VM.hard_shutdown(vm)
    assert p.wait(timeout=STATE_WAIT) == 0
    out, err = p.stdout.read(), p.stderr.read()
    assert b"echo: from a script \x1d\x1b[2J\r\n" in out
    assert err == b"xm: the console of %s has closed: its guest stopped\n" % name.encode()


def test_dump_prints_the_history_escaped(daemon, xm, running):
    vm, name = running
    p = _script(daemon.socket, name)
    p.stdin.write(b"\x1b[31mred\n")
    p.stdin.flush()
    wait_until(lambda: "red" in xm("console", "--dump", name), STATE_WAIT, "the echo")
    p.kill()
    p.wait()
    assert xm("console", "--dump", name) == (
        "xend simulated guest %s\necho: \\x1b[31mred\n" % vm)


def test_create_and_start_attach_with_c(shell, root, tmp_path):
    name = unique("cre")
    cfg = tmp_path / "c.cfg"
    cfg.write_text("name = '%s'\nmemory = 64\n" % name)
    shell.xm("create", "-c", str(cfg))
    shell.expect("Started VM %s" % name)
    shell.expect("xend simulated guest")
    shell.child.send(DETACH)
    shell.expect_prompt()
    vm = root.VM.get_by_name_label(name)[0]
    root.VM.hard_shutdown(vm)
    shell.xm("start", "-c", name)
    shell.expect("xend simulated guest %s" % vm)
    shell.child.send("again\r")
    shell.expect("echo: again")
    shell.child.send(DETACH)
    shell.expect_prompt()
    assert root.VM.get_power_state(vm) == "Running"


def test_console_errors_are_one_line(xm, root):
    name = unique("off")
    new_vm(root, name_label=name)
    assert xm.error_line("console", name) == "Error: %s is not running (it is Halted)" % name
    assert xm.error_line("console", "--dump", name) == (
        "Error: %s is not running (it is Halted)" % name)
    assert xm.error_line("console", "no-such-vm") == "Error: there is no VM named 'no-such-vm'"
    assert xm.error_line("console", "--dump", "--read-only", name) == (
        "Error: --dump and --read-only cannot be used together")


def test_vncviewer_errors_are_one_line(xm, root, running):
    vm, name = running
    assert xm.error_line("vncviewer", name) == "Error: %s has no display" % name
    halted = unique("off")
    new_vm(root, name_label=halted)
    assert xm.error_line("vncviewer", halted) == (
        "Error: %s is not running (it is Halted)" % halted)
