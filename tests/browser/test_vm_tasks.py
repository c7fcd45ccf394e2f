"""A VM operation's task on the VM page while it runs: its progress bar moves as
task.progress events come, and its Cancel button cancels it (task.cancel). The sim
backend is slowed (sim_op_seconds: ten steps, each reporting progress and offering a
safe point to cancel at), so the task is still pending while the page acts on it."""

import harness
import pytest
from browsertools import by_test, log_in, page_daemon, screenshot
from playwright.sync_api import expect
from vmpage import open_vm, task_line


@pytest.fixture(scope="module")
def ui_daemon():
    """The module's daemon: each operation takes long enough that a start is never
    done before the page has cancelled it."""
    with page_daemon(extra_config="sim_op_seconds = 30\n") as d:
        yield d


def test_a_pending_start_shows_progress_and_is_cancelled_from_the_page(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    vm = harness.new_vm(api)
    log_in(page)
    open_vm(page, vm)
    page.click(by_test("vm-op-start"))
    line = task_line(page, "Start")
    expect(line.locator(by_test("vm-task-status"))).to_have_text("pending")
    # The first step's progress arrives through events.
    expect(line.locator(by_test("vm-task-progress"))).not_to_have_attribute("value", "0")
    screenshot(page, "vm-task-pending")
    line.locator(by_test("vm-task-cancel")).click()
    expect(line.locator(by_test("vm-task-status"))).to_have_text("cancelled")
    expect(line.locator(by_test("vm-task-cancel"))).to_have_count(0)
    assert api.task.get_record(line.get_attribute("data-ref"))["status"] == "cancelled"
    assert api.VM.get_power_state(vm) == "Halted"
    expect(page.locator(by_test("vm-power"))).to_have_text("Halted")
