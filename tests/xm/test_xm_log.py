"""xm log: a VM's logs through GET /vm-log, over the Unix socket and --uri."""

import os

import pytest
from harness import make_user, new_vm, vm_dir


@pytest.fixture(scope="module")
def logged_vm(daemon, root):
    """A VM started and stopped once, with console and QEMU logs written as QEMU's
    backend would (the sim backend writes none)."""
    vm = new_vm(root, name_label="logged")
    root.VM.start(vm, False)
    root.VM.hard_shutdown(vm)
    os.makedirs(vm_dir(daemon, vm), mode=0o700, exist_ok=True)
    for name, data in (("console.log.1", b"boot 1\r\n"), ("console.log", b"boot 2\r\n\x1b[2J"),
                       ("qemu.log", b"qemu: warning\n")):
        with open(os.path.join(vm_dir(daemon, vm), name), "wb") as f:
            f.write(data)
    return vm


def test_log_shows_every_kind_headed(xm, logged_vm):
    out = xm("log", "logged").splitlines()
    assert out[:6] == ["==> qemu <==", "qemu: warning", "==> console <==", "boot 1", "boot 2",
                       "\\x1b[2J"]
    assert out[6] == "==> daemon <=="
    assert [line.split("): ", 1)[1] for line in out[7:] if "): " in line] == [
        "started", "stopped (hard shutdown)"]
    assert all(logged_vm in line for line in out[7:])


def test_log_of_one_kind_and_its_last_bytes(xm, logged_vm):
    assert xm("log", logged_vm, "--kind", "console") == "boot 1\nboot 2\n\\x1b[2J\n"
    assert xm("log", "logged", "--kind", "qemu", "--bytes", "8") == "warning\n"


def test_log_over_tcp_for_a_user_shows_what_they_may_read(xm, root, daemon, logged_vm):
    _, name, password = make_user(root)
    tcp = ["--uri", daemon.url, "--user", name]
    env = {"XEND_PASSWORD": password}
    assert xm("log", "logged", "--kind", "qemu", *tcp, env=env, socket=False) == \
        "qemu: warning\n"
    p = xm.run("log", "logged", *tcp, env=env, socket=False)
    assert p.returncode == 1
    assert p.stdout.splitlines()[-1] == "==> daemon <==" and "boot 2" in p.stdout
    assert p.stderr == ("Error: PERMISSION_DENIED: permission denied: only root may read "
                        "the daemon's log\n")


def test_log_errors_are_one_line(xm):
    assert xm.error_line("log", "no-such-vm") == "Error: there is no VM named 'no-such-vm'"
    assert "invalid choice" in xm.fails("log", "logged", "--kind", "syslog")
    assert "not a positive whole number" in xm.fails("log", "logged", "--bytes", "0")
