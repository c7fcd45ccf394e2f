"""VM's and task's names of Xen-API 1.0 (docs/api.md, "Two revisions"): each renamed VM
field is the draft's stored value under a second name, written and created through either
name in either revision's session, with the draft field's checks.

Through the SDK over the Unix socket: ``root`` speaks the draft (no version given),
``v10`` logged in with version "1.0".
"""

import pytest
from harness import EVENT_WAIT, FINISHED, failure, make_user, new_sr, new_vm, wait_until

# (1.0 name, draft name, a value) of the renamed fields stored as they are.
IDENTITIES = [
    ("PV_kernel", "kernel_kernel", "/boot/vmlinuz-test"),
    ("PV_ramdisk", "kernel_initrd", "/boot/initrd-test.img"),
    ("PV_args", "kernel_args", "root=/dev/xvda1 ro"),
    ("PV_bootloader_args", "grub_cmdline", "-q"),
]

# The boot method of each pair (HVM_boot_policy, PV_bootloader) a 1.0 client sends.
BOOT_METHODS = {("BIOS order", ""): "bios", ("", ""): "kernel_external",
                ("", "pygrub"): "grub", ("", "/usr/bin/pygrub"): "grub"}

PLATFORM_DEFAULT = {"acpi": "1", "apic": "1", "pae": "1", "stdvga": "0", "localtime": "0",
                    "rtc_timeoffset": "0"}


@pytest.fixture(scope="module")
def v10(daemon, root):
    s = daemon.sdk_unix(version="1.0")
    yield s.xenapi
    s.xenapi.session.logout()


@pytest.fixture(params=["draft", "1.0"])
def either(request, root, v10):
    """Each session in turn: every renamed name works in both revisions."""
    return root if request.param == "draft" else v10


def get(api, vm, wire):
    return getattr(api.VM, "get_" + wire)(vm)


def put(api, vm, wire, value):
    return getattr(api.VM, "set_" + wire)(vm, value)


# -- the fields stored as they are ---------------------------------------------------------

@pytest.mark.parametrize("new, old, value", IDENTITIES)
def test_a_renamed_field_is_the_drafts_value_under_either_name(root, either, new, old, value):
    vm = new_vm(root)
    put(either, vm, new, value)
    assert get(root, vm, old) == value and get(either, vm, new) == value
    put(root, vm, old, value + "2")
    assert get(either, vm, new) == value + "2"


@pytest.mark.parametrize("new, old, value", IDENTITIES)
def test_create_takes_either_name(root, either, new, old, value):
    assert get(root, either.VM.create({"name_label": "c", new: value}), old) == value
    assert get(either, either.VM.create({"name_label": "c", old: value}), new) == value


def test_pv_kernel_is_checked_as_kernel_kernel_is(daemon, root, v10):
    vm = new_vm(root)
    for api in (root, v10):
        assert failure(api.VM.set_PV_kernel, vm, "boot/vmlinuz")[:2] == [
            "INVALID_VALUE", "kernel_kernel"]
        assert failure(api.VM.create, {"name_label": "c", "PV_ramdisk": "/a/../b"})[:2] == [
            "INVALID_VALUE", "kernel_initrd"]
    assert get(root, vm, "kernel_kernel") == ""


def test_a_user_may_point_pv_kernel_only_where_kernel_kernel_may(daemon, root):
    _, name, password = make_user(root)
    user = daemon.sdk_tcp(name, password).xenapi
    vm = new_vm(user)
    assert failure(user.VM.set_PV_kernel, vm, "/etc/passwd")[:2] == [
        "INVALID_VALUE", "kernel_kernel"]
    assert failure(user.VM.set_kernel_kernel, vm, "/etc/passwd")[:2] == [
        "INVALID_VALUE", "kernel_kernel"]


def test_records_hold_the_1_0_names_in_1_0_sessions_only(root, v10):
    vm = new_vm(root, kernel_kernel="/boot/k")
    assert v10.VM.get_record(vm)["PV_kernel"] == "/boot/k"
    assert "PV_kernel" not in root.VM.get_record(vm)


# -- the boot method ----------------------------------------------------------------------------

@pytest.mark.parametrize("policy, loader", list(BOOT_METHODS))
def test_a_1_0_create_boots_by_its_policy_and_boot_loader(root, v10, policy, loader):
    vm = v10.VM.create({"name_label": "c", "HVM_boot_policy": policy,
                        "PV_bootloader": loader, "HVM_boot_params": {}, "PV_kernel": ""})
    assert root.VM.get_boot_method(vm) == BOOT_METHODS[policy, loader]
    assert v10.VM.get_HVM_boot_policy(vm) == policy
    assert v10.VM.get_PV_bootloader(vm) == ("pygrub" if loader else "")


@pytest.mark.parametrize("method, policy, loader", [
    ("bios", "BIOS order", ""), ("grub", "", "pygrub"), ("kernel_external", "", ""),
    ("kernel_internal", "", "")])
def test_each_boot_method_reads_as_a_policy_and_boot_loader(root, either, method, policy,
                                                            loader):
    vm = new_vm(root, boot_method=method)
    assert (get(either, vm, "HVM_boot_policy"), get(either, vm, "PV_bootloader")) == (
        policy, loader)
    put(either, vm, "HVM_boot_policy", "")        # "" for the method it has not: no change
    put(either, vm, "PV_bootloader", "")
    assert root.VM.get_boot_method(vm) == (
        "kernel_external" if method in ("bios", "grub") else method)


def test_boot_policies_and_loaders_the_daemon_has_not_are_refused(root, either):
    vm = new_vm(root)
    assert failure(either.VM.set_HVM_boot_policy, vm, "PXE")[:3] == [
        "VALUE_NOT_SUPPORTED", "HVM_boot_policy", "PXE"]
    assert failure(either.VM.set_PV_bootloader, vm, "lilo")[:3] == [
        "VALUE_NOT_SUPPORTED", "PV_bootloader", "lilo"]
    assert root.VM.get_boot_method(vm) == "bios"


def test_boot_params_order_is_bios_boot(root, either):
    vm = new_vm(root)
    assert get(either, vm, "HVM_boot_params") == {"order": "c"}
    put(either, vm, "HVM_boot_params", {"order": "dc"})
    assert root.VM.get_bios_boot(vm) == "CDROM"
    either.VM.add_to_HVM_boot_params(vm, "order", "a")
    assert root.VM.get_bios_boot(vm) == "floppy"
    either.VM.remove_from_HVM_boot_params(vm, "order")
    assert root.VM.get_bios_boot(vm) == "HD"
    assert failure(either.VM.set_HVM_boot_params, vm, {"order": "n"})[:3] == [
        "VALUE_NOT_SUPPORTED", "HVM_boot_params", "order=n"]
    assert failure(either.VM.add_to_HVM_boot_params, vm, "menu", "on")[:2] == [
        "INVALID_VALUE", "HVM_boot_params"]


# -- platform --------------------------------------------------------------------------------

def test_platform_is_the_platform_fields_keyed_as_xend_keyed_them(root, either):
    vm = new_vm(root)
    assert get(either, vm, "platform") == PLATFORM_DEFAULT
    put(either, vm, "platform", dict(PLATFORM_DEFAULT, stdvga="1", localtime="1",
                                     serial="pty", vnc="0"))
    assert [get(root, vm, f) for f in ("platform_std_VGA", "platform_localtime",
                                       "platform_serial", "platform_display")] == [
        True, True, "pty", "none"]
    root.VM.set_platform_display(vm, "vnc")
    assert get(either, vm, "platform")["vnc"] == "1"
    either.VM.remove_from_platform(vm, "vnc")      # a key left out: its default
    assert root.VM.get_platform_display(vm) == "auto"
    either.VM.add_to_platform(vm, "localtime", "0")
    assert root.VM.get_platform_localtime(vm) is False


def test_the_platform_xm_3_1_sends_is_taken(root, v10):
    vm = v10.VM.create({"name_label": "c", "platform": {"acpi": "1", "apic": "1",
                                                        "pae": "1"}})
    assert v10.VM.get_platform(vm) == PLATFORM_DEFAULT


@pytest.mark.parametrize("key, value, code", [
    ("usb", "1", "INVALID_VALUE"), ("acpi", "0", "VALUE_NOT_SUPPORTED"),
    ("sdl", "1", "VALUE_NOT_SUPPORTED"), ("soundhw", "sb16", "VALUE_NOT_SUPPORTED"),
    ("stdvga", "yes", "INVALID_VALUE"), ("rtc_timeoffset", "soon", "INVALID_VALUE")])
def test_platform_keys_and_values_no_guest_has_are_refused_whole(root, either, key, value,
                                                                 code):
    vm = new_vm(root)
    bad = dict(PLATFORM_DEFAULT, serial="pty", **{key: value})
    assert failure(either.VM.set_platform, vm, bad)[:2] == [code, "platform"]
    assert root.VM.get_platform_serial(vm) == ""       # nothing of it was applied
    assert failure(either.VM.create, {"name_label": "c", "platform": bad})[:2] == [
        code, "platform"]


# -- auto_power_on ---------------------------------------------------------------------------

def test_auto_power_on_is_other_configs_auto_poweron(root, either):
    vm = new_vm(root, other_config={"owner": "me"})
    assert get(either, vm, "auto_power_on") is False
    put(either, vm, "auto_power_on", True)
    assert root.VM.get_other_config(vm) == {"owner": "me", "auto_poweron": "true"}
    root.VM.remove_from_other_config(vm, "auto_poweron")
    assert get(either, vm, "auto_power_on") is False
    made = either.VM.create({"name_label": "c", "auto_power_on": True})
    assert root.VM.get_other_config(made) == {"auto_poweron": "true"}


# -- SR.type ----------------------------------------------------------------------------------

def test_a_dir_sr_is_local_in_1_0_as_xend_3_1_named_its_file_sr(root, v10):
    made = v10.SR.create({"name_label": "local one", "type": "local"})
    assert root.SR.get_type(made) == "dir"
    assert v10.SR.get_type(made) == "local"
    # As xm 3.1 finds its default SR: the records of type "local".
    local = [ref for ref, rec in v10.SR.get_all_records().items() if rec["type"] == "local"]
    assert made in local
    assert all(root.SR.get_type(ref) == "dir" for ref in local)
    assert v10.SR.get_type(new_sr(root)) == "local"
    assert "local" in v10.SR.get_supported_types() and "dir" in root.SR.get_supported_types()
    assert "dir" not in v10.SR.get_supported_types()
    assert failure(root.SR.create, {"name_label": "x", "type": "local"})[:3] == [
        "VALUE_NOT_SUPPORTED", "type", "local"]


# -- task's 1.0 fields ------------------------------------------------------------------------

def finished(api, task):
    wait_until(lambda: api.task.get_status(task) in FINISHED, EVENT_WAIT, "the task's end")


def test_a_task_names_its_result_type_and_session(daemon, root):
    session = daemon.sdk_unix(version="1.0")
    api = session.xenapi
    vm = new_vm(api)
    clone = api.Async.VM.clone(vm, "copy")
    assert api.task.get_session(clone) == session._session
    finished(api, clone)
    record = api.task.get_record(clone)
    assert (record["status"], record["type"], record["allowed_operations"]) == (
        "success", "VM ref", [])
    assert api.VM.get_name_label(record["result"]) == "copy"    # the ref itself, as xend
    destroy = api.Async.VM.destroy(vm)
    finished(api, destroy)
    assert (api.task.get_type(destroy), api.task.get_result(destroy)) == ("", "")
    session.xenapi.session.logout()
    assert root.task.get_session(clone) == ""      # its session has ended


def test_a_pending_task_may_be_cancelled_until_it_is(root, v10):
    task = v10.task.create("transfer", "")         # pending until an upload names it
    assert (v10.task.get_allowed_operations(task), v10.task.get_type(task)) == (["Cancel"], "")
    v10.task.cancel(task)
    assert v10.task.get_allowed_operations(task) == []
    assert v10.task.get_status(task) == "cancelled"


def test_a_draft_sessions_task_record_holds_the_drafts_names(root, v10):
    task = root.task.create("t", "")
    assert "session" in v10.task.get_record(task)
    assert not {"session", "type", "allowed_operations"} & set(root.task.get_record(task))
