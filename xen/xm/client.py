"""xm's side of the wire: XML-RPC to xend over its Unix socket or HTTP(S), or JSON-RPC
when the URI's path is /jsonrpc (``JsonRpcProxy``).

``Client`` holds one session and turns every reply into a value or an
exception: ``Failure`` for an API error (the server's code and parameters),
``ConnectError`` when xend cannot be reached or does not answer as the API
says. It also finds objects by name or UUID and remembers which name the user
gave for each ref, so that errors can show names instead of UUIDs. Nothing
here knows any xm command.
"""

import contextlib
import http.client
import io
import socket
import ssl
import sys
import time
import urllib.parse
import uuid as uuidlib
import xml.parsers.expat
import xmlrpc.client

from xen.xend.api import datamodel

from .output import printable
from .transports import JsonRpcProxy, PinnedTransport, UnixTransport

DEFAULT_SOCKET = "/var/run/xend/xen-api.sock"

class XmError(Exception):
    """A problem xm finds itself (an unknown name, a bad argument): printed as "Error: ..."."""


class ConnectError(Exception):
    """xend cannot be reached, or what answers does not speak the API."""


class Failure(Exception):
    """A Failure reply: the error code and its parameters, as the server sent them."""

    def __init__(self, description):
        description = list(description) or ["UNKNOWN_ERROR"]
        self.code = str(description[0])
        self.params = [str(p) for p in description[1:]]
        super().__init__(" ".join([self.code] + self.params))


def _wire_args(value):
    """Python's marshaller cannot send ints beyond 32 bits; the API's Int is 64-bit and
    accepted as a decimal string, so every int goes as one (bools stay bools)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return {k: _wire_args(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire_args(v) for v in value]
    return value


def looks_like_uuid(text):
    """True if ``text`` is spelled like a UUID (refs are UUIDs on this API)."""
    try:
        return str(uuidlib.UUID(text)) == text.lower()
    except ValueError:
        return False


class Client:
    """One logged-in session with xend."""

    def __init__(self, socket_path=None, uri=None, cacert=None, fingerprint=None):
        trust = "--fingerprint" if fingerprint else "--cacert" if cacert else None
        if trust and not (uri and urllib.parse.urlsplit(uri).scheme == "https"):
            # Said before connecting: over http:// the pinned transport would try TLS on a
            # plain port (WRONG_VERSION_NUMBER), a CA file would be ignored, and the Unix
            # socket has no certificate to check.
            raise XmError("%s needs an https:// URI (--uri https://HOST:PORT/), not %s"
                          % (trust, uri or "the Unix socket"))
        if cacert and fingerprint:
            raise XmError("--cacert and --fingerprint cannot be used together")
        if uri:
            self.where = uri
            try:
                # A self-signed certificate (xend makes one) is trusted by naming it,
                # or by pinning its SHA-256 fingerprint (which xend logs when it makes it).
                context = ssl.create_default_context(cafile=cacert) if cacert else None
            except OSError as e:          # ssl.SSLError included
                raise XmError("cannot use the certificate %s: %s"
                              % (cacert, getattr(e, "strerror", None) or e))
            parts = urllib.parse.urlsplit(uri)
            self._transport = (PinnedTransport(fingerprint) if fingerprint
                               else xmlrpc.client.SafeTransport(context=context)
                               if parts.scheme == "https" else xmlrpc.client.Transport())
            self._host = parts.netloc
            try:
                # The path picks the wire: /jsonrpc is JSON-RPC, any other XML-RPC.
                self._proxy = (JsonRpcProxy(self._transport, self._host, parts.path)
                               if parts.path.rstrip("/") == "/jsonrpc" and parts.scheme in (
                                   "http", "https")
                               else xmlrpc.client.ServerProxy(uri, transport=self._transport))
            except OSError:
                raise XmError("the URI must be http://HOST:PORT/ or https://HOST:PORT/, not %s"
                              % uri)
        else:
            self.where = socket_path or DEFAULT_SOCKET
            self._transport, self._host = UnixTransport(self.where), "localhost"
            self._proxy = xmlrpc.client.ServerProxy("http://localhost/",
                                                    transport=self._transport)
        self._session = None
        self._labels = {}     # ref -> the name the user gave for it

    # -- calls ---------------------------------------------------------------

    def login(self, user, password):
        """Open the session every later call uses."""
        self._session = self._invoke("session.login_with_password",
                                     (user, password, datamodel.API_VERSION, "xm"))

    def logout(self):
        """Close the session; errors are ignored, since xm is exiting anyway."""
        if self._session is None:
            return
        try:
            self._invoke("session.logout", (self._session,))
        except (Failure, ConnectError):
            pass
        self._session = None

    def call(self, method, *args):
        """Call ``method`` with the session and ``args``; returns its Value or raises."""
        return self._invoke(method, (self._session,) + args)

    def long_call(self, method, *args):
        """Run a long operation (start, shutdown -w, suspend, resume, clone) as an
        ``Async.`` call and follow its task's progress: a bar on stdout when stdout is
        a terminal, else plain lines on stderr once it has taken PLAIN_AFTER seconds
        (see ``_ProgressLines``). Returns the call's value, or raises its Failure."""
        task = self.call("Async." + method, *args)
        shown = _progress(method)
        rec = None
        # Asked again soon, then less often: many operations end within milliseconds
        # (a pause, a start on a quick backend); a long one needs no more than ten
        # looks a second.
        delay = 0.005
        try:
            while True:
                rec = self.call("task.get_record", task)
                pending = rec["status"] in ("pending", "cancelling")
                shown.update(float(rec["progress"]), pending)
                if not pending:
                    break
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
        finally:
            shown.finish(rec is not None and rec["status"] == "success")
        try:
            if rec["status"] == "success":
                return _decode_result(rec["result"])
            raise Failure(rec["error_info"] or ["INTERNAL_ERROR", "task failed"])
        finally:
            self.call("task.destroy", task)

    def get(self, path, **query):
        """GET ``path`` of xend's plain HTTP routes with ``query`` and the session
        (``session_id``), on the connection the calls use; the body of a 200, as bytes.
        A refusal's one-line reason (CODE PARAM...) is raised as its Failure."""
        try:
            conn = self._transport.make_connection(self._host)
            conn.request("GET", self._target(path, query))
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as e:
            raise ConnectError("cannot talk to xend at %s: %s"
                               % (self.where, getattr(e, "strerror", None) or e))
        if resp.status == 200:
            return body
        raise self._refusal("GET", path, resp.status, body)

    def _target(self, path, query):
        return "%s?%s" % (path, urllib.parse.urlencode(dict(query, session_id=self._session)))

    def _own_connection(self):
        """A new connection made as the calls' are (Unix socket, or the URI with its
        TLS trust), for a request that outlasts a call's."""
        conn = self._transport.make_connection(self._host)
        conn.close()
        return conn

    @contextlib.contextmanager
    def _transfer(self, label):
        """(a connection of its own, a progress display, a dict whose "ok" the block
        sets once the transfer succeeded) for a disk image transfer; the display ends
        as done or failed, and a failure of the connection is a ConnectError."""
        conn = self._own_connection()
        shown = _progress(label)
        outcome = {"ok": False}
        try:
            yield conn, shown, outcome
        except (OSError, ValueError, http.client.HTTPException) as e:
            raise ConnectError("cannot talk to xend at %s: %s"
                               % (self.where, getattr(e, "strerror", None) or e))
        finally:
            shown.finish(outcome["ok"])
            conn.close()

    def upload(self, path, source, length, label, **query):
        """PUT ``length`` bytes read from the file ``source`` to ``path`` with ``query``
        and the session, showing how much has gone as ``long_call`` shows a task's
        progress. Returns the body of a 200; a refusal is raised as its Failure, as
        ``get`` does. The server refuses before the body when it can: the body follows
        its ``100 Continue``, so a refused upload sends nothing."""
        sent = 0
        with self._transfer(label) as (conn, shown, outcome):
            conn.putrequest("PUT", self._target(path, query))
            conn.putheader("Content-Length", str(length))
            conn.putheader("Expect", "100-continue")
            conn.endheaders()
            status, headers, rest = _read_head(conn.sock)
            if status == 100:
                for sent in _send_file(conn.sock, source, length):
                    shown.update(sent / max(length, 1), True)
                status, headers, rest = _read_head(conn.sock, rest)
            body = _read_body(conn.sock, headers, rest)
            outcome["ok"] = status == 200
        if outcome["ok"]:
            return body
        raise self._refusal("PUT", path, status, body)

    def download(self, path, target, label, **query):
        """GET ``path`` with ``query`` and the session into the file ``target`` in
        pieces, showing progress as ``upload`` does; returns the bytes written. A
        refusal is raised as its Failure; a reply cut short is a ConnectError."""
        got = 0
        with self._transfer(label) as (conn, shown, outcome):
            conn.request("GET", self._target(path, query))
            resp = conn.getresponse()
            if resp.status != 200:
                raise self._refusal("GET", path, resp.status, resp.read(HEAD_MAX))
            length = int(resp.getheader("Content-Length") or 0)
            while block := resp.read(TRANSFER_BLOCK):
                target.write(block)
                got += len(block)
                shown.update(got / max(length, 1), True)
            if got != length:
                raise ConnectError("xend at %s sent %d of the image's %d bytes"
                                   % (self.where, got, length))
            outcome["ok"] = True
        return got

    def connect_stream(self, path, **query):
        """CONNECT ``path`` with ``query`` and the session on a new connection, made as
        the calls' are (Unix socket, or the URI with its TLS trust): after a 200 the
        connection is a raw byte stream both ways. Returns ``(socket, first)``: the
        socket, and the stream's first bytes, read along with the reply's head. A
        refusal is raised as its Failure, as ``get`` does."""
        target = self._target(path, query)
        try:
            # A connection of its own (the calls' one closes and reopens on their next
            # call): once the stream starts it can carry no other request.
            conn = self._own_connection()
            conn.connect()
            sock, conn.sock = conn.sock, None
        except (FileNotFoundError, ConnectionRefusedError):
            raise ConnectError("cannot connect to xend at %s: is it running?" % self.where)
        except OSError as e:
            raise ConnectError("cannot connect to xend at %s: %s"
                               % (self.where, getattr(e, "strerror", None) or e))
        try:
            sock.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                          % (target, self._host)).encode("ascii"))
            status, headers, rest = _read_head(sock)
            if status == 200:
                return sock, rest
            body = _read_body(sock, headers, rest)
        except (OSError, ValueError, http.client.HTTPException) as e:
            sock.close()
            raise ConnectError("cannot talk to xend at %s: %s"
                               % (self.where, getattr(e, "strerror", None) or e))
        sock.close()
        raise self._refusal("CONNECT", path, status, body)

    def _refusal(self, method, path, status, body):
        """The Failure of a plain HTTP route's refusal, whose body is its one-line
        reason (CODE PARAM...); a ConnectError if the body is not one."""
        code, _, rest = body.decode("utf-8", "replace").strip().partition(" ")
        declared = datamodel.ERRORS.get(code)
        if declared is None:
            return ConnectError("xend at %s answered HTTP %d to %s %s"
                                % (self.where, status, method, path))
        # Only a declared error's last parameter may hold spaces.
        return Failure([code] + (rest.split(" ", len(declared.params) - 1) if rest else []))

    def _invoke(self, method, params):
        try:
            reply = getattr(self._proxy, method)(*_wire_args(params))
        except (FileNotFoundError, ConnectionRefusedError):
            raise ConnectError("cannot connect to xend at %s: is it running?" % self.where)
        except PermissionError:
            raise ConnectError("cannot connect to xend at %s: permission denied" % self.where)
        except socket.gaierror as e:
            raise ConnectError("cannot connect to xend at %s: %s" % (self.where, e.strerror))
        except OSError as e:
            raise ConnectError("cannot talk to xend at %s: %s" % (self.where, e.strerror or e))
        except xmlrpc.client.ProtocolError as e:
            raise ConnectError("xend at %s answered HTTP %d %s"
                               % (self.where, e.errcode, e.errmsg))
        except xmlrpc.client.Fault as e:
            raise ConnectError("xend at %s refused the request: %s"
                               % (self.where, e.faultString))
        except (http.client.HTTPException, xmlrpc.client.ResponseError,
                xml.parsers.expat.ExpatError) as e:
            raise ConnectError("%s does not answer the Xen API: %s" % (self.where, e))
        if not isinstance(reply, dict) or reply.get("Status") not in ("Success", "Failure"):
            raise ConnectError("%s answered %s without a Status: not the Xen API"
                               % (self.where, method))
        if reply["Status"] == "Success":
            return reply.get("Value", "")
        raise Failure(reply.get("ErrorDescription") or [])

    # -- finding objects -------------------------------------------------------

    def resolve(self, cls, ident):
        """The ref of the ``cls`` object named ``ident``: a UUID, or a name that only
        one object has (name_label; short_name for users), or, for a VM, a domain ID
        (VM.domid): all digits and no VM's name. In that order: a VM named "5" is found
        by "5" before the VM whose domain ID is 5."""
        if looks_like_uuid(ident):
            try:
                return self.call(cls + ".get_by_uuid", ident.lower())
            except Failure as f:
                if f.code != "UUID_INVALID":
                    raise
        lookup = "get_by_short_name" if cls == "user" else "get_by_name_label"
        refs = self.call("%s.%s" % (cls, lookup), ident)
        if not refs and cls == "VM" and ident.isdigit():
            refs = self._by_domid(int(ident))
        if not refs:
            raise XmError("there is no %s named '%s'" % (cls, ident))
        if len(refs) > 1:
            raise XmError("%d %ss are named '%s': %s; give a UUID instead"
                          % (len(refs), cls, ident, ", ".join(sorted(refs))))
        self.remember(refs[0], ident)
        return refs[0]

    def _by_domid(self, domid):
        """The VMs whose domain ID is ``domid``: one, or none (a VM that is not resident
        has none: -1)."""
        return [ref for ref, rec in self.call("VM.get_all_records").items()
                if int(rec.get("domid", -1)) == domid]

    def remember(self, ref, label):
        """Show ``label`` instead of ``ref`` in error messages."""
        if label:
            self._labels[ref] = label

    def label(self, ref):
        """The name the user gave for ``ref``, else the ref itself."""
        return self._labels.get(ref, ref)

    def wait_for_power_state(self, vm, state, timeout, interval=0.5):
        """Poll until ``vm`` is in ``state``; XmError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.call("VM.get_power_state", vm)
            if current == state:
                return
            if time.monotonic() >= deadline:
                raise XmError("%s is still %s after %d seconds"
                              % (self.label(vm), current, timeout))
            time.sleep(interval)

    # -- messages ----------------------------------------------------------------

    def explain(self, failure):
        """A Failure as one readable line: its code, then a sentence from its parameters."""
        params = [printable(self.label(p)) for p in failure.params]
        error = datamodel.ERRORS.get(failure.code)
        if error is not None and len(error.params) == len(params):
            values = dict(zip(error.params, params))
            if failure.code == "VM_BAD_POWER_STATE":
                values["expected"] = " or ".join(values["expected"].split(","))
            if failure.code == "INVALID_VALUE" and values["value"] == "":
                values["value"] = "empty"
            return "%s: %s" % (failure.code, error.sentence.format(**values))
        # A code or a parameter count this xm does not know (a newer server).
        text = ", ".join(params)
        return "%s: %s" % (failure.code, text) if text else failure.code


HEAD_MAX = 65536    # bytes: the most of a reply's head (or refusal) xm reads
TRANSFER_BLOCK = 1024 * 1024   # bytes of a disk image sent or written at a time


def _read_head(sock, data=b""):
    """``(status, headers, rest)`` of the HTTP reply on ``sock`` (``data``: its first
    bytes, already read): ``rest`` holds the bytes read past the head (the start of its
    body or stream)."""
    while b"\r\n\r\n" not in data:
        if len(data) > HEAD_MAX:
            raise http.client.HTTPException("the reply's head is too long")
        chunk = sock.recv(HEAD_MAX)
        if not chunk:
            raise http.client.HTTPException("the connection closed before a reply")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, _, fields = head.partition(b"\r\n")
    parts = status_line.decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise http.client.HTTPException("not an HTTP reply: %r" % status_line[:80])
    return int(parts[1]), http.client.parse_headers(io.BytesIO(fields + b"\r\n\r\n")), rest


def _progress(label):
    """How an operation's progress is shown: a bar on a terminal, else plain lines."""
    return _ProgressBar(label) if sys.stdout.isatty() else _ProgressLines(label)


def _read_body(sock, headers, rest):
    """The body (at most HEAD_MAX bytes: a short reply or refusal) of a reply whose
    head gave ``headers`` and whose first body bytes are ``rest``."""
    length = min(int(headers.get("content-length") or 0), HEAD_MAX)
    while len(rest) < length:
        chunk = sock.recv(HEAD_MAX)
        if not chunk:
            break
        rest += chunk
    return rest[:length]


class _ProgressBar:
    """A task's progress for a person at a terminal: one line on stdout, redrawn in
    place, ended by a newline so that what follows (clone's UUID, an error) starts
    a line of its own. The line names the whole method and counts the seconds since
    the call, so that a wait the task reports no progress in is still seen to go on;
    it reads 100% only once the task has succeeded (a task ends at 1.0 failed too)."""

    WIDTH = 30

    def __init__(self, label):
        self.label = label
        self.started = time.monotonic()
        self.fraction = 0.0     # the last fraction drawn

    def _draw(self, fraction, end=""):
        done = int(self.WIDTH * fraction)
        sys.stdout.write("\r%s [%s%s] %3d%% %4ds%s" % (
            self.label, "#" * done, "." * (self.WIDTH - done), int(fraction * 100),
            time.monotonic() - self.started, end))
        sys.stdout.flush()

    def update(self, fraction, pending):
        """Redraw the bar of a pending task at ``fraction`` (0.0 to 1.0), short of 100%
        until it has succeeded; ``finish`` draws the end."""
        if pending:
            self.fraction = min(max(fraction, 0.0), 0.99)
            self._draw(self.fraction)

    def finish(self, ok):
        """Draw the last bar, 100% on success and where it stood on a failure, and end
        its line."""
        self._draw(1.0 if ok else self.fraction, " done\n" if ok else " failed\n")


class _ProgressLines:
    """A task's progress for scripts and logs: plain lines on stderr, never stdout,
    which stays the command's output (clone's UUID; a --json document, should a
    listing ever become long). An operation done within PLAIN_AFTER seconds prints
    nothing, as classic xm did, so a script's log and an error path stay one line;
    a longer one prints "VM.start: 40%" at each 10% step it reaches and
    "VM.start: done" when it succeeds (a failure's "Error:" line is its last)."""

    PLAIN_AFTER = 0.5   # seconds

    def __init__(self, label):
        self.label = label
        self.started = time.monotonic()
        self.step = None      # the last 10% step printed; None: nothing printed yet

    def update(self, fraction, pending):
        """Print a line if a pending operation reached a new 10% step."""
        if not pending or time.monotonic() - self.started < self.PLAIN_AFTER:
            return
        step = int(min(max(fraction, 0.0), 1.0) * 10)
        if step != self.step:
            self.step = step
            sys.stderr.write("%s: %d%%\n" % (self.label, step * 10))
            sys.stderr.flush()

    def finish(self, ok):
        """Close the lines that were printed with "done" on success."""
        if ok and self.step is not None:
            sys.stderr.write("%s: done\n" % self.label)
            sys.stderr.flush()


def _decode_result(result):
    """A task's result: a plain string (refs, "" for void), or an XML-RPC <value>."""
    if result.startswith("<?xml") or result.startswith("<params>"):
        return xmlrpc.client.loads(result)[0][0]
    return result


def _send_file(sock, source, length):
    """Send ``length`` bytes of the file ``source`` on ``sock`` in pieces, yielding the
    bytes sent so far after each. socket.sendfile has the kernel copy from the file to
    a plain socket (no pass through xm); over TLS it reads and sends."""
    sent = 0
    while sent < length:
        n = sock.sendfile(source, sent, min(TRANSFER_BLOCK, length - sent))
        if not n:       # the file is shorter than it was
            return
        sent += n
        yield sent
