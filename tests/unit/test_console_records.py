"""A guest's console records, kept by the domain owner (state/domains.py) with its power
state, one per protocol the backend lists; and the URL a console's location gives."""

import json
import socket

import pytest
from owners import sim_owner

from xen.xend.api.handlers.console import console_url
from xen.xend.backend.base import GUEST_CRASH, GUEST_DIED
from xen.xend.backend.sim import SimBackend


@pytest.fixture
def owner(tmp_path):
    owner = sim_owner(tmp_path)
    yield owner
    owner.store.close()


def consoles(owner):
    """{protocol: ref} of vm1's console records."""
    refs = owner.store.referrers("console", "VM", "vm1")
    return {owner.store.get("console", c)["protocol"]: c for c in refs}


def test_a_started_guest_has_the_consoles_its_backend_lists(owner):
    owner.start("vm1", False)
    made = consoles(owner)
    assert list(made) == ["vt100"]
    assert owner.store.get("console", made["vt100"]) == {
        "VM": "vm1", "protocol": "vt100", "other_config": {}}


STOPS = {"hard_shutdown": lambda owner: owner.hard_shutdown("vm1"),
         "clean_shutdown": lambda owner: owner.clean_shutdown("vm1"),
         "suspend": lambda owner: owner.suspend("vm1", False)}


@pytest.mark.parametrize("stop", sorted(STOPS))
def test_a_stopped_guest_has_no_consoles(owner, stop):
    owner.start("vm1", False)
    assert consoles(owner)
    STOPS[stop](owner)
    assert consoles(owner) == {}


def test_a_resumed_guest_has_its_consoles_again(owner):
    owner.start("vm1", False)
    owner.suspend("vm1", False)
    owner.resume("vm1", False)
    assert list(consoles(owner)) == ["vt100"]


def test_a_paused_guest_keeps_its_console(owner):
    owner.start("vm1", False)
    before = consoles(owner)
    owner.pause("vm1")
    assert consoles(owner) == before


@pytest.mark.parametrize("kind", [GUEST_CRASH, GUEST_DIED])
def test_a_crashed_or_dead_guest_has_no_consoles(owner, kind):
    owner.start("vm1", False)
    assert consoles(owner)
    owner.guest_event("vm1", kind)
    assert owner.store.get("VM", "vm1")["power_state"] == "Halted"
    assert consoles(owner) == {}


def test_a_crashed_guest_that_is_kept_keeps_its_console(owner):
    with owner.store.transaction() as txn:
        txn.update("VM", "vm1", {"actions_after_crash": "preserve"})
    owner.start("vm1", False)
    before = consoles(owner)
    owner.guest_event("vm1", GUEST_CRASH)
    assert owner.store.get("VM", "vm1")["power_state"] == "Paused"
    assert consoles(owner) == before


def test_reattach_keeps_a_running_guests_consoles_and_makes_missing_ones(owner):
    owner.start("vm1", False)
    kept = consoles(owner)
    owner.reattach_all()
    assert consoles(owner) == kept
    with owner.store.transaction() as txn:     # as a store written before consoles had
        txn.delete("console", kept["vt100"])
    owner.reattach_all()
    assert list(consoles(owner)) == ["vt100"]


def test_reattach_removes_the_consoles_of_a_guest_gone_meanwhile(owner, tmp_path):
    owner.start("vm1", False)
    assert consoles(owner)
    with open(tmp_path / "sim-domains.json", "w") as f:
        json.dump({}, f)                       # the guest ended while no daemon watched
    owner.backend = SimBackend(str(tmp_path))
    owner.reattach_all()
    assert owner.store.get("VM", "vm1")["power_state"] == "Halted"
    assert consoles(owner) == {}


# -- location ----------------------------------------------------------------------------

def config(**listeners):
    return dict({"socket": "/run/xend/xen-api.sock", "listen": "none",
                 "tls_listen": "none"}, **listeners)


@pytest.mark.parametrize("listeners, url", [
    ({"listen": "127.0.0.1:4464", "tls_listen": "10.0.0.5:4465"},
     "https://10.0.0.5:4465/console?ref=c1"),
    ({"listen": "127.0.0.1:4464"}, "http://127.0.0.1:4464/console?ref=c1"),
    ({"listen": "[::1]:4464"}, "http://[::1]:4464/console?ref=c1"),
    ({"listen": ":4464"}, "http://127.0.0.1:4464/console?ref=c1"),
    ({}, "/console?ref=c1"),
])
def test_location_names_the_preferred_listener(listeners, url):
    assert console_url(config(**listeners), "c1") == url


@pytest.mark.parametrize("wildcard", ["0.0.0.0:4465", "[::]:4465"])
def test_a_wildcard_address_becomes_the_hosts_name(wildcard):
    assert console_url(config(tls_listen=wildcard), "c1") == \
        "https://%s:4465/console?ref=c1" % socket.gethostname()
