"""Fixtures of the browser tests: one sim daemon per module listening on TCP with
root's password set, one headless Chromium per module, and a fresh tab per test whose
last page is kept as a screenshot (build/test-artifacts/browser/)."""

import os

import pytest
from browsertools import CHROMIUM, FLAGS, open_tab, page_daemon, screenshot
from playwright.sync_api import sync_playwright


@pytest.fixture(scope="module")
def ui_daemon():
    """A sim daemon (root logged in over the Unix socket as ``.api``) whose root has a
    password, as a browser over TCP needs."""
    with page_daemon() as d:
        yield d


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("%s is not installed (Debian's chromium)" % CHROMIUM)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def tab(browser, ui_daemon, request):
    t = open_tab(browser, ui_daemon)
    yield t
    screenshot(t.page, request.node.name)
    t.page.context.close()
