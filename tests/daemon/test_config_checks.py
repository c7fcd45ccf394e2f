"""What ``xend start`` says about a configuration it cannot run with, what it
reports from the one it runs with, and the synopsis ``xend --help`` gives."""

import os
import re
import stat
import subprocess
import sys

from harness import ROOT

from xen.xend.daemon.cli import COMMANDS


def test_a_missing_qemu_binary_refuses_the_start(xend):
    missing = os.path.join(xend.dir, "no-such-qemu")
    xend.write_config(backend="qemu", qemu_binary=missing)
    r = xend.xend("start")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "qemu_binary" in lines[0] and missing in lines[0], r.stderr
    assert xend.xend("status").returncode == 3


def test_software_version_reports_the_configured_qemu(xend):
    fake = os.path.join(xend.dir, "qemu-of-the-config")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\necho 'QEMU emulator version 42.7.1'\n")
    os.chmod(fake, stat.S_IRWXU)
    xend.write_config(backend="qemu", qemu_binary=fake)
    xend.start()
    api = xend.sdk().xenapi
    versions = api.host.get_software_version(api.host.get_all()[0])
    assert versions["qemu"] == "42.7.1", versions


def test_a_bad_log_level_names_the_file_the_key_and_the_choices(xend):
    xend.write_config(log_level="verbose")
    r = xend.xend("start")
    assert r.returncode == 1
    assert r.stderr.strip() == ("xend: %s: log_level must be debug, info, warning or "
                                "error, not 'verbose'" % xend.config), r.stderr
    assert not os.path.exists(xend.state_dir)      # refused before anything started


def test_shutdown_timeout_is_a_positive_number_of_seconds(xend):
    xend.extra_config = "shutdown_timeout = -1\n"
    xend.write_config()
    r = xend.xend("start")
    assert r.returncode == 1
    assert r.stderr.strip() == ("xend: %s: shutdown_timeout must be greater than 0 (a number "
                                "of seconds, such as 90 or 2.5), not -1" % xend.config), \
        r.stderr
    xend.extra_config = "shutdown_timeout = 90.5\n"
    xend.write_config()
    xend.start()
    assert xend.xend("status").returncode == 0


def _help(*command):
    r = subprocess.run([sys.executable, "-m", "xen.xend", *command, "--help"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_help_shows_every_command_flag_and_backend():
    synopsis = _help()
    for name in COMMANDS:
        assert "xend %s " % name in synopsis, name
        flags = set(re.findall(r"--[a-z][a-z-]*", _help(name))) - {"--help"}
        assert flags and all(flag in synopsis for flag in flags), (name, flags)
    assert "{auto,xen,qemu,sim}" in synopsis and "xend --version" in synopsis
