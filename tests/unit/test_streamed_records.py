"""get_all_records made as the reply is written (handlers/base.py, dispatch.py, marshal.py,
transport/listeners.py), in process on a real daemon object (sim backend, no listeners).

Every class's get_all_records must give the same bytes as when the records were all built
before the reply was written; an error while a record is made must still give the client
a well-formed outcome: the Failure it would have had, while nothing of the reply is out,
and a reply cut short (never one that parses as a Success) once part of it is."""

import http.client
import logging
import socket
import threading
import xmlrpc.client

import pytest
from harness import ROOT_PEER as ROOT
from harness import InProcessListener

from xen.xend.api import codec, datamodel, marshal
from xen.xend.api.errors import ApiError
from xen.xend.api.handlers.vm import VMHandler
from xen.xend.api.tasks import FINISHED
from xen.xend.daemon import config as configmod
from xen.xend.daemon.app import Xend
from xen.xend.transport import listeners as server

VMS = 60   # enough records for the writer to hand over several pieces between them
# Classes with an owner whose objects are not one per owner: those of the fixture.
NARROWED = {"PIF": 1, "PIF_metrics": 1}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    cfg = configmod.load(None, {"state_dir": str(tmp_path_factory.mktemp("state")),
                                "backend": "sim", "socket": "none", "listen": "none",
                                "sampler_interval": 3600.0})   # no sample between builds
    app = Xend(cfg)
    try:
        s = app.sessions.login("root", "", "", ROOT)
        call = lambda name, *a: _ok(app.dispatcher.dispatch(name, (s,) + a, ROOT))  # noqa: E731
        sr = call("SR.get_all")[0]
        vdis = [call("VDI.create", {"SR": sr, "name_label": "disk %d" % i,
                                    "virtual_size": "4096", "sharable": True,
                                    "read_only": True, "name_description": "<&>"})
                for i in range(3)]
        # One private network, one with a NIC (so a PIF).
        nets = [call("network.create", {"name_label": "net%d" % i, "NIC": ("", "xenbr1")[i]})
                for i in range(2)]
        for i in range(VMS):
            # Markup and a control character in the strings: escaped and replaced alike.
            vm = call("VM.create", {"name_label": "vm <%d> & \x01" % i,
                                    "VCPUs_max": str(1 + i % 3)})
            call("VIF.create", {"VM": vm, "network": nets[i % 2], "device": "eth0"})
            for n in range(2):
                call("VBD.create", {"VM": vm, "VDI": vdis[(i + n) % 3],
                                    "device": "xvd" + "ab"[n], "mode": "RO"})
            if i % 10 == 0:
                call("VM.start", vm, False)   # running: computed maps and figures
        user = call("user.create", {"short_name": "alice", "fullname": "Alice"})
        call("user.set_password", user, "a good password")
        app.sessions.login("root", "", "other", ROOT)
        _ok(app.dispatcher.dispatch("Async.VM.get_all", (s,), ROOT))   # a task
        app.test_session = s
        yield app
    finally:
        app.close()


def _ok(reply):
    assert reply["Status"] == "Success", reply
    return reply["Value"]


def classes():
    return [c.name for c in datamodel.CLASSES.values() if c.objects]


def eager(app, cls):
    """The reply as it was written before records were made lazily: every record built,
    in a dict, before the first byte."""
    h = app.handlers[cls]
    call = type("Call", (), {"session": app.sessions.check(app.test_session), "is_root": True,
                             "user": "root", "revision": "0.2"})()
    records = {ref: h.wire_record(ref, rec) for ref, rec in h.visible_records(call)}
    method = app.dispatcher.table[cls + ".get_all_records"]
    return codec.encode_reply(codec.success(method.result.to_wire(records)))


def streamed(app, cls, pieces=None):
    """The reply as dispatch and the codec now make it, with the pieces handed over."""
    pieces = [] if pieces is None else pieces
    reply = app.dispatcher.dispatch(cls + ".get_all_records", (app.test_session,), ROOT)
    last = codec.encode_reply(reply, pieces.append)
    return b"".join(pieces) + last


@pytest.mark.parametrize("cls", classes())
def test_every_classs_records_are_the_same_bytes_streamed(app, cls, monkeypatch):
    monkeypatch.setattr(marshal, "PIECE_BYTES", 1)   # hand over whatever has gathered
    pieces = []
    body = streamed(app, cls, pieces)
    assert body == eager(app, cls)
    value = xmlrpc.client.loads(body)[0][0]["Value"]
    owner = datamodel.CLASSES[cls].owner   # one object per owner's (PIFs: per NIC)
    count = NARROWED[cls] if cls in NARROWED else app.store.count(owner or cls)
    assert len(value) == count or cls in ("session", "task")
    if cls == "VM":
        # The test's VMs and the control domain's; written while being made.
        assert len(value) == VMS + 1 and len(pieces) >= 2


def test_the_records_are_made_as_they_are_written(app, monkeypatch):
    monkeypatch.setattr(marshal, "PIECE_BYTES", 1)
    made = []
    original = VMHandler.wire_record

    def counted(self, ref, rec=None, rev="0.2", json=False):
        made.append(ref)
        return original(self, ref, rec, rev, json)
    monkeypatch.setattr(VMHandler, "wire_record", counted)
    reply = app.dispatcher.dispatch("VM.get_all_records", (app.test_session,), ROOT)
    assert made == []   # dispatch has built nothing yet
    seen = []
    codec.encode_reply(reply, lambda piece: seen.append(len(made)))
    assert seen and seen[0] < VMS   # the first piece left before the last record was built
    assert len(made) == VMS + 1     # and the control domain's


def test_async_get_all_records_gives_the_whole_map(app):
    s = app.test_session
    task = _ok(app.dispatcher.dispatch("Async.VM.get_all_records", (s,), ROOT))
    for _ in range(1000):
        if app.store.get("task", task)["status"] in FINISHED:
            break
        threading.Event().wait(0.01)
    result = _ok(app.dispatcher.dispatch("task.get_result", (s, task), ROOT))
    # (In process, the names' control characters are as stored: the wire replaces them.)
    records = xmlrpc.client.loads(result.replace("\x01", "?"))[0][0]
    assert set(records) == set(app.store.refs("VM"))


# -- an error while the records are made -------------------------------------------------

def fail_at(monkeypatch, n, error):
    """Make the n-th VM record built (from 0) raise ``error``."""
    original = VMHandler.wire_record
    made = []

    def failing(self, ref, rec=None, rev="0.2", json=False):
        made.append(ref)
        if len(made) == n + 1:
            raise error
        return original(self, ref, rec, rev, json)
    monkeypatch.setattr(VMHandler, "wire_record", failing)


@pytest.mark.parametrize("n", [0, VMS // 2, VMS - 1])
def test_a_bug_while_making_a_record_abandons_the_reply_for_internal_error(
        app, monkeypatch, caplog, n):
    fail_at(monkeypatch, n, ZeroDivisionError("secret detail"))
    stats = app.dispatcher.stats.get("VM.get_all_records", [0, 0, 0.0])[:2]
    with caplog.at_level(logging.ERROR, logger="xend.dispatch"), \
            pytest.raises(codec.Abandon) as e:
        streamed(app, "VM")
    assert e.value.reply == {"Status": "Failure", "ErrorDescription": [
        "INTERNAL_ERROR", "ZeroDivisionError in VM.get_all_records"]}
    assert any(r.exc_info for r in caplog.records)   # the log has the traceback
    calls, failures = app.dispatcher.stats["VM.get_all_records"][:2]
    assert (calls, failures) == (stats[0] + 1, stats[1] + 1)


def test_an_api_error_while_making_a_record_is_that_failure(app, monkeypatch):
    fail_at(monkeypatch, 3, ApiError("HANDLE_INVALID", "VM", "gone"))
    with pytest.raises(codec.Abandon) as e:
        streamed(app, "VM")
    assert e.value.reply == {"Status": "Failure",
                             "ErrorDescription": ["HANDLE_INVALID", "VM", "gone"]}


def exchange(app, requests):
    """Serve ``requests`` (bytes) on one connection with the daemon's own handler; the
    client's socket, to read the replies from, and the serving thread."""
    near, far = socket.socketpair()
    far.sendall(requests)
    far.shutdown(socket.SHUT_WR)

    def serve():
        try:
            server.ConnectionHandler(near, ("", 0), InProcessListener(app))
        finally:
            near.close()
    t = threading.Thread(target=serve)
    t.start()
    return far, t


def post(app, method="VM.get_all_records", version=b"HTTP/1.1"):
    body = xmlrpc.client.dumps((app.test_session,), method).encode()
    return (b"POST / %s\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n"
            % (version, len(body))) + body


class OneBuffer:
    """The client's socket as successive HTTP responses read it: through one buffer.
    (A response of http.client reads through a fresh makefile() and may read ahead
    into the next response, which a second makefile() would then never see.)"""

    def __init__(self, sock):
        self.fp = sock.makefile("rb")

    def makefile(self, *args, **kwargs):
        return self

    def close(self):
        """Each response closes its file when done; the buffer stays for the next."""

    def __getattr__(self, name):
        return getattr(self.fp, name)


def sdk_parse(response):
    """What the SDK's transport makes of a response: (params,) or the exception raised."""
    sdk = xmlrpc.client.Transport()
    sdk.verbose = False   # set by a request, which this parse does without
    try:
        return sdk.parse_response(response)
    except Exception as e:
        return e


def test_a_failure_before_any_piece_is_out_is_a_whole_failure_reply(app, monkeypatch):
    monkeypatch.setattr(marshal, "PIECE_BYTES", 1)
    fail_at(monkeypatch, 0, ZeroDivisionError())
    far, t = exchange(app, post(app) + post(app, "VM.get_all"))
    replies = OneBuffer(far)
    with far, replies.fp:
        response = http.client.HTTPResponse(replies)
        response.begin()
        assert response.getheader("Content-Length") is not None   # not a stream
        reply = sdk_parse(response)[0]
        assert reply["Status"] == "Failure"
        assert reply["ErrorDescription"][0] == "INTERNAL_ERROR"
        # ... and the connection carries the next call
        second = http.client.HTTPResponse(replies)
        second.begin()
        assert sorted(sdk_parse(second)[0]["Value"]) == sorted(app.store.refs("VM"))
    t.join(10)


def test_a_failure_once_pieces_are_out_cuts_the_reply_short(app, monkeypatch):
    monkeypatch.setattr(marshal, "PIECE_BYTES", 1)
    fail_at(monkeypatch, VMS - 1, ZeroDivisionError())
    far, t = exchange(app, post(app) + post(app, "VM.get_all"))
    with far:
        response = http.client.HTTPResponse(far)
        response.begin()
        assert response.status == 200
        assert response.getheader("Transfer-Encoding") == "chunked"
        outcome = sdk_parse(response)
        assert isinstance(outcome, http.client.IncompleteRead), outcome
        assert far.recv(1) == b""   # closed: the second call is not answered
    t.join(10)
    # Read whole by a client that ignores the missing end, the XML does not parse either.
    fail_at(monkeypatch, VMS - 1, ZeroDivisionError())
    far, t = exchange(app, post(app))
    with far:
        raw = b""
        while True:
            data = far.recv(1 << 16)
            if not data:
                break
            raw += data
    t.join(10)
    assert not raw.endswith(b"0\r\n\r\n")
    assert b"</methodResponse>" not in raw


def test_a_failure_to_an_http_1_0_client_is_a_whole_failure_reply(app, monkeypatch):
    monkeypatch.setattr(marshal, "PIECE_BYTES", 1)
    fail_at(monkeypatch, VMS - 1, ZeroDivisionError())
    far, t = exchange(app, post(app, version=b"HTTP/1.0"))
    with far:
        response = http.client.HTTPResponse(far)
        response.begin()
        reply = sdk_parse(response)[0]
        assert reply["Status"] == "Failure"
        assert reply["ErrorDescription"][0] == "INTERNAL_ERROR"
    t.join(10)


def test_a_streamed_reply_through_the_connection_handler_is_the_eager_one(app, monkeypatch):
    monkeypatch.setattr(marshal, "PIECE_BYTES", 1)
    far, t = exchange(app, post(app))
    with far:
        response = http.client.HTTPResponse(far)
        response.begin()
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert response.read() == eager(app, "VM")
    t.join(10)
