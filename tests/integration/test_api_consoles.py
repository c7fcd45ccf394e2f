"""The console class through the XenAPI SDK on the sim backend: a running guest's console
records appear when it starts, go when it stops, come back with a daemon restart that
finds the guest still running, have events like any object, and are the daemon's to make:
clients read them and set only other_config."""

import json
import os

import pytest
from harness import Watcher, failure, new_vm, wait_until

# conftest's ``api``: the SDK over the Unix socket, and its interface over JSON-RPC.
API_TRANSPORTS = ("unix", "jsonrpc")


@pytest.fixture
def running(api):
    """A running VM; halted again at the test's end."""
    vm = new_vm(api)
    api.VM.start(vm, False)
    yield vm
    if api.VM.get_power_state(vm) != "Halted":
        api.VM.hard_shutdown(vm)


def test_a_running_guest_has_one_vt100_console(api, daemon, running):
    cons = api.VM.get_consoles(running)
    assert len(cons) == 1
    con = cons[0]
    assert api.console.get_record(con) == {
        "uuid": con, "protocol": "vt100", "VM": running, "other_config": {},
        "location": "http://127.0.0.1:%d/console?ref=%s" % (daemon.port, con)}
    assert con in api.console.get_all()
    assert api.console.get_by_uuid(con) == con
    assert api.console.get_all_records()[con]["VM"] == running
    assert api.VM.get_record(running)["consoles"] == [con]


@pytest.mark.parametrize("stop", ["clean_shutdown", "hard_shutdown", "suspend"])
def test_a_stopped_guest_has_no_console(api, running, stop):
    con = api.VM.get_consoles(running)[0]
    getattr(api.VM, stop)(running, *((False,) if stop == "suspend" else ()))
    assert api.VM.get_consoles(running) == []
    assert failure(api.console.get_record, con) == ["HANDLE_INVALID", "console", con]
    assert con not in api.console.get_all()


def test_a_resumed_guest_has_a_console_again(api, running):
    api.VM.suspend(running, False)
    api.VM.resume(running, False)
    assert [api.console.get_protocol(c) for c in api.VM.get_consoles(running)] == ["vt100"]


def test_a_halted_vm_has_no_console(api):
    assert api.VM.get_consoles(new_vm(api)) == []


def test_console_events_follow_the_guest(api):
    watch = Watcher(api, ["console"])
    vm = new_vm(api)
    api.VM.start(vm, False)
    con = api.VM.get_consoles(vm)[0]
    api.VM.hard_shutdown(vm)
    got = watch.collect(lambda evs: any(e["operation"] == "del" for e in evs))
    ours = [(e["operation"], e["ref"]) for e in got if e["ref"] == con]
    assert ours == [("add", con), ("del", con)]
    added = next(e for e in got if e["operation"] == "add" and e["ref"] == con)
    assert added["snapshot"]["VM"] == vm and added["snapshot"]["protocol"] == "vt100"


def test_only_other_config_is_writable(api, running):
    con = api.VM.get_consoles(running)[0]
    api.console.add_to_other_config(con, "purpose", "serial")
    api.console.add_to_other_config(con, "owner", "ops")
    api.console.remove_from_other_config(con, "purpose")
    assert api.console.get_other_config(con) == {"owner": "ops"}
    refused = {failure(getattr(api, method), *args)[0] for method, args in (
        ("console.set_protocol", (con, "rfb")),
        ("console.set_location", (con, "http://elsewhere/")),
        ("console.set_VM", (con, running)),
        ("VM.add_to_consoles", (running, con)),
        ("VM.remove_from_consoles", (running, con)))}
    assert refused == {"FIELD_READ_ONLY"}
    assert failure(api.console.create, {"VM": running, "protocol": "rfb"})[0] == \
        "OPERATION_NOT_ALLOWED"
    assert failure(api.console.destroy, con)[0] == "OPERATION_NOT_ALLOWED"
    assert api.VM.get_consoles(running) == [con]


def test_a_restart_finds_a_running_guests_console_again(make_daemon):
    d = make_daemon()
    vm = new_vm(d.api)
    d.api.VM.start(vm, False)
    con = d.api.VM.get_consoles(vm)[0]
    d.api.console.add_to_other_config(con, "kept", "yes")
    d.kill9()
    d.start()
    api = d.relogin()
    assert api.VM.get_consoles(vm) == [con]
    assert api.console.get_other_config(con) == {"kept": "yes"}


def test_a_restart_drops_the_console_of_a_guest_gone_meanwhile(make_daemon):
    d = make_daemon()
    vm = new_vm(d.api)
    d.api.VM.start(vm, False)
    con = d.api.VM.get_consoles(vm)[0]
    d.stop()
    sim = os.path.join(d.state_dir, "sim-domains.json")
    with open(sim) as f:
        guests = json.load(f)
    del guests[vm]                     # the guest ended while no daemon watched it
    with open(sim, "w") as f:
        json.dump(guests, f)
    d.start()
    api = d.relogin()
    wait_until(lambda: api.VM.get_power_state(vm) == "Halted", 10, "the VM to be Halted")
    assert api.VM.get_consoles(vm) == []
    assert failure(api.console.get_record, con) == ["HANDLE_INVALID", "console", con]
