"""The web console's files: ``GET /ui/`` and ``GET /ui/<file>`` (docs/ui.md).

The page is built from ui/ (``make ui``) into the package's ``webui/static/``
(``webui_dir`` in the configuration points elsewhere). Only the names in ``FILES`` are
served: a request's path is looked up in the route table, never joined onto the disk,
so no path a client sends reaches a file outside the build. ``GET /ui/model.json`` is
not a file: it is what the page needs of the datamodel (the lifecycle table, each error
code's sentence, the root-only methods, the enumerations, the debugging operations'
keys and triggers), derived at run time so that the page and the
daemon cannot disagree.

Every answer here carries the page's security headers (``SECURITY_HEADERS``) and an
ETag with ``Cache-Control: no-cache``: the built names carry no hash, so a browser asks
again at each load and is answered 304 while the build is unchanged.
"""

import hashlib
import json
import os
import re

from ..api import datamodel, errortable, lifecycle
from ..api.handlers import vmdebug

# The built files (ui/build.mjs writes them) and their Content-Types.
FILES = {
    "index.html": "text/html; charset=utf-8",
    "main.js": "text/javascript; charset=utf-8",
    "main.js.map": "application/json",
    "main.css": "text/css; charset=utf-8",
    "main.css.map": "application/json",
}

# The page loads only its own scripts, styles and fonts and talks only to its own
# origin (the console's WebSocket included: 'self' covers ws: and wss: of the same host);
# no inline script, no plugin, no form posted anywhere, no framing.
# Inline styles are refused but for one need: the console's terminal (xterm.js's DOM
# renderer) writes its cell metrics and colour theme into <style> elements it makes at
# run time (their text follows the font's measured size, so no hash can name them, and
# xterm.js sets no nonce), and colours a cell of 24-bit colour by its style attribute.
# The page builds its DOM from data, never from HTML strings, so no markup (and no
# style) of a guest or a client reaches it otherwise.
CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "style-src 'self'; style-src-elem 'self' 'unsafe-inline'; "
       "style-src-attr 'unsafe-inline'; font-src 'self'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")

SECURITY_HEADERS = (b"Content-Security-Policy: " + CSP.encode("ascii") + b"\r\n"
                    b"X-Content-Type-Options: nosniff\r\n"
                    b"Referrer-Policy: no-referrer\r\n")

NOT_BUILT = ("the web console is not built: run `make ui` in xend's source tree "
             "(Node.js and npm needed), then reload\n")

PACKAGE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "webui", "static")


def static_dir(config):
    """Where the built page is: ``webui_dir``, or the package's own build."""
    return config["webui_dir"] or PACKAGE_DIR


def _send(conn, request, status, body, content_type, extra=b""):
    conn.send(status, body, content_type, not request.keep_alive,
              extra=SECURITY_HEADERS + extra)


def _send_cached(conn, request, body, content_type):
    """200 with ``body`` and its ETag, or 304 when the client holds that version."""
    etag = b'"%s"' % hashlib.sha256(body).hexdigest()[:32].encode("ascii")
    cache = b"ETag: " + etag + b"\r\nCache-Control: no-cache\r\n"
    if (request.header("if-none-match") or "").encode("latin-1") == etag:
        _send(conn, request, 304, b"", content_type, cache)
    else:
        _send(conn, request, 200, body, content_type, cache)


def route(name):
    """The route answering ``GET /ui/<name>`` with the built file ``name`` (of FILES),
    or 503 saying how to build the page when it is not there."""
    content_type = FILES[name]

    def answer(handler, conn, request, peer, query):
        path = os.path.join(static_dir(handler.server.app.config), name)
        try:
            with open(path, "rb") as f:
                body = f.read()
        except FileNotFoundError:
            _send(conn, request, 503, NOT_BUILT.encode("utf-8"), "text/plain; charset=utf-8")
            return True
        _send_cached(conn, request, body, content_type)
        return True
    answer.__doc__ = "GET /ui/%s: the built page's %s." % (name, name)
    return answer


def model(app):
    """The facts of the datamodel the page needs, as a JSON-able dict: ``lifecycle``
    (lifecycle.TABLE's rows), ``template_ops`` (the operations a template may undergo:
    every other is VM_IS_TEMPLATE), ``errors`` (each code's parameter names and the sentence
    xm prints, a str.format of them), ``root_only`` (the methods only root may call,
    in any revision: those declared so and the writes of classes whose writes are
    root's), ``enums`` (each enumeration's values, in the datamodel's order) and
    ``debug`` (the SysRq keys and triggers VM.send_sysrq and VM.send_trigger take,
    which are checked strings rather than enumerations)."""
    return {
        "lifecycle": [{"state": state, "op": op, "transient": t.transient, "final": t.final}
                      for (state, op), t in lifecycle.TABLE.items()],
        "template_ops": sorted(lifecycle.TEMPLATE_OPS),
        "errors": {code: {"params": list(e.params), "sentence": e.sentence}
                   for code, e in errortable.ERRORS.items()},
        "root_only": sorted({name for table in app.dispatcher.tables.values()
                             for name, m in table.items() if _root_only(name, m)}),
        "enums": {name: list(e.values) for name, e in datamodel.ENUMS.items()},
        "debug": {"sysrq_keys": list(vmdebug.SYSRQ_KEYS), "triggers": list(vmdebug.TRIGGERS)},
    }


# The generated writes of a class (create, destroy, delete and the setters and set
# members of api/methods.py), which a class whose writes are root's (the datamodel's
# root_writes: SR, network, user ...) refuses to other users (handlers' may_write).
_WRITE = re.compile(r"\.(create|destroy|delete|set_\w+|add_to_\w+|remove_from_\w+)$")


def _root_only(name, method):
    """Whether only root may call ``method``: declared so, or a write of a class whose
    writes are root's."""
    return method.root_only or bool(datamodel.CLASSES[method.cls].root_writes
                                    and _WRITE.search(name))


def model_json(handler, conn, request, peer, query):
    """GET /ui/model.json: ``model()`` as JSON."""
    body = json.dumps(model(handler.server.app), sort_keys=True).encode("utf-8")
    _send_cached(conn, request, body, "application/json")
    return True


def to_page(handler, conn, request, peer, query):
    """GET /ui: the page is at /ui/ (its files are named relative to it)."""
    _send(conn, request, 302, b"", "text/plain", b"Location: /ui/\r\n")
    return True


def root(handler, conn, request, peer, query):
    """GET /: a browser (Accept: text/html) is sent to the page; anything else is not
    found, as before the page existed (POST / is XML-RPC)."""
    if "text/html" in (request.header("accept") or ""):
        return to_page(handler, conn, request, peer, query)
    conn.send(404, b"not found\n", "text/plain", not request.keep_alive)
    return True


# (method, path) -> route: the page's part of routes.ROUTES.
ROUTES = {
    ("GET", "/"): root,
    ("GET", "/ui"): to_page,
    ("GET", "/ui/"): route("index.html"),
    ("GET", "/ui/model.json"): model_json,
    **{("GET", "/ui/" + name): route(name) for name in FILES},
}
