"""The VM page's operations that take arguments, each through its dialog in a real
browser against the sim daemon, checked through the SDK: save to a file and restore
from it, a SysRq key and a trigger reaching the backend, vCPUs, scheduling and memory
changed live, a halted VM's settings, and bad values shown as the API's code and
sentence (docs/ui.md, "The VM page")."""

import harness
from browsertools import by_test, log_in, screenshot
from playwright.sync_api import expect
from vmpage import documented, open_vm, task_line

from xen.xend.api.handlers import vmdebug


def dialog_of(page, op):
    """Open op's dialog from the VM page's buttons; the dialog."""
    page.click(by_test("vm-op-" + op) if op != "settings" else by_test("vm-settings"))
    dialog = page.locator(by_test(op + "-dialog"))
    expect(dialog).to_be_visible()
    return dialog


def confirm(dialog, op):
    """Confirm the dialog and wait until it has closed (its calls succeeded)."""
    dialog.locator(by_test(op + "-dialog-confirm")).click()
    expect(dialog).to_have_count(0)


def test_save_to_a_file_then_restore_it_as_root(tab, ui_daemon, tmp_path):
    page, api = tab.page, ui_daemon.api
    vm = harness.vm_in(api, "Running")
    saved = str(tmp_path / "saved.xsave")
    log_in(page)
    open_vm(page, vm)
    expect(page.locator(by_test("vm-op-restore"))).to_be_disabled()
    dialog = dialog_of(page, "save")
    dialog.locator(by_test("save-file")).fill(saved)
    screenshot(page, "vm-save-dialog")
    confirm(dialog, "save")
    expect(task_line(page, "Save to " + saved).locator(by_test("vm-task-status"))
           ).to_have_text("success")
    expect(page.locator(by_test("vm-power"))).to_have_text("Halted")
    assert api.VM.get_power_state(vm) == "Halted"
    assert (tmp_path / "saved.xsave").stat().st_size > 0

    dialog = dialog_of(page, "restore")
    dialog.locator(by_test("restore-file")).fill(saved)
    dialog.locator(by_test("restore-paused")).check()
    confirm(dialog, "restore")
    expect(page.locator(by_test("vm-power"))).to_have_text("Paused")
    assert api.VM.get_power_state(vm) == "Paused"
    api.VM.hard_shutdown(vm)


def test_a_user_who_is_not_root_is_offered_no_save_restore_or_dump(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    vm = harness.vm_in(api, "Running")
    _, name, password = harness.make_user(api)
    log_in(page, name, password)
    open_vm(page, vm)
    expect(page.locator(by_test("vm-op-send_sysrq"))).to_be_enabled()
    for op in ("save", "restore", "dump_core"):
        expect(page.locator(by_test("vm-op-" + op))).to_have_count(0)
    api.VM.hard_shutdown(vm)


def test_sysrq_and_trigger_reach_the_backend_and_a_bad_key_shows_its_sentence(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    vm = harness.vm_in(api, "Running")
    uuid, host = api.VM.get_uuid(vm), api.host.get_all()[0]
    log_in(page)
    open_vm(page, vm)
    dialog = dialog_of(page, "send_sysrq")
    dialog.locator(by_test("sysrq-key")).fill("!")
    dialog.locator(by_test("send_sysrq-dialog-confirm")).click()
    expect(dialog.locator(by_test("error-code"))).to_have_text("INVALID_VALUE")
    expect(dialog.locator(by_test("error-sentence"))).to_have_text(documented(
        ["INVALID_VALUE", "key", "! (must be one of %s)" % vmdebug.SYSRQ_KEYS]))
    dialog.locator(by_test("sysrq-key")).fill("s")
    confirm(dialog, "send_sysrq")
    expect(task_line(page, "SysRq s").locator(by_test("vm-task-status"))).to_have_text("success")
    assert "%s: sysrq s" % uuid in api.host.dmesg(host)

    dialog = dialog_of(page, "send_trigger")
    # The triggers offered are the API's, in its order.
    assert dialog.locator(by_test("trigger-name") + " option").all_inner_texts() == list(
        vmdebug.TRIGGERS)
    dialog.locator(by_test("trigger-name")).select_option("nmi")
    confirm(dialog, "send_trigger")
    expect(task_line(page, "Trigger nmi").locator(by_test("vm-task-status"))
           ).to_have_text("success")
    assert "%s: trigger nmi vcpu 0" % uuid in api.host.dmesg(host)
    api.VM.hard_shutdown(vm)


def test_vcpus_scheduling_and_memory_change_live(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    vm = harness.vm_in(api, "Running", lambda: harness.new_vm(
        api, VCPUs_max=4, VCPUs_at_startup=1, **harness.memory(512 * harness.MIB)))
    log_in(page)
    open_vm(page, vm)
    dialog = dialog_of(page, "set_VCPUs_number_live")
    dialog.locator(by_test("vcpus-live")).fill("3")
    confirm(dialog, "set_VCPUs_number_live")
    expect(page.locator(by_test("vm-VCPUs_number"))).to_have_text("3")
    assert int(api.VM.get_VCPUs_number(vm)) == 3

    dialog = dialog_of(page, "add_to_VCPUs_params_live")
    dialog.locator(by_test("vcpu-weight")).fill("512")
    dialog.locator(by_test("vcpu-cap")).fill("50")
    confirm(dialog, "add_to_VCPUs_params_live")
    params = api.VM.get_VCPUs_params(vm)
    assert "weight=512" in params and "cap=50" in params

    # A figure that is no integer is the API's to refuse, as FIELD_TYPE_ERROR.
    dialog = dialog_of(page, "set_memory_static_max")
    dialog.locator(by_test("memory-dynamic_max")).fill("lots")
    dialog.locator(by_test("set_memory_static_max-dialog-confirm")).click()
    expect(dialog.locator(by_test("error-code"))).to_have_text("FIELD_TYPE_ERROR")
    expect(dialog.locator(by_test("error-sentence"))).to_have_text(
        documented(["FIELD_TYPE_ERROR", "max"]))
    # The dynamic range moves live; both bounds lower than the minimum was.
    dialog.locator(by_test("memory-dynamic_max")).fill("256")
    dialog.locator(by_test("memory-dynamic_min")).fill("128")
    screenshot(page, "vm-memory-dialog")
    confirm(dialog, "set_memory_static_max")
    record = api.VM.get_record(vm)
    assert (int(record["memory_dynamic_max"]), int(record["memory_dynamic_min"]),
            int(record["memory_static_max"])) == (256 * harness.MIB, 128 * harness.MIB,
                                                  512 * harness.MIB)
    expect(page.locator(by_test("vm-memory_dynamic_max"))).to_have_text("256 MiB")
    api.VM.hard_shutdown(vm)


def test_a_halted_vms_settings_and_memory(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    vm = harness.new_vm(api, VCPUs_max=1, VCPUs_at_startup=1, **harness.memory(256 * harness.MIB))
    log_in(page)
    open_vm(page, vm)
    for op in ("set_VCPUs_number_live", "send_sysrq", "dump_core"):
        expect(page.locator(by_test("vm-op-" + op))).to_be_disabled()
    dialog = dialog_of(page, "settings")
    # The choices are the datamodel's enumerations.
    assert dialog.locator(by_test("settings-actions_after_crash") + " option"
                          ).all_inner_texts()[:2] == ["destroy", "coredump_and_destroy"]
    dialog.locator(by_test("settings-vcpus-max")).fill("4")
    dialog.locator(by_test("settings-vcpus-at-startup")).fill("2")
    dialog.locator(by_test("settings-auto-power-on")).check()
    dialog.locator(by_test("settings-actions_after_crash")).select_option("preserve")
    screenshot(page, "vm-settings-dialog")
    confirm(dialog, "settings")
    record = api.VM.get_record(vm)
    assert (int(record["VCPUs_max"]), int(record["VCPUs_at_startup"])) == (4, 2)
    assert record["actions_after_crash"] == "preserve"
    assert record["other_config"].get("auto_poweron") == "true"
    expect(page.locator(by_test("vm-VCPUs_max"))).to_have_text("4")

    # Memory of a halted VM: all three bounds up, through the setters in order.
    dialog = dialog_of(page, "set_memory_static_max")
    for key, mib in (("static_max", "1024"), ("dynamic_max", "768"), ("dynamic_min", "512")):
        dialog.locator(by_test("memory-" + key)).fill(mib)
    confirm(dialog, "set_memory_static_max")
    record = api.VM.get_record(vm)
    assert [int(record["memory_" + k]) // harness.MIB for k in (
        "static_max", "dynamic_max", "dynamic_min")] == [1024, 768, 512]
    # A minimum above the maximum is refused with the API's sentence.
    dialog = dialog_of(page, "set_memory_static_max")
    dialog.locator(by_test("memory-dynamic_min")).fill("2048")
    dialog.locator(by_test("set_memory_static_max-dialog-confirm")).click()
    expect(dialog.locator(by_test("error-code"))).to_have_text("INVALID_VALUE")
    expect(dialog.locator(by_test("error-sentence"))).to_contain_text("memory_dynamic_min")
