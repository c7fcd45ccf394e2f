"""The generic class behaviour (handlers/base.py) and dispatch's error handling, in process.

The 0.2 classes have no RW Map field, so the Map rules of §1.1 (add_to overwrites a key,
remove_from drops one) are checked on a small class declared here."""

import logging
import types

import pytest

from xen.xend.api import datamodel
from xen.xend.api.datamodel import RO_INS, RO_RUN, RW, Class, Field
from xen.xend.api.dispatch import Dispatcher
from xen.xend.api.errors import ApiError
from xen.xend.api.handlers.base import ClassHandler
from xen.xend.api.methods import Method
from xen.xend.api.objects import Objects
from xen.xend.api.sessions import Peer
from xen.xend.api.types import Int, Map, Set, String
from xen.xend.state.store import Store

THING = Class("thing", "a test class", [
    Field("uuid", String, RO_RUN, "ref"),
    Field("name/label", String, RW, "name"),
    Field("other_config", Map(String, String), RW, "extra data"),
    Field("tags", Set(String), RW, "tags"),
    Field("serial", Int, RO_INS, "fixed at creation"),
    Field("load", Int, RO_RUN, "computed"),
])


@pytest.fixture
def handler(monkeypatch):
    monkeypatch.setitem(datamodel.CLASSES, "thing", THING)
    store = Store(None, ["thing"], lookup_fields=[("thing", "name_label")])
    app = types.SimpleNamespace(store=store, handlers={})
    h = ClassHandler(app, "thing")     # a plain class: the generic handler is all it needs
    app.handlers["thing"] = h
    app.objects = Objects(store, app.handlers)
    return h


CALL = types.SimpleNamespace(is_root=True, user="root", method="thing.x", session=None,
                             revision="0.2", json=False)


def test_create_fills_defaults_and_ro_run_fields(handler):
    ref = handler.create(CALL, {"name_label": "t", "serial": 7})
    rec = handler.get_record(CALL, ref)
    assert rec == {"uuid": ref, "name_label": "t", "other_config": {}, "tags": [],
                   "serial": "7", "load": "0"}


def test_create_ignores_ro_run_fields_as_given_in_a_whole_record(handler):
    ref = handler.create(CALL, {"name_label": "t", "load": 99, "uuid": "x"})
    assert handler.get_record(CALL, ref)["load"] == "0"
    assert handler.get_record(CALL, ref)["uuid"] == ref


def test_create_refuses_unknown_and_bad_fields(handler):
    for record, code in [({"nope": 1}, "FIELD_UNKNOWN"), ({"serial": "x"}, "FIELD_TYPE_ERROR"),
                         ({"tags": "a"}, "FIELD_TYPE_ERROR"), ([], "FIELD_TYPE_ERROR")]:
        with pytest.raises(ApiError) as e:
            handler.create(CALL, record)
        assert e.value.code == code, record
    assert handler.store.refs("thing") == []


def test_map_add_to_overwrites_and_remove_from_drops_a_key(handler):
    ref = handler.create(CALL, {"serial": 1})
    handler.add_to(CALL, "other_config", ref, "k", "v1")
    handler.add_to(CALL, "other_config", ref, "j", "w")
    assert handler.get_field(CALL, "other_config", ref) == {"k": "v1", "j": "w"}
    handler.add_to(CALL, "other_config", ref, "k", "v2")
    assert handler.get_field(CALL, "other_config", ref) == {"k": "v2", "j": "w"}
    handler.remove_from(CALL, "other_config", ref, "k")
    assert handler.get_field(CALL, "other_config", ref) == {"j": "w"}
    handler.remove_from(CALL, "other_config", ref, "absent")      # no error, no change
    assert handler.get_field(CALL, "other_config", ref) == {"j": "w"}


def test_set_add_to_is_idempotent_and_remove_from_ignores_absent(handler):
    ref = handler.create(CALL, {"serial": 1})
    handler.add_to(CALL, "tags", ref, "a")
    handler.add_to(CALL, "tags", ref, "b")
    handler.add_to(CALL, "tags", ref, "a")
    assert handler.get_field(CALL, "tags", ref) == ["a", "b"]
    handler.remove_from(CALL, "tags", ref, "a")
    handler.remove_from(CALL, "tags", ref, "zzz")
    assert handler.get_field(CALL, "tags", ref) == ["b"]


def test_set_field_and_lookup(handler):
    ref = handler.create(CALL, {"name_label": "one", "serial": 1})
    handler.set_field(CALL, "name_label", ref, "two")
    assert handler.get_by_field(CALL, "name_label", "two") == [ref]
    assert handler.get_by_field(CALL, "name_label", "one") == []
    assert handler.get_by_uuid(CALL, ref) == ref
    with pytest.raises(ApiError) as e:
        handler.get_by_uuid(CALL, "nope")
    assert e.value.description == ["UUID_INVALID", "thing", "nope"]


def test_delete(handler):
    ref = handler.create(CALL, {"serial": 1})
    handler.delete(CALL, ref)
    assert handler.get_all(CALL) == []
    with pytest.raises(ApiError) as e:
        handler.set_field(CALL, "name_label", ref, "x")
    assert e.value.code == "HANDLE_INVALID"


# -- dispatch's last resort ------------------------------------------------------------

def _dispatcher(impl):
    app = types.SimpleNamespace(store=None, sessions=None, pool_channel=None)   # alone
    table = {"VM.boom": Method("VM.boom", "VM", [], None, impl, session=False)}
    return Dispatcher(app, {"0.2": table, "1.0": table})


def test_an_unexpected_exception_is_internal_error_without_traceback(caplog):
    def impl(call):
        raise ZeroDivisionError("secret detail /etc/shadow")
    with caplog.at_level(logging.ERROR, logger="xend.dispatch"):
        reply = _dispatcher(impl).dispatch("VM.boom", [], Peer("tcp"))
    assert reply["Status"] == "Failure"
    desc = reply["ErrorDescription"]
    assert desc[0] == "INTERNAL_ERROR" and len(desc) == 2
    assert "Traceback" not in desc[1] and "File " not in desc[1] and "\n" not in desc[1]
    assert "secret detail" not in desc[1]
    # ... but the daemon's log has the whole story
    assert any(r.exc_info for r in caplog.records)


def test_api_errors_are_failures_not_exceptions():
    def impl(call):
        raise ApiError("OPERATION_NOT_ALLOWED", "no")
    reply = _dispatcher(impl).dispatch("VM.boom", [], Peer("tcp"))
    assert reply == {"Status": "Failure", "ErrorDescription": ["OPERATION_NOT_ALLOWED", "no"]}


def test_void_result_is_the_empty_string():
    reply = _dispatcher(lambda call: None).dispatch("VM.boom", [], Peer("tcp"))
    assert reply == {"Status": "Success", "Value": ""}


def test_unknown_method_and_parameter_count():
    d = _dispatcher(lambda call: None)
    assert d.dispatch("VM.nope", [], Peer("tcp")) == {
        "Status": "Failure", "ErrorDescription": ["MESSAGE_METHOD_UNKNOWN", "VM.nope"]}
    assert d.dispatch("VM.boom", ["extra"], Peer("tcp")) == {
        "Status": "Failure",
        "ErrorDescription": ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.boom", "0", "1"]}
