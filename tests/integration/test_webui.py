"""The web console's files as the daemon serves them (transport/webui.py): the built
page under /ui/ with its security headers and caching, model.json derived from the
datamodel, nothing outside the fixed set of files, and a clear answer when the page is
not built. The page itself in a browser: tests/browser."""

import json

import pytest
import XenAPI
from harness import make_user

from xen.xend.api import datamodel, errortable, lifecycle
from xen.xend.api.handlers import vmdebug
from xen.xend.transport import webui

PAGE_FILES = ["/ui/", "/ui/index.html", "/ui/main.js", "/ui/main.css", "/ui/main.js.map",
              "/ui/model.json"]


def security_headers(headers):
    return {name: headers.get(name) for name in
            ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy")}


EXPECTED_SECURITY = {"Content-Security-Policy": webui.CSP, "X-Content-Type-Options": "nosniff",
                     "Referrer-Policy": "no-referrer"}


@pytest.mark.parametrize("path", PAGE_FILES)
def test_page_files_carry_type_security_headers_and_etag(daemon, path):
    status, headers, body = daemon.http_request("GET", path)
    assert status == 200, body
    assert security_headers(headers) == EXPECTED_SECURITY
    # Inline code never runs; inline styles only where the terminal makes them.
    directives = dict(d.strip().split(" ", 1) for d in
                      headers["Content-Security-Policy"].split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert [name for name, sources in directives.items() if "'unsafe-inline'" in sources] \
        == ["style-src-elem", "style-src-attr"]
    name = path.rsplit("/", 1)[1] or "index.html"
    assert headers["Content-Type"] == (webui.FILES.get(name) or "application/json")
    assert headers["Cache-Control"] == "no-cache"
    # The ETag names this version: asked again with it, the answer is 304 and empty.
    status, again, body = daemon.http_request("GET", path,
                                              {"If-None-Match": headers["ETag"]})
    assert (status, body, again["ETag"]) == (304, b"", headers["ETag"])
    status, _, body = daemon.http_request("GET", path, {"If-None-Match": '"other"'})
    assert status == 200 and body


def test_index_loads_only_its_own_bundle(daemon):
    _, _, body = daemon.http_request("GET", "/ui/")
    page = body.decode()
    assert 'src="main.js"' in page and 'href="main.css"' in page
    assert "<script>" not in page and "style=" not in page   # nothing inline: the CSP


def test_browsers_are_sent_from_root_to_the_page(daemon):
    status, headers, _ = daemon.http_request("GET", "/", {"Accept": "text/html,*/*"})
    assert (status, headers["Location"]) == (302, "/ui/")
    status, headers, _ = daemon.http_request("GET", "/ui")
    assert (status, headers["Location"]) == (302, "/ui/")
    # Not a browser: GET / is nothing, as before; POST / stays XML-RPC (the other tests).
    assert daemon.http_request("GET", "/", {"Accept": "text/xml"})[0] == 404


def test_model_json_is_the_datamodel(daemon, root):
    _, _, body = daemon.http_request("GET", "/ui/model.json")
    model = json.loads(body)
    rows = {(r["state"], r["op"]): (r["transient"], r["final"]) for r in model["lifecycle"]}
    assert rows == {k: (t.transient, t.final) for k, t in lifecycle.TABLE.items()}
    assert model["template_ops"] == sorted(lifecycle.TEMPLATE_OPS)
    assert model["errors"] == {code: {"params": list(e.params), "sentence": e.sentence}
                               for code, e in errortable.ERRORS.items()}
    assert "SESSION_AUTHENTICATION_FAILED" in model["errors"]
    # The methods the datamodel declares root-only (host.disable), no others.
    assert {"host.disable", "host.enable"} <= set(model["root_only"])
    assert "VM.get_all" not in model["root_only"]
    assert {"VM.save", "VM.restore", "VM.dump_core"} <= set(model["root_only"])
    # Every enumeration with its values in order (the VM page's actions/after_* choices).
    assert model["enums"] == {name: list(e.values) for name, e in datamodel.ENUMS.items()}
    assert model["enums"]["on_crash_behaviour"][:2] == ["destroy", "coredump_and_destroy"]
    # The debugging operations' checked strings, as VM.send_sysrq and send_trigger take.
    assert model["debug"] == {"sysrq_keys": list(vmdebug.SYSRQ_KEYS),
                              "triggers": list(vmdebug.TRIGGERS)}
    assert "nmi" in model["debug"]["triggers"] and "s" in model["debug"]["sysrq_keys"]
    # And the writes of classes whose writes are root's, which others are refused.
    assert {"SR.create", "SR.destroy", "network.create"} <= set(model["root_only"])
    assert not {"SR.get_all", "VDI.create", "VM.create"} & set(model["root_only"])
    _, name, password = make_user(root)
    other = daemon.sdk_tcp(name, password).xenapi
    with pytest.raises(XenAPI.Failure) as refused:
        other.network.create({"name_label": "not root's"})
    assert refused.value.details[0] == "PERMISSION_DENIED"


@pytest.mark.parametrize("path", [
    "/ui/../setup.py", "/ui/../../../etc/passwd", "/ui/%2e%2e/%2e%2e/etc/passwd",
    "/ui/..%2fsetup.py", "/ui/%2E%2E%2F%2E%2E%2Fsetup.py", "/ui//etc/passwd",
    "/ui/./main.js", "/ui/main.js/../../setup.py", "/ui/%6dain.js", "/ui/build.mjs",
    "/ui/static/index.html", "/ui/.stamp", "/ui/main.js%00.html", "/ui/MAIN.JS",
])
def test_only_the_built_files_are_served(daemon, path):
    status, _, body = daemon.http_request("GET", path)
    assert status == 404, (path, body)


def test_a_page_not_built_is_answered_503_saying_how_to_build_it(make_daemon, tmp_path):
    d = make_daemon('webui_dir = "%s"\n' % tmp_path, login=False)
    status, headers, body = d.http_request("GET", "/ui/")
    assert status == 503
    assert "make ui" in body.decode()
    assert security_headers(headers) == EXPECTED_SECURITY
    # model.json is the daemon's, not the build's: it is there all the same.
    assert d.http_request("GET", "/ui/model.json")[0] == 200
