"""JSON-RPC (POST /jsonrpc) over the real daemon: envelopes 2.0 and 1.0, API failures as
errors, notifications, the Content-Type rule, values in JSON-RPC's form (Ints as numbers,
DateTimes as ISO 8601 strings), a large reply streamed."""

import json
import re

import pytest
from harness import new_vm, unique
from jsonapi import call, post, request
from xapi_helpers import ROOT_PASSWORD

from xen.xend.api import datamodel
from xen.xend.api.types import DateTime, Int

ISO = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")


@pytest.fixture(scope="module")
def session(daemon, root_tcp):
    """A JSON-RPC session of root over TCP (root_tcp set its password)."""
    reply = call(daemon, "session.login_with_password", "root", ROOT_PASSWORD, "1.0")
    return reply["result"]


def result(daemon, method, *params, **kw):
    reply = call(daemon, method, *params, **kw)
    assert "error" not in reply, reply
    return reply["result"]


@pytest.mark.parametrize("over", ["unix", "tcp"])
def test_login_and_logout_over_each_listener(daemon, root_tcp, over):
    password = "" if over == "unix" else ROOT_PASSWORD
    reply = call(daemon, "session.login_with_password", "root", password, over=over)
    assert reply["jsonrpc"] == "2.0" and reply["id"] == 1 and "error" not in reply
    ref = reply["result"]
    assert result(daemon, "session.get_this_user", ref, ref, over=over) == "root"
    assert call(daemon, "session.logout", ref, over=over)["result"] == ""
    assert call(daemon, "session.get_this_user", ref, ref, over=over)["error"]["message"] == \
        "SESSION_INVALID"


def test_records_carry_ints_as_numbers_and_times_as_iso(daemon, root, v10, session):
    """get_all_records is the SDK's record (both in 1.0 sessions), with each Int a JSON
    number and each DateTime an ISO 8601 string; the rest as XML-RPC has it."""
    vms = [new_vm(root, memory_static_max=str(2 ** 40)) for _ in range(3)]
    records = result(daemon, "VM.get_all_records", session)
    sdk = root.VM.get_all_records()
    assert set(vms) <= set(records) and set(records) == set(sdk)
    fields = {f.wire: f.type for f in datamodel.CLASSES["VM"].fields_for("1.0")}
    record, expected = records[vms[0]], v10.VM.get_record(vms[0])
    assert record["memory_static_max"] == 2 ** 40
    assert set(record) == set(expected)
    for name, value in expected.items():
        if fields.get(name) is Int:
            assert type(record[name]) is int and record[name] == int(value), name
        elif fields.get(name) is DateTime:
            assert ISO.match(record[name]), (name, record[name])
        else:
            assert record[name] == value, name
    metrics = result(daemon, "VM.get_metrics", session, vms[0])
    assert ISO.match(result(daemon, "VM_metrics.get_last_updated", session, metrics))


def test_an_api_failure_is_error_code_1_with_the_description(daemon, session):
    reply = call(daemon, "VM.get_record", session, "no-such-vm")
    assert reply == {"jsonrpc": "2.0", "id": 1, "error": {
        "code": 1, "message": "HANDLE_INVALID", "data": ["VM", "no-such-vm"]}}
    assert call(daemon, "VM.no_such_call", session)["error"]["message"] == \
        "MESSAGE_METHOD_UNKNOWN"
    assert call(daemon, "VM.get_all", "not-a-session")["error"]["message"] == \
        "SESSION_INVALID"


def test_a_1_0_envelope_gets_a_1_0_reply(daemon, session):
    reply = call(daemon, "VM.get_all", session, envelope="1.0")
    assert set(reply) == {"result", "error", "id"} and reply["error"] is None
    failed = call(daemon, "VM.get_record", session, "nope", envelope="1.0")
    assert failed["result"] is None and failed["error"]["message"] == "HANDLE_INVALID"


def test_a_notification_runs_and_gets_no_reply(daemon, root, session):
    vm = new_vm(root)
    name = unique("notified")
    status, _, body = post(daemon, request("VM.set_name_label", [session, vm, name], id=None))
    assert (status, body) == (204, b"")
    assert root.VM.get_name_label(vm) == name


def test_only_json_is_accepted(daemon, session):
    body = request("VM.get_all", [session])
    assert post(daemon, body, content_type="text/plain")[0] == 415
    assert post(daemon, body, content_type="application/x-www-form-urlencoded")[0] == 415
    status, ctype, _ = post(daemon, body, content_type="application/json; charset=utf-8")
    assert (status, ctype) == (200, "application/json")


def test_a_body_that_is_no_request_gets_a_protocol_error(daemon):
    status, _, body = post(daemon, b"{not json")
    assert status == 200
    assert json.loads(body) == {"jsonrpc": "2.0", "id": None, "error": {
        "code": -32700, "message": json.loads(body)["error"]["message"]}}
    assert json.loads(post(daemon, b"[]")[2])["error"]["code"] == -32600


def test_a_large_reply_is_streamed_whole(daemon, root, session):
    """Enough records for several pieces of the reply (sent as they are written): the
    pieces make one whole reply."""
    for _ in range(300):
        new_vm(root, name_description="x" * 1000)
    records = result(daemon, "VM.get_all_records", session)
    assert set(records) == set(root.VM.get_all())
