"""The web console's shell in a real browser against the real daemon: login, the host
view, the VM list following changes another client makes, and the page's confinement
to its own origin under its Content-Security-Policy (docs/ui.md)."""

import re

import harness
from browsertools import ROOT_PASSWORD, by_test, log_in, screenshot
from playwright.sync_api import expect

from xen.xend.api import errortable


def test_a_wrong_password_shows_the_error_code_and_its_sentence(tab):
    page = tab.page
    page.goto("/ui/")
    page.fill(by_test("login-password"), "not-" + ROOT_PASSWORD)
    page.click(by_test("login-submit"))
    expect(page.locator(by_test("error-code"))).to_have_text("SESSION_AUTHENTICATION_FAILED")
    sentence = errortable.ERRORS["SESSION_AUTHENTICATION_FAILED"].sentence
    expect(page.locator(by_test("error-sentence"))).to_have_text(
        sentence.format(user="root", msg="Authentication failure"))
    expect(page.locator(by_test("whoami"))).to_have_count(0)


def test_login_shows_the_host_and_the_vms(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    log_in(page)
    host = api.host.get_all()[0]
    expect(page.locator(by_test("host-name"))).to_have_text(api.host.get_name_label(host))
    expect(page.locator(by_test("host-view"))).to_be_visible()
    expect(page.locator(by_test("cpu"))).to_have_count(len(api.host_cpu.get_all()))
    expect(page.locator(by_test("memory-total"))).to_contain_text("iB")
    expect(page.locator(by_test("software-version"))).to_contain_text(
        api.host.get_software_version(host)["xend"])
    expect(page.locator(by_test("host-enabled"))).to_have_text("Enabled")
    expect(page.locator(by_test("host-disable"))).to_be_visible()     # root may
    expect(page.locator(by_test("nav-users"))).to_be_visible()        # root's section
    screenshot(page, "host")

    page.click(by_test("nav-vms"))
    names = sorted(api.VM.get_name_label(vm) for vm in api.VM.get_all()
                   if not api.VM.get_is_a_template(vm))
    expect(page.locator(by_test("vm-name"))).to_have_count(len(names))
    assert sorted(page.locator(by_test("vm-name")).all_inner_texts()) == names
    # A row leads to the VM's own page.
    page.click(by_test("vm-name"))
    expect(page).to_have_url(re.compile(r"#/vm/"))
    assert ROOT_PASSWORD not in ui_daemon.log_text()


def test_the_vm_list_follows_another_clients_changes_without_reload(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    log_in(page)
    page.click(by_test("nav-vms"))
    expect(page.locator(by_test("vm-row")).first).to_be_visible()
    page.evaluate("window.notReloaded = true")

    vm = harness.new_vm(api, name_label=harness.unique("web"))
    row = page.locator('[data-test="vm-row"][data-ref="%s"]' % vm)
    expect(row.locator(by_test("vm-power"))).to_have_text("Halted")
    renamed = harness.unique("renamed")
    api.VM.set_name_label(vm, renamed)
    expect(row.locator(by_test("vm-name"))).to_have_text(renamed)
    api.VM.start(vm, False)
    expect(row.locator(by_test("vm-power"))).to_have_text("Running")
    screenshot(page, "vms-running")
    api.VM.hard_shutdown(vm)
    expect(row.locator(by_test("vm-power"))).to_have_text("Halted")
    api.VM.destroy(vm)
    expect(row).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True


def test_the_page_stays_on_its_origin_under_its_csp(tab, ui_daemon):
    page = tab.page
    log_in(page)
    for entry in ("vms", "storage", "networks", "users", "host"):
        page.click(by_test("nav-" + entry))
        expect(page.locator(by_test("nav-" + entry))).to_have_class("active")
    expect(page.locator(by_test("cpu")).first).to_be_visible()
    assert tab.requests and all(url.startswith(ui_daemon.url) for url in tab.requests), \
        tab.requests
    assert tab.console == [] and tab.errors == []
    # The policy is in force and its refusals reach the console that was checked above:
    # a script written into the page is refused.
    page.evaluate("document.body.append(Object.assign(document.createElement('script'),"
                  " {textContent: 'window.injected = true'}))")
    harness.wait_until(lambda: tab.console, harness.STATE_WAIT, "the CSP's refusal")
    assert "Content Security Policy" in tab.console[0][1]
    assert page.evaluate("window.injected") is None


def test_tasks_appear_live_and_root_cancels_one(tab, ui_daemon):
    page = tab.page
    log_in(page)
    expect(page.locator(by_test("host-view"))).to_be_visible()
    later = ui_daemon.sdk_unix(version="1.0").xenapi   # task.create is the later API's
    task = later.task.create(harness.unique("job"), "made by another client")
    row = page.locator('[data-test="task-row"][data-ref="%s"]' % task)
    expect(row.locator(by_test("task-status"))).to_have_text("pending")
    row.locator(by_test("task-cancel")).click()
    expect(row.locator(by_test("task-status"))).to_have_text("cancelled")
    assert later.task.get_status(task) == "cancelled"
    expect(row.locator(by_test("task-cancel"))).to_have_count(0)


def test_a_user_who_is_not_root_sees_no_root_controls_and_logs_out(tab, ui_daemon):
    page = tab.page
    _, name, password = harness.make_user(ui_daemon.api)
    log_in(page, name, password)
    expect(page.locator(by_test("host-enabled"))).to_have_text("Enabled")
    expect(page.locator(by_test("host-disable"))).to_have_count(0)
    expect(page.locator(by_test("nav-users"))).to_have_count(0)
    page.click(by_test("logout"))
    expect(page.locator(by_test("login-password"))).to_be_visible()
    expect(page.locator(by_test("whoami"))).to_have_count(0)


def test_moving_between_views_leaves_no_request_waiting(tab, ui_daemon):
    """Each view subscribes to events anew; the long event.from of the view left must
    end with it, or a browser's few connections to one origin fill with requests that
    wait for events and the page stops answering."""
    page, api = tab.page, ui_daemon.api
    log_in(page)
    for _ in range(8):
        page.click(by_test("nav-host"))
        expect(page.locator(by_test("host-view"))).to_be_visible()
        page.click(by_test("nav-vms"))
        expect(page.locator(by_test("vm-row")).first).to_be_visible()
    vm = harness.new_vm(api, name_label=harness.unique("after"))
    expect(page.locator('[data-test="vm-row"][data-ref="%s"]' % vm)).to_have_count(1)
    api.VM.destroy(vm)


def test_names_are_shown_as_text_never_as_markup(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    name = '<img src=x onerror="window.pwned=1"><b>%s</b>' % harness.unique("x")
    vm = harness.new_vm(api, name_label=name, name_description="<script>1</script>")
    log_in(page)
    page.click(by_test("nav-vms"))
    row = page.locator('[data-test="vm-row"][data-ref="%s"]' % vm)
    expect(row.locator(by_test("vm-name"))).to_have_text(name)
    expect(row.locator("img")).to_have_count(0)
    row.locator(by_test("vm-name")).click()
    expect(page.locator("h1, h2").filter(has_text=name).first).to_be_visible()
    assert page.locator("img, script:not([src])").count() == 0
    assert page.evaluate("window.pwned") is None
    assert tab.console == [] and tab.errors == []
    api.VM.destroy(vm)
