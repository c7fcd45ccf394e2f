"""What the browser tests share: the headless Chromium they drive (Debian's, through
Playwright's ``executable_path``; never a browser Playwright downloads), a page that
records its console and its requests, logging in, and screenshots."""

import contextlib
import dataclasses
import os
from urllib.parse import parse_qs, urlsplit

from harness import ROOT, STATE_WAIT, serving, skip_without_qemu, wait_until
from playwright.sync_api import expect

CHROMIUM = "/usr/bin/chromium"
# Headless as root: no sandbox (Chromium refuses root with one), no GPU, and none of the
# browser's own traffic, so that every request a test sees is the page's.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = os.path.join(ROOT, "build", "test-artifacts", "browser")
ROOT_PASSWORD = "browser-root-password"
# How long an expectation on the page may take to come true (a bound, not a timing).
expect.set_options(timeout=STATE_WAIT * 1000)


# A JavaScript function giving a canvas's pixels (RGBA bytes), read from a copy made for
# reading: reading a page's own canvas again and again makes Chromium warn on the
# console, which the tests keep empty.
CANVAS_PIXELS = """(canvas) => {
  const copy = document.createElement("canvas");
  copy.width = canvas.width;
  copy.height = canvas.height;
  const context = copy.getContext("2d", { willReadFrequently: true });
  context.drawImage(canvas, 0, 0);
  return context.getImageData(0, 0, canvas.width, canvas.height).data;
}"""


@dataclasses.dataclass
class Tab:
    """A page of its own browser context, with what it printed to its console, the
    URLs it requested and the WebSockets it opened since it opened."""
    page: object
    # (type, text) of what the page printed, but Chromium's own advice at the verbose
    # level (e.g. that an input could carry an autocomplete attribute), which comes and
    # goes with the browser's heuristics and says nothing of the page's behaviour.
    console: list = dataclasses.field(default_factory=list)
    requests: list = dataclasses.field(default_factory=list)  # URLs
    errors: list = dataclasses.field(default_factory=list)    # uncaught exceptions
    websockets: list = dataclasses.field(default_factory=list)  # URLs

    def watch(self):
        self.page.on("console", lambda m: m.type == "verbose" or
                     self.console.append((m.type, m.text)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("websocket", lambda ws: self.websockets.append(ws.url))
        return self


def open_tab(browser, daemon):
    """A Tab in a fresh context (no state shared with other tests) at 1280x800, whose
    relative URLs are the daemon's."""
    context = browser.new_context(viewport={"width": 1280, "height": 800},
                                  base_url=daemon.url)
    return Tab(context.new_page()).watch()


@contextlib.contextmanager
def page_daemon(**kwargs):
    """``with page_daemon(**kwargs) as d``: a daemon of ``harness.serving(**kwargs)``
    (root logged in over the Unix socket as ``.api``) whose root has a password, as a
    browser over TCP needs."""
    with serving(**kwargs) as d:
        d.api.user.set_password(d.api.user.get_by_short_name("root")[0], ROOT_PASSWORD)
        yield d


@contextlib.contextmanager
def qemu_page_daemon():
    """``with qemu_page_daemon() as d``: a page_daemon on the QEMU backend, which stops
    the guests left at its end within 5 s; the test is skipped where QEMU is absent."""
    skip_without_qemu()
    with page_daemon(backend="qemu", extra_config="shutdown_timeout = 5\n") as d:
        yield d


def by_test(name):
    return '[data-test="%s"]' % name


def log_in(page, user="root", password=ROOT_PASSWORD):
    """Open the page, log in, and wait for the logged-in shell."""
    page.goto("/ui/")
    page.fill(by_test("login-user"), user)
    page.fill(by_test("login-password"), password)
    page.click(by_test("login-submit"))
    expect(page.locator(by_test("whoami"))).to_have_text(user)


def screenshot(page, name):
    """Save what the page shows as build/test-artifacts/browser/<name>.png."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, name + ".png"), full_page=True)


def go(page, route):
    """Move the logged-in page to ``route`` (e.g. "#/vms") without a reload, which would
    log it out (the session lives in the page's memory only)."""
    page.evaluate("route => { location.hash = route; }", route)


def terminal_rows(page):
    """The rows the console's terminal shows (xterm.js's rendered rows), as text."""
    return [row.rstrip() for row in
            page.locator('[data-test="console-screen"] .xterm-rows > div').all_inner_texts()]


def wait_for_row(page, predicate, what, timeout=STATE_WAIT):
    """Wait until a row of the console's terminal satisfies ``predicate``."""
    wait_until(lambda: any(predicate(row) for row in terminal_rows(page)), timeout, what)


def open_console(page, vm, protocol="vt100"):
    """Move the logged-in page to VM ``vm``'s console of ``protocol``, connected."""
    go(page, "#/console/" + vm)
    page.click('[data-test="console-tab"][data-protocol="%s"]' % protocol)
    expect(page.locator(by_test("console-status"))).to_have_text("Connected.")


def type_line(page, line):
    """Type ``line`` and Enter into the console's screen."""
    page.locator(by_test("console-screen")).click()
    page.keyboard.type(line)
    page.keyboard.press("Enter")


def console_session(tab):
    """The session_id in the URL of the console WebSockets the page opened."""
    return [parse_qs(urlsplit(url).query)["session_id"][0] for url in tab.websockets]
