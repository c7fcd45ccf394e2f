"""The VM page (#/vm/<ref>) in a real browser against the real daemon: its record,
devices and consoles, edits in place, lifecycle buttons enabled by the lifecycle table
with their reasons when disabled, operations run as tasks whose outcome shows, and
another client's changes followed without a reload (docs/ui.md, "The VM page")."""

import harness
from browsertools import by_test, log_in, screenshot
from playwright.sync_api import expect
from vmpage import documented, open_vm, task_line

from xen.xend.api import lifecycle


def test_the_page_shows_the_record_disks_nics_and_edits_in_place(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    vm = harness.new_vm(api, name_description="a described VM")
    vdi = harness.new_vdi(api)
    harness.new_vbd(api, vm, vdi, device="xvdb")
    vif = harness.new_vif(api, vm, harness.new_network(api))
    log_in(page)
    open_vm(page, vm)
    expect(page.locator(by_test("vm-name"))).to_have_text(api.VM.get_name_label(vm))
    expect(page.locator(by_test("vm-description"))).to_have_text("a described VM")
    expect(page.locator(by_test("vm-power"))).to_have_text("Halted")
    expect(page.locator(by_test("vm-field-uuid"))).to_have_text(api.VM.get_uuid(vm))
    disk = page.locator(by_test("vm-disk"))
    expect(disk.locator(by_test("vm-disk-device"))).to_have_text("xvdb")
    expect(disk.locator(by_test("vm-disk-vdi"))).to_have_text(api.VDI.get_name_label(vdi))
    expect(disk.locator(by_test("vm-disk-mode"))).to_have_text("RW")
    expect(disk.locator(by_test("vm-disk-size"))).to_have_text("16 MiB")
    expect(page.locator(by_test("vm-nic-mac"))).to_have_text(api.VIF.get_MAC(vif))
    screenshot(page, "vm-page")

    # The name, edited in place, is the VM's; another client's description shows.
    page.click(by_test("vm-name"))
    renamed = harness.unique("edited")
    page.fill(by_test("vm-name-input"), renamed)
    page.press(by_test("vm-name-input"), "Enter")
    harness.wait_until(lambda: api.VM.get_name_label(vm) == renamed, harness.STATE_WAIT,
                       "the name typed in the page")
    api.VM.set_name_description(vm, "described elsewhere")
    expect(page.locator(by_test("vm-description"))).to_have_text("described elsewhere")
    # A NIC another client adds appears.
    harness.new_vif(api, vm, harness.new_network(api), device="eth1")
    expect(page.locator(by_test("vm-nic"))).to_have_count(2)
    assert tab.errors == []


def test_buttons_follow_the_lifecycle_table_and_say_why_they_are_disabled(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    vm = harness.new_vm(api)
    log_in(page)
    open_vm(page, vm)
    page.evaluate("window.notReloaded = true")
    ops = page.locator(by_test("vm-actions") + " button")
    expect(page.locator(by_test("vm-op-start"))).to_be_enabled()

    def check(state):
        expect(page.locator(by_test("vm-power"))).to_have_text(state)
        for op in ops.evaluate_all("buttons => buttons.map(b => b.dataset.op)"):
            button = page.locator(by_test("vm-op-" + op))
            states = [s for (s, o) in lifecycle.TABLE if o == op]
            if state in states:
                expect(button).to_be_enabled()
            else:
                expect(button).to_be_disabled()
                expect(button).to_have_attribute(
                    "title", "allowed only when " + " or ".join(states))

    check("Halted")
    page.click(by_test("vm-op-start"))
    expect(task_line(page, "Start").locator(by_test("vm-task-status"))).to_have_text("success")
    check("Running")
    # The guest's console is offered once it runs, as a link to the console view.
    expect(page.locator(by_test("vm-console-link")).first).to_have_attribute(
        "href", "#/console/" + vm)
    api.VM.pause(vm)                  # another client
    check("Paused")
    screenshot(page, "vm-page-paused")
    api.VM.unpause(vm)
    check("Running")
    page.click(by_test("vm-op-hard_shutdown"))
    check("Halted")
    assert api.VM.get_power_state(vm) == "Halted"
    assert page.evaluate("window.notReloaded") is True


def test_a_start_the_backend_refuses_shows_its_code_and_sentence(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    # A kernel that is not there: the sim backend refuses it as QEMU would.
    vm = harness.new_vm(api, boot_method="kernel_external", kernel_kernel="/nonexistent/vmlinuz")
    log_in(page)
    open_vm(page, vm)
    page.click(by_test("vm-op-start"))
    line = task_line(page, "Start")
    expect(line.locator(by_test("vm-task-status"))).to_have_text("failure")
    error_info = api.task.get_error_info(line.get_attribute("data-ref"))
    expect(line.locator(by_test("error-code"))).to_have_text(error_info[0])
    expect(line.locator(by_test("error-sentence"))).to_have_text(documented(error_info))
    expect(line.locator(by_test("vm-task-cancel"))).to_have_count(0)
    expect(page.locator(by_test("vm-power"))).to_have_text("Halted")
