"""What each request a listener reads is answered with: ``ROUTES``, (method, path) to a
function ``(handler, conn, request, peer, query)``. XML-RPC and JSON-RPC calls go to
dispatch; the DTD, the metrics, per-VM logs, the console proxy and the web console
(transport/webui.py) are paths of their own. A route returns whether the connection may
carry another request (False: it was taken over or must close)."""

import json
import logging
import re
import urllib.parse

from ..api import codec, consoles, jsonrpc, transfer, vmlogs, xmlrepr
from ..api.dispatch import loggable
from ..api.errors import ApiError
from . import consoleproxy, poolchannel, prometheus, rfb, webui

log = logging.getLogger("xend.server")


def _dtd(handler, conn, request, peer, query):
    """GET /xen-api.dtd: the DTD of to_XML's documents."""
    conn.send(200, xmlrepr.dtd_text().encode("utf-8"), "application/xml-dtd",
              not request.keep_alive)
    return True


def _metrics(handler, conn, request, peer, query):
    """GET /metrics (transport/prometheus.py), for root or HTTP Basic credentials."""
    if handler._may_scrape(request, peer):
        conn.send(200, prometheus.render(handler.server.app).encode("utf-8"),
                  "text/plain; version=0.0.4", not request.keep_alive)
    else:
        conn.send(401, b"", "text/plain", not request.keep_alive,
                  extra=b'WWW-Authenticate: Basic realm="xend"\r\n')
    return True


# The HTTP status of each error a route's API call may raise (400 for any other);
# VALUE_NOT_SUPPORTED: a console that is not there now (its guest has just stopped).
_ERROR_STATUS = {"SESSION_INVALID": 401, "PERMISSION_DENIED": 403, "HANDLE_INVALID": 404,
                 "VALUE_NOT_SUPPORTED": 409, "VDI_IN_USE": 409, "OPERATION_NOT_ALLOWED": 409,
                 "TASK_CANCELLED": 409, "VDI_TOO_SMALL": 413, "SR_FULL": 507,
                 "INTERNAL_ERROR": 500}


def _refuse(conn, request, error, close=False):
    """Answer the API error ``error`` with its status and the one-line ErrorDescription
    (a session ref blanked)."""
    conn.send(_ERROR_STATUS.get(error.code, 400),
              (" ".join(loggable(error.description)) + "\n").encode("utf-8"),
              "text/plain; charset=utf-8", close or not request.keep_alive)


def _params(query):
    """A function giving the first value of a query string's parameter (or a default)."""
    params = urllib.parse.parse_qs(query, keep_blank_values=True)
    return lambda name, default=None: params.get(name, [default])[0]


def _vm_log(handler, conn, request, peer, query):
    """GET /vm-log?ref=VM&kind=qemu|console|daemon[&bytes=N]&session_id=SESSION: the
    last bytes of a VM's log, text/plain (api/vmlogs.py says which and for whom); an
    error is its status with the one-line ErrorDescription (a session ref blanked)."""
    param = _params(query)
    try:
        body = vmlogs.vm_log(handler.server.app, param("session_id", ""), param("ref", ""),
                             param("kind", ""), param("bytes"))
    except ApiError as e:
        _refuse(conn, request, e)
        return True
    peer.authenticated = True
    conn.send(200, body, "text/plain", not request.keep_alive)
    return True


def _task_header(job):
    return b"Task-Id: %s\r\n" % job.task.encode("ascii")


def _import_vdi(handler, conn, request, peer, query):
    """PUT /import_raw_vdi?session_id=SESSION&vdi=VDI[&format=raw|qcow2][&task_id=TASK]:
    the body (Content-Length bytes) becomes the VDI's image (api/transfer.py). Refused
    before any of the body is read where the request is; 200 with the task's ref
    (also its Task-Id header) once the VDI holds the image. A refusal closes the
    connection: the body may be left unread."""
    param = _params(query)
    try:
        job = transfer.open_import(handler.server.app, param("session_id", ""),
                                   param("vdi", ""), param("format"), param("task_id", ""),
                                   conn.body_length(request))
    except ApiError as e:
        _refuse(conn, request, e, close=True)
        return False
    peer.authenticated = True
    try:
        transfer.receive(job, conn.body_pieces(request), conn.body_length(request))
    except ApiError as e:
        _refuse(conn, request, e, close=True)
        return False
    conn.send(200, job.task.encode("ascii") + b"\n", "text/plain", not request.keep_alive,
              extra=_task_header(job))
    return True


def _attachment(job):
    """The Content-Disposition of an export: an attachment named after the VDI and the
    format (``disk one.qcow2``), so that a browser saves it under that name. ``filename``
    keeps only characters that need no quoting in a header (others become ``_``);
    ``filename*`` (RFC 6266) carries the name as it is, percent-encoded UTF-8."""
    name = "%s.%s" % ((job.record.get("name_label") or job.vdi)[:200], job.format)
    plain = re.sub(r"[^A-Za-z0-9 ._-]", "_", name)
    return ("Content-Disposition: attachment; filename=\"%s\"; filename*=UTF-8''%s\r\n"
            % (plain, urllib.parse.quote(name, safe=""))).encode("ascii")


def _export_vdi(handler, conn, request, peer, query):
    """GET /export_raw_vdi?session_id=SESSION&vdi=VDI[&format=raw|qcow2][&task_id=TASK]:
    the VDI's image, application/octet-stream with a Content-Length, sent as it is
    read (api/transfer.py); the task's ref in the Task-Id header, the VDI's name as
    the attachment's file name, nosniff so that no browser takes it for a page."""
    param = _params(query)
    try:
        job, length, pieces = transfer.open_export(handler.server.app, param("session_id", ""),
                                              param("vdi", ""), param("format"),
                                              param("task_id", ""))
    except ApiError as e:
        _refuse(conn, request, e)
        return True
    peer.authenticated = True
    try:
        return conn.send_pieces(200, "application/octet-stream", length, pieces,
                                not request.keep_alive,
                                extra=_task_header(job) + _attachment(job)
                                + b"X-Content-Type-Options: nosniff\r\n")
    except OSError:   # the client went away (TimeoutError: it stopped reading)
        return False
    finally:
        pieces.close()


# mode -> (writer, live) of the console stream a console request asks for.
_CONSOLE_MODES = {"write": (True, True), "read": (False, True), "dump": (False, False)}


def _open_console(handler, conn, request, peer, query):
    """(stream, filter) of the console that ``query`` asks for (ref, session_id, mode),
    or None once the refusal is sent (the connection then ends). The filter passes what
    the client may send: a reader's input to a display is removed (transport/rfb.py)."""
    param = _params(query)
    mode = param("mode", "write")
    if mode not in _CONSOLE_MODES:
        conn.send_error(400, "mode must be write, read or dump, not %r" % mode[:40])
        return None
    try:
        sock, protocol, writer = consoles.open_console(
            handler.server.app, param("session_id", ""), param("ref", ""),
            *_CONSOLE_MODES[mode])
    except ApiError as e:
        _refuse(conn, request, e, close=True)
        return None
    peer.authenticated = True
    handler.server.answered(handler.request, peer)   # no longer counted unauthenticated
    return sock, (rfb.ViewOnly() if protocol == "rfb" and not writer else None)


def _proxy(handler, conn, opened, head, framing):
    """Hand the connection over with reply ``head`` and pump it to the console stream
    ``opened`` holds (transport/consoleproxy.py) until either ends."""
    sock, inbound = opened
    try:
        first = conn.take_over(head)
        consoleproxy.pump(handler.request, sock, framing, first,
                          handler.server.app.config["request_timeout"], inbound)
    finally:
        sock.close()
    return False


def _console(handler, conn, request, peer, query):
    """CONNECT /console?ref=CONSOLE&session_id=SESSION[&mode=write|read|dump]: after
    ``200 Connection established`` the connection is the console's byte stream."""
    opened = _open_console(handler, conn, request, peer, query)
    if opened is None:
        return False
    return _proxy(handler, conn, opened, b"HTTP/1.1 200 Connection established\r\n\r\n",
                  consoleproxy.Raw())


def _console_ws(handler, conn, request, peer, query):
    """GET /console/ws?... with Upgrade: websocket: the console's stream in binary
    WebSocket frames. A request that is not a WebSocket upgrade is answered 400."""
    try:
        head = consoleproxy.websocket_handshake(request)
    except ValueError as e:
        conn.send_error(400, str(e))
        return False
    opened = _open_console(handler, conn, request, peer, query)
    if opened is None:
        return False
    return _proxy(handler, conn, opened, head, consoleproxy.WebSocket())


def _call(handler, conn, request, peer, query):
    """POST / or /RPC2: answer an XML-RPC call: the call's Status struct, or a fault if
    the body is not a call. A large reply is sent while it is being written."""
    app = handler.server.app
    try:
        method, params = codec.decode_call(request.body)
    except codec.WireError as e:
        conn.send(200, codec.encode_fault(-32700, str(e)), "text/xml", not request.keep_alive)
        return True
    reply = app.dispatcher.dispatch(method, params, peer)
    typed = peer.revision != "0.2"
    return _reply(conn, request, method, reply,
                  lambda reply, sink: codec.encode_reply(reply, sink, typed), "text/xml")


def _jsonrpc(handler, conn, request, peer, query):
    """POST /jsonrpc: answer a JSON-RPC call (api/jsonrpc.py) as an XML-RPC one, in the
    envelope it came in; a JSON-RPC error if the body is not a call, 204 to a
    notification, 415 to a body that is not declared JSON (a browser sends no other
    type cross-origin without a preflight, which is never granted)."""
    media_type = (request.header("content-type") or "").partition(";")[0].strip().lower()
    if media_type != jsonrpc.CONTENT_TYPE:
        conn.send(415, b"JSON-RPC requests are application/json\n", "text/plain",
                  not request.keep_alive)
        return True
    try:
        call = jsonrpc.decode_request(request.body)
    except jsonrpc.ProtocolError as e:
        conn.send(200, jsonrpc.encode_error(e.code, str(e), e.envelope, e.id),
                  jsonrpc.CONTENT_TYPE, not request.keep_alive)
        return True
    # Values go out in JSON-RPC's wire form for this request only: the connection may
    # carry XML-RPC calls too.
    peer.json = True
    try:
        reply = handler.server.app.dispatcher.dispatch(call.method, call.params, peer)
        if call.notification:
            conn.send(204, b"", jsonrpc.CONTENT_TYPE, not request.keep_alive)
            return True
        return _reply(conn, request, call.method, reply,
                      lambda reply, sink: jsonrpc.encode_reply(reply, call.envelope,
                                                               call.id, sink),
                      jsonrpc.CONTENT_TYPE)
    finally:
        peer.json = False


def _pool(handler, conn, request, peer, query):
    """POST /pool: a call from another member of the pool (transport/poolchannel.py), on
    the TLS listener only and with the pool's secret; 404 on any other listener or on a
    host alone, 403 without the secret."""
    channel = handler.server.app.pool_channel
    if handler.server.kind != "tls" or channel is None:
        conn.send(404, b"not found\n", "text/plain", not request.keep_alive)
        return True
    if not channel.admits(request.header(poolchannel.SECRET_HEADER.lower())):
        log.warning("pool: a call from %s without the pool's secret refused", peer.address)
        conn.send(403, b"the pool's secret is required\n", "text/plain", True)
        return False
    peer.authenticated = True
    conn.send(200, json.dumps(channel.answer(request.body)).encode("utf-8"),
              poolchannel.CONTENT_TYPE, not request.keep_alive)
    return True


def _reply(conn, request, method, reply, encode, content_type):
    """Send ``reply``, the Status struct answering ``method``, as ``encode(reply, sink)``
    writes it: a large reply while it is being written. False if the connection must
    end (a reply cut short)."""
    stream = conn.stream(request, 200, content_type)
    try:
        stream.finish(encode(reply, stream))
    except codec.Abandon as e:   # records made as they are written: one failed (logged)
        # Once part of the reply is out, only a reply cut short (no last chunk) tells the
        # client it failed: a Failure cannot replace the Success it has begun to read.
        if stream.started:
            return False
        conn.send(200, encode(e.reply, None), content_type, not request.keep_alive)
    except (TypeError, ValueError, OverflowError):   # a handler returned an unsendable value
        log.exception("internal error: the reply to %s cannot be encoded", method[:200])
        if stream.started:   # the client has part of a reply: end the connection
            return False
        conn.send(200, encode(codec.failure(
            ["INTERNAL_ERROR", "the reply to %s cannot be encoded" % method[:200]]), None),
                  content_type, not request.keep_alive)
    return True


# (method, path) -> the route that answers it; any other request is answered 404.
ROUTES = {
    ("POST", "/"): _call,
    ("POST", "/RPC2"): _call,
    ("POST", "/jsonrpc"): _jsonrpc,
    ("POST", poolchannel.PATH): _pool,
    ("GET", "/xen-api.dtd"): _dtd,
    ("GET", "/metrics"): _metrics,
    ("GET", "/vm-log"): _vm_log,
    ("PUT", "/import_raw_vdi"): _import_vdi,
    ("GET", "/export_raw_vdi"): _export_vdi,
    ("CONNECT", "/console"): _console,
    ("GET", "/console/ws"): _console_ws,
    **webui.ROUTES,
}
