"""event.from's long poll over the network listeners, plain TCP and TLS: a call waits at
most about its own timeout, and a change made while it waits ends the wait with that
change (the call's timeout is never replaced by the connection's request timeout)."""

import concurrent.futures

import pytest
import XenAPI
from harness import free_port, new_vm, serving
from xapi_helpers import ROOT_PASSWORD

# Far above a 1 s timeout's answer and far below the connections' request_timeout
# (30 s), which a call once waited out over TLS whatever its own timeout said.
BOUND = 15.0


@pytest.fixture(scope="module")
def daemon():
    """The module's sim daemon with a TLS listener too; root's password set."""
    tls_port = free_port()
    with serving(extra_config='tls_listen = "127.0.0.1:%d"\n' % tls_port) as d:
        d.api.user.set_password(d.api.user.get_by_short_name("root")[0], ROOT_PASSWORD)
        d.tls_url = "https://127.0.0.1:%d/" % tls_port
        yield d


@pytest.fixture(params=["tcp", "tls"])
def remote(request, daemon):
    """root's SDK over TCP or TLS (the daemon's own certificate, not checked)."""
    s = (XenAPI.Session(daemon.url) if request.param == "tcp"
         else XenAPI.Session(daemon.tls_url, ignore_ssl=True))
    s.xenapi.login_with_password("root", ROOT_PASSWORD, "1.0", "xend-tests")
    yield s.xenapi
    s.xenapi.session.logout()


def _token(api):
    return api.event_from(["VM"], "", 0.0)["token"]


def test_a_call_with_nothing_to_report_answers_after_its_own_timeout(remote):
    token = _token(remote)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        call = pool.submit(remote.event_from, ["VM"], token, 1.0)
        reply = call.result(timeout=BOUND)
    assert reply["events"] == []
    assert reply["token"] == token


def test_a_change_made_while_a_call_waits_is_its_answer(daemon, remote):
    token = _token(remote)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        # A timeout longer than BOUND: only the change can end this call in time.
        call = pool.submit(remote.event_from, ["VM"], token, 60.0)
        vm = new_vm(daemon.api)
        reply = call.result(timeout=BOUND)
    assert {(e["ref"], e["operation"]) for e in reply["events"]} >= {(vm, "add")}
    daemon.api.VM.destroy(vm)
