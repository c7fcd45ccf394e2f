"""xm over JSON-RPC: ``--uri http://HOST:PORT/jsonrpc`` talks JSON-RPC to the daemon, and
xm says and does what it does over XML-RPC."""

import pytest
from harness import wait_until
from xmtools import Xm, table

PASSWORD = "xm-jsonrpc pw"


@pytest.fixture(scope="module")
def over(daemon, root):
    """Runs xm as root against ``daemon``'s TCP listener, over "jsonrpc" or "xmlrpc"."""
    root.user.set_password(root.user.get_by_short_name("root")[0], PASSWORD)
    xm = Xm(daemon.socket)
    paths = {"jsonrpc": "jsonrpc", "xmlrpc": ""}

    def run(wire, *args, fails=False):
        uri = ["--uri", "%s%s" % (daemon.url, paths[wire]), "--user", "root"]
        env = {"XEND_PASSWORD": PASSWORD}
        if fails:
            return xm.fails(*args, *uri, env=env, socket=False)
        return xm(*args, *uri, env=env, socket=False)
    return run


def untimed(listing):
    return [{k: v for k, v in row.items() if k != "Time(s)"} for row in table(listing)]


def test_list_shows_what_xml_rpc_shows(over, tmp_path):
    cfg = tmp_path / "listed.cfg"
    cfg.write_text('name = "listed"\nmemory = 64\nvcpus = 2\n')
    over("xmlrpc", "new", str(cfg))
    rows = table(over("jsonrpc", "list"))
    assert {r["Name"] for r in rows} >= {"Domain-0", "listed"}
    listed = next(r for r in rows if r["Name"] == "listed")
    assert listed["Mem"] == "64"
    # The same table but for the CPU time the running control domain adds meanwhile.
    assert untimed(over("jsonrpc", "list")) == untimed(over("xmlrpc", "list"))
    assert over("jsonrpc", "list", "--long", "listed") == \
        over("xmlrpc", "list", "--long", "listed")


def test_new_start_destroy(over, root, tmp_path):
    cfg = tmp_path / "over-json.cfg"
    cfg.write_text('name = "over-json"\nmemory = 64\n')
    out = over("jsonrpc", "new", str(cfg))
    assert out.startswith("Created VM over-json (")
    vm = out.strip().rsplit("(", 1)[1].rstrip(")")
    assert root.VM.get_power_state(vm) == "Halted"
    over("jsonrpc", "start", "over-json")
    assert root.VM.get_power_state(vm) == "Running"
    assert table(over("jsonrpc", "list", "over-json"))[0]["State"] != "------"
    over("jsonrpc", "destroy", "over-json")
    wait_until(lambda: root.VM.get_power_state(vm) == "Halted", 20, "over-json to halt")


def test_failures_read_as_over_xml_rpc(over, tmp_path):
    cfg = tmp_path / "halted.cfg"
    cfg.write_text('name = "halted"\nmemory = 64\n')
    over("xmlrpc", "new", str(cfg))
    for args in (("start", "no-such-vm"), ("destroy", "halted"), ("pause", "halted")):
        err = over("jsonrpc", *args, fails=True)
        assert err.startswith("Error: ") and err == over("xmlrpc", *args, fails=True), args
