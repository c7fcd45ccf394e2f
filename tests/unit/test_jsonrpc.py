"""The JSON-RPC codec (xen/xend/api/jsonrpc.py) and the types' JSON wire form: requests
decoded or refused with the right JSON-RPC error, replies in the request's envelope,
whole or in pieces, read back by json as the values written."""

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xen.xend.api import codec, jsonrpc, marshal
from xen.xend.api.types import DateTime, Float, Int, Map, Set, String

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def refusal(body):
    """(code, message) of the ProtocolError decoding ``body`` raises."""
    with pytest.raises(jsonrpc.ProtocolError) as e:
        jsonrpc.decode_request(body)
    return e.value.code, str(e.value)


# -- requests ----------------------------------------------------------------------------

def test_a_2_0_request():
    r = jsonrpc.decode_request(b'{"jsonrpc":"2.0","method":"VM.get_all","params":["s"],'
                               b'"id":"a"}')
    assert (r.envelope, r.method, r.params, r.id, r.notification) == \
        ("2.0", "VM.get_all", ("s",), "a", False)


def test_a_1_0_request_and_each_notification():
    r = jsonrpc.decode_request(b'{"method":"m","params":[1,true,null,{"k":[]}],"id":7}')
    assert (r.envelope, r.params, r.id, r.notification) == ("1.0", (1, True, None, {"k": []}),
                                                            7, False)
    assert jsonrpc.decode_request(b'{"jsonrpc":"2.0","method":"m","params":[]}').notification
    assert jsonrpc.decode_request(b'{"method":"m","params":[],"id":null}').notification
    # 2.0's params may be left out: none.
    assert jsonrpc.decode_request(b'{"jsonrpc":"2.0","method":"m","id":1}').params == ()


@pytest.mark.parametrize("body, code", [
    (b"", jsonrpc.PARSE_ERROR),
    (b"{", jsonrpc.PARSE_ERROR),
    (b"\xff\xfe{}", jsonrpc.PARSE_ERROR),                              # not UTF-8
    (b'{"method":"m","params":["\\ud800"],"id":1}', jsonrpc.PARSE_ERROR),   # lone surrogate
    (b'{"method":"m","params":[NaN],"id":1}', jsonrpc.PARSE_ERROR),
    (b'{"method":"m","params":[-Infinity],"id":1}', jsonrpc.PARSE_ERROR),
    (b'{"method":"m","params":[%s],"id":1}' % (b"9" * 41), jsonrpc.PARSE_ERROR),
    (b'{"method":"m","method":"n","params":[],"id":1}', jsonrpc.PARSE_ERROR),  # duplicate
    (b"[]", jsonrpc.INVALID_REQUEST),                                  # a batch
    (b'[{"jsonrpc":"2.0","method":"m","id":1}]', jsonrpc.INVALID_REQUEST),
    (b'"m"', jsonrpc.INVALID_REQUEST),
    (b'{"jsonrpc":"2.0","method":7,"id":1}', jsonrpc.INVALID_REQUEST),
    (b'{"jsonrpc":"2.0","method":"","id":1}', jsonrpc.INVALID_REQUEST),
    (b'{"jsonrpc":"2.0","params":[],"id":1}', jsonrpc.INVALID_REQUEST),
    (b'{"jsonrpc":"2.0","method":"m","params":{"a":1},"id":1}', jsonrpc.INVALID_REQUEST),
    (b'{"jsonrpc":"2.0","method":"m","params":"x","id":1}', jsonrpc.INVALID_REQUEST),
    (b'{"jsonrpc":"2.0","method":"m","params":[],"id":{}}', jsonrpc.INVALID_REQUEST),
    (b'{"jsonrpc":"2.0","method":"m","params":[],"id":[1]}', jsonrpc.INVALID_REQUEST),
    (b'{"jsonrpc":"2.0","method":"m","params":[],"id":true}', jsonrpc.INVALID_REQUEST),
    (b'{"jsonrpc":"1.0","method":"m","params":[],"id":1}', jsonrpc.INVALID_REQUEST),
    (b'{"method":"m","params":[]}', jsonrpc.INVALID_REQUEST),          # 1.0 without an id
])
def test_a_body_that_is_no_request_is_refused(body, code):
    assert refusal(body)[0] == code


@pytest.mark.parametrize("depth, refused", [(codec.MAX_DEPTH, False),
                                            (codec.MAX_DEPTH + 1, True), (100000, True)])
def test_nesting_is_bounded_as_xml_rpc_s(depth, refused):
    """Arrays and objects in params nest at most MAX_DEPTH deep, as in an XML-RPC call."""
    body = b'{"method":"m","id":1,"params":%s1%s}' % (b"[" * depth, b"]" * depth)
    if refused:
        assert refusal(body) == (jsonrpc.INVALID_REQUEST, "request nested too deeply")
    else:
        jsonrpc.decode_request(body)


def test_a_refusal_names_the_id_and_envelope_it_could_read():
    with pytest.raises(jsonrpc.ProtocolError) as e:
        jsonrpc.decode_request(b'{"method":"m","params":{},"id":"x"}')
    assert (e.value.envelope, e.value.id) == ("1.0", "x")
    assert json.loads(jsonrpc.encode_error(e.value.code, "m", e.value.envelope, e.value.id)) == \
        {"result": None, "error": {"code": -32600, "message": "m"}, "id": "x"}


# -- replies ---------------------------------------------------------------------------

def test_replies_mirror_the_envelope():
    ok = {"Status": "Success", "Value": {"a": [1, "x", True, 2.5]}}
    assert json.loads(jsonrpc.encode_reply(ok, "2.0", 3)) == \
        {"jsonrpc": "2.0", "result": {"a": [1, "x", True, 2.5]}, "id": 3}
    assert json.loads(jsonrpc.encode_reply(ok, "1.0", "i")) == \
        {"result": {"a": [1, "x", True, 2.5]}, "error": None, "id": "i"}


def test_a_failure_is_code_1_its_code_and_params():
    failed = codec.failure(["HANDLE_INVALID", "VM", "x"])
    error = {"code": 1, "message": "HANDLE_INVALID", "data": ["VM", "x"]}
    assert json.loads(jsonrpc.encode_reply(failed, "2.0", None)) == \
        {"jsonrpc": "2.0", "error": error, "id": None}
    assert json.loads(jsonrpc.encode_reply(failed, "1.0", 1)) == \
        {"result": None, "error": error, "id": 1}


records = st.dictionaries(st.text(max_size=8), st.one_of(
    st.text(st.characters(), max_size=30), st.integers(), st.booleans(),
    st.lists(st.text(max_size=5), max_size=3)), max_size=6)


@PROPERTY
@given(st.lists(st.tuples(st.text(max_size=12), records), max_size=40, unique_by=lambda p: p[0]))
def test_members_in_pieces_read_back_as_a_dict(pairs):
    """A ``Members`` struct written through a sink: the pieces joined are the reply of the
    same pairs as a dict, lone surrogates as "?"."""
    pieces = []
    last = jsonrpc.encode_reply(codec.success(codec.Members(iter(pairs))), "2.0", 1,
                                pieces.append)
    whole = jsonrpc.encode_reply(codec.success(dict(pairs)), "2.0", 1)
    assert b"".join(pieces) + last == whole
    assert json.loads(whole)["result"].keys() == {
        k.encode("utf-8", "replace").decode("utf-8") for k, _ in pairs}


def test_a_large_reply_goes_to_the_sink_in_pieces(monkeypatch):
    monkeypatch.setattr(jsonrpc, "PIECE_BYTES", 1000)
    pieces = []
    pairs = (("vm%d" % i, {"name": "x" * 100}) for i in range(100))
    last = jsonrpc.encode_reply(codec.success(marshal.Members(pairs)), "2.0", 1, pieces.append)
    assert len(pieces) > 5
    assert len(json.loads(b"".join(pieces) + last)["result"]) == 100


def test_an_abandoned_reply_raises_abandon():
    def pairs():
        yield "a", {}
        raise marshal.Abandon(codec.failure(["INTERNAL_ERROR", "x"]))
    with pytest.raises(marshal.Abandon):
        jsonrpc.encode_reply(codec.success(marshal.Members(pairs())), "2.0", 1)


@pytest.mark.parametrize("value", [math.nan, math.inf, object()])
def test_a_value_json_cannot_carry_raises(value):
    with pytest.raises((TypeError, ValueError)):
        jsonrpc.encode_reply(codec.success([value]), "2.0", 1)


# -- the types' JSON form ------------------------------------------------------------------

def test_ints_are_numbers_and_times_iso_strings():
    assert Int.to_json(2 ** 62) == 2 ** 62 and Int.to_wire(2 ** 62) == str(2 ** 62)
    assert DateTime.to_json("20240131T23:59:01Z") == "2024-01-31T23:59:01Z"
    assert DateTime.to_json("") == "1970-01-01T00:00:00Z"   # unset: the epoch, as XML-RPC's
    # A time a client sent as an XML-RPC dateTime is stored without its Z.
    assert DateTime.to_json("20240131T23:59:01") == "2024-01-31T23:59:01Z"
    # Read back, JSON-RPC's form is the same time's XML-RPC dateTime.
    assert DateTime.from_wire("2024-01-31T23:59:01Z") == "20240131T23:59:01" == \
        DateTime.from_wire(DateTime.to_wire("20240131T23:59:01Z"))
    assert String.to_json("x") == "x"


@pytest.mark.parametrize("value, expected", [
    (1.5, 1.5), (0, 0.0), (math.nan, "NaN"), (math.inf, "+Inf"), (-math.inf, "-Inf")])
def test_floats_in_json(value, expected):
    assert Float.to_json(value) == expected


def test_collections_convert_their_items():
    assert Set(Int).to_json([1, 2]) == [1, 2]
    assert Map(String, Int).to_json({"a": 1}) == {"a": 1}
    assert Map(Int, Set(DateTime)).to_json({5: [""]}) == {"5": ["1970-01-01T00:00:00Z"]}
    assert list(Map(String, Int).wire_pairs([("a", 1)], json=True)) == [("a", 1)]
    assert list(Map(String, Int).wire_pairs([("a", 1)])) == [("a", "1")]
