"""The README's walk-through: log in over both transports and use the API."""

import os
import re

import pytest
import XenAPI
from harness import ROOT


def readme_api_blocks():
    """The Python blocks of the README's "Using the API" section, in order."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text[text.index("## Using the API"):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_walk_through_runs_as_printed(fresh_daemon, capsys):
    """Every block, run in order in one namespace, against a daemon of its own: only the
    socket path and the port are this daemon's."""
    blocks = readme_api_blocks()
    assert len(blocks) == 4
    names = {}
    for block in blocks:
        code = block.replace("http://_var_run_xend_xen-api.sock/",
                             "http://%s/" % fresh_daemon.socket.replace("/", "_"))
        code = code.replace("127.0.0.1:4464", "127.0.0.1:%d" % fresh_daemon.port)
        exec(compile(code, "README.md", "exec"), names)
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].startswith("True ") and printed[2] == "Running", printed
    # The spec's session started the VM the walk-through had shut down, and the last
    # block stops it again: the walk-through leaves no guest running.
    x = names["x"]
    assert x.VM.get_power_state(names["vm"]) == "Halted"
    assert x.VM.get_name_description(names["vm"]) == "a first VM"
    assert x.VBD.get_VM(names["vbd"]) == names["vm"] and x.VIF.get_network(names["vif"]) \
        == names["net"] and x.VDI.get_SR(names["vdi"]) == names["sr"]


def test_root_over_socket_and_user_over_tcp(daemon, root):
    user = root.user.create({"short_name": "smoke", "fullname": "Smoke Test"})
    root.user.set_password(user, "s3cret")
    s = daemon.sdk_tcp("smoke", "s3cret")
    try:
        vm = s.xenapi.VM.create({"name_label": "smoke-vm"})
        assert s.xenapi.VM.get_name_label(vm) == "smoke-vm"
        assert vm in root.VM.get_all()
    finally:
        s.xenapi.session.logout()


def test_wrong_password_is_refused(daemon, root):
    with pytest.raises(XenAPI.Failure) as e:
        daemon.sdk_tcp("smoke-nobody", "x")
    assert e.value.details[0] == "SESSION_AUTHENTICATION_FAILED"
