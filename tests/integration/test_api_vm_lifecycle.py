"""The VM lifecycle through the table (api/lifecycle.py) on the sim backend: every
operation from every reachable state, allowed or refused with VM_BAD_POWER_STATE; and clone."""

import os

import pytest
from harness import (
    LIFECYCLE_OPERATIONS,
    LIFECYCLE_STATES,
    RESIDENT_STATES,
    STATE_WAIT,
    failure,
    make_user,
    new_network,
    new_sr,
    new_vbd,
    new_vdi,
    new_vif,
    new_vm,
    operation_id,
    unique,
    vm_dir,
    vm_in,
    wait_until,
)
from xapi_helpers import random_mac

from xen.xend.api import lifecycle
from xen.xend.api.types import NULL_REF

# conftest's ``api``: the SDK over the Unix socket, and its interface over JSON-RPC.
API_TRANSPORTS = ("unix", "jsonrpc")


@pytest.mark.parametrize("state", LIFECYCLE_STATES)
@pytest.mark.parametrize("call, op, args", LIFECYCLE_OPERATIONS,
                         ids=[operation_id(*o) for o in LIFECYCLE_OPERATIONS])
def test_operation_in_state(api, host, state, call, op, args):
    vm = vm_in(api, state)
    t = lifecycle.transition(state, op)
    fn = getattr(api.VM, call)
    vms_before = len(api.VM.get_all())
    if t is None:
        d = failure(fn, vm, *args)
        assert d == ["VM_BAD_POWER_STATE", vm, ",".join(lifecycle.allowed_states(op)), state]
        assert api.VM.get_power_state(vm) == state          # nothing happened
        assert (api.VM.get_resident_on(vm) == host) == (state in RESIDENT_STATES)
        assert len(api.VM.get_all()) == vms_before
    else:
        result = fn(vm, *args)
        if call == "clone":
            assert api.VM.get_power_state(result) == "Halted"
            assert api.VM.get_name_label(result) == "a clone"
            assert api.VM.get_power_state(vm) == state
            assert len(api.VM.get_all()) == vms_before + 1
        else:
            assert result == ""
            assert api.VM.get_power_state(vm) == t.final
            final = t.final
            assert (api.VM.get_resident_on(vm) == host) == (final in RESIDENT_STATES)
            assert (vm in api.host.get_resident_VMs(host)) == (final in RESIDENT_STATES)
    if api.VM.get_power_state(vm) != "Halted":
        api.VM.hard_shutdown(vm)


def test_the_full_cycle_as_the_spec_draws_it(api, host):
    vm = new_vm(api)
    states = [api.VM.get_power_state(vm)]
    for call, args in [("start", (False,)), ("pause", ()), ("unpause", ()),
                       ("suspend", (True,)), ("resume", (True,)), ("unpause", ()),
                       ("clean_reboot", ()), ("hard_reboot", ()), ("pause", ()),
                       ("hard_reboot", ()), ("clean_shutdown", ()), ("start", (True,)),
                       ("suspend", (False,)), ("hard_shutdown", ())]:
        assert getattr(api.VM, call)(vm, *args) == ""
        states.append(api.VM.get_power_state(vm))
    assert states == ["Halted", "Running", "Paused", "Running", "Suspended", "Paused",
                      "Running", "Running", "Running", "Paused", "Running", "Halted",
                      "Paused", "Suspended", "Halted"]
    assert api.VM.get_resident_on(vm) == ""


def test_runtime_fields_follow_the_power_state(api):
    vm = new_vm(api, memory_dynamic_max=str(2 ** 28), memory_dynamic_min=str(2 ** 27))
    assert int(api.VM.get_memory_actual(vm)) == 0
    assert int(api.VM.get_VCPUs_number(vm)) == 0
    api.VM.start(vm, False)
    assert int(api.VM.get_memory_actual(vm)) > 0
    assert int(api.VM.get_VCPUs_number(vm)) >= 1
    assert isinstance(api.VM.get_VCPUs_utilisation(vm), dict)
    api.VM.hard_shutdown(vm)
    assert int(api.VM.get_memory_actual(vm)) == 0


def test_suspend_and_resume_paused_keep_residency_right(api, host):
    vm = vm_in(api, "Running")
    api.VM.suspend(vm, True)
    assert api.VM.get_resident_on(vm) == ""
    assert vm not in api.host.get_resident_VMs(host)
    api.VM.resume(vm, True)
    assert api.VM.get_power_state(vm) == "Paused"
    assert api.VM.get_resident_on(vm) == host
    api.VM.unpause(vm)
    assert api.VM.get_power_state(vm) == "Running"
    api.VM.hard_shutdown(vm)


def test_hard_shutdown_of_a_suspended_vm_discards_it(api):
    vm = vm_in(api, "Suspended")
    api.VM.hard_shutdown(vm)
    assert api.VM.get_power_state(vm) == "Halted"
    assert failure(api.VM.resume, vm, False)[0] == "VM_BAD_POWER_STATE"
    api.VM.start(vm, False)            # and it starts afresh
    assert api.VM.get_power_state(vm) == "Running"
    api.VM.hard_shutdown(vm)


def test_a_vms_directory_is_made_by_what_writes_there_and_goes_with_the_vm(api, daemon):
    vm = vm_in(api, "Running")
    assert not os.path.exists(vm_dir(daemon, vm))      # the simulated guest writes nothing
    api.VM.suspend(vm, False)
    assert os.listdir(vm_dir(daemon, vm)) == ["suspend.state"]
    api.VM.resume(vm, False)
    api.VM.hard_shutdown(vm)
    with open(os.path.join(vm_dir(daemon, vm), "qemu.log"), "w") as f:
        f.write("a hypervisor's log\n")
    api.VM.destroy(vm)
    assert not os.path.exists(vm_dir(daemon, vm))


def test_templates_never_start(api):
    vm = new_vm(api, is_a_template=True)
    for call, args in [("start", (False,)), ("start", (True,))]:
        assert failure(getattr(api.VM, call), vm, *args) == ["VM_IS_TEMPLATE", vm]
    assert api.VM.get_power_state(vm) == "Halted"


def test_lifecycle_over_tcp(root_tcp, host):
    api = root_tcp
    vm = new_vm(api)
    api.VM.start(vm, False)
    assert api.VM.get_power_state(vm) == "Running"
    assert api.VM.get_resident_on(vm) == host
    api.VM.pause(vm)
    assert failure(api.VM.pause, vm) == ["VM_BAD_POWER_STATE", vm, "Running", "Paused"]
    api.VM.unpause(vm)
    api.VM.clean_shutdown(vm)
    assert api.VM.get_power_state(vm) == "Halted"


# (clean operation, its action field, the action and the state it leaves, the hard operation)
ACTION_CASES = [
    ("clean_shutdown", "actions_after_shutdown", "restart", "Running", "hard_shutdown"),
    ("clean_shutdown", "actions_after_shutdown", "destroy", "Halted", "hard_shutdown"),
    ("clean_reboot", "actions_after_reboot", "restart", "Running", "hard_reboot"),
    ("clean_reboot", "actions_after_reboot", "destroy", "Halted", "hard_reboot"),
]


@pytest.mark.parametrize("clean, field, action, state, hard", ACTION_CASES)
def test_clean_shutdown_and_reboot_end_with_the_vms_action(api, clean, field, action, state,
                                                           hard):
    """§2.6.2: "Once shutdown has been completed perform poweroff action" (reboot action
    for a reboot); the hard operations never consult actions/*."""
    vm = new_vm(api, **{field: action})
    api.VM.start(vm, False)
    getattr(api.VM, clean)(vm)
    assert api.VM.get_power_state(vm) == state
    if state == "Halted":
        api.VM.start(vm, False)
    getattr(api.VM, hard)(vm)
    assert api.VM.get_power_state(vm) == ("Halted" if hard == "hard_shutdown" else "Running")
    if api.VM.get_power_state(vm) == "Running":
        api.VM.hard_shutdown(vm)


# -- clone --------------------------------------------------------------------------------------

def test_clone_has_its_own_vbds_on_snapshots_of_the_disks(api):
    sr = new_sr(api)
    disks = [new_vdi(api, sr, virtual_size="4096", name_description="disk %d" % i)
             for i in range(2)]
    vm = new_vm(api, name_description="the original", memory_static_max=str(2 ** 33))
    vbds = [new_vbd(api, vm, d, device="xvd" + "ab"[i], mode="RW") for i, d in
            enumerate(disks)]
    net = new_network(api)
    vif = new_vif(api, vm, net, MAC=random_mac(), MTU=1400)   # each transport's its own
    name = unique("clone")
    clone = api.VM.clone(vm, name)
    assert clone != vm
    rec, orig = api.VM.get_record(clone), api.VM.get_record(vm)
    assert rec["name_label"] == name
    assert rec["power_state"] == "Halted" and rec["resident_on"] == ""
    assert rec["name_description"] == "the original"
    assert int(rec["memory_static_max"]) == 2 ** 33
    # its own VBDs ...
    assert len(rec["VBDs"]) == 2 and not set(rec["VBDs"]) & set(vbds)
    assert sorted(orig["VBDs"]) == sorted(vbds)
    for vbd in rec["VBDs"]:
        assert api.VBD.get_VM(vbd) == clone
    # ... on VDIs that are snapshots of the original's, in the same SR
    by_device = {api.VBD.get_device(v): api.VBD.get_VDI(v) for v in rec["VBDs"]}
    for i, original_vdi in enumerate(disks):
        snap = by_device["xvd" + "ab"[i]]
        assert snap != original_vdi
        assert api.VDI.get_parent(snap) == original_vdi
        assert snap in api.VDI.get_children(original_vdi)
        assert api.VDI.get_SR(snap) == sr
        assert int(api.VDI.get_virtual_size(snap)) == 4096
        assert api.VDI.get_name_description(snap) == "disk %d" % i
        assert api.VDI.get_VBDs(original_vdi) == [vbds[i]]
    # VIFs are copied onto the same network
    assert len(rec["VIFs"]) == 1 and rec["VIFs"][0] != vif
    assert api.VIF.get_network(rec["VIFs"][0]) == net
    assert int(api.VIF.get_MTU(rec["VIFs"][0])) == 1400
    assert sorted(api.network.get_VIFs(net)) == sorted([vif, rec["VIFs"][0]])


def test_clone_shares_sharable_disks(api):
    sr = new_sr(api)
    shared = new_vdi(api, sr, sharable=True)
    vm = new_vm(api)
    new_vbd(api, vm, shared)
    clone = api.VM.clone(vm, unique())
    (vbd,) = api.VM.get_VBDs(clone)
    assert api.VBD.get_VDI(vbd) == shared
    assert api.VDI.get_children(shared) == []


@pytest.mark.parametrize("state", ["Running", "Paused", "Suspended"])
def test_clone_only_when_halted(api, state):
    vm = new_vm(api)
    new_vbd(api, vm, new_vdi(api, new_sr(api)))
    {"Running": lambda: api.VM.start(vm, False), "Paused": lambda: api.VM.start(vm, True),
     "Suspended": lambda: (api.VM.start(vm, False), api.VM.suspend(vm, False))}[state]()
    assert api.VM.get_power_state(vm) == state
    vms = len(api.VM.get_all())
    vdis = len(api.VDI.get_all())
    assert failure(api.VM.clone, vm, "nope") == ["VM_BAD_POWER_STATE", vm, "Halted", state]
    assert len(api.VM.get_all()) == vms and len(api.VDI.get_all()) == vdis
    api.VM.hard_shutdown(vm)


def test_clone_of_a_template_and_clone_starts(api):
    tmpl = new_vm(api, is_a_template=True)
    clone = api.VM.clone(tmpl, unique())
    assert clone in api.VM.get_all()
    api.VM.set_is_a_template(clone, False)
    api.VM.start(clone, False)
    assert api.VM.get_power_state(clone) == "Running"
    assert api.VM.get_power_state(tmpl) == "Halted"
    api.VM.hard_shutdown(clone)


DEBUG_OPERATIONS = [("dump_core", ("",)), ("send_sysrq", ("s",)),
                    ("send_trigger", ("nmi", 0))]


@pytest.mark.parametrize("state", LIFECYCLE_STATES)
@pytest.mark.parametrize("op, args", DEBUG_OPERATIONS, ids=[o[0] for o in DEBUG_OPERATIONS])
def test_debugging_operations_keep_the_power_state(api, daemon, state, op, args):
    vm = vm_in(api, state)
    t = lifecycle.transition(state, op)
    if t is None:
        assert failure(getattr(api.VM, op), vm, *args) == [
            "VM_BAD_POWER_STATE", vm, ",".join(lifecycle.allowed_states(op)), state]
    else:
        result = getattr(api.VM, op)(vm, *args)
        if op == "dump_core":    # a new file in the dump directory, the daemon's only
            assert os.path.dirname(result) == os.path.join(daemon.state_dir, "dump")
            assert result.endswith("-%s.core" % api.VM.get_name_label(vm))
            assert os.stat(result).st_mode & 0o777 == 0o600
        assert api.VM.get_power_state(vm) == t.final == state


@pytest.mark.parametrize("state", LIFECYCLE_STATES)
def test_vcpus_change_live_only_while_running(api, state):
    vm = vm_in(api, state, lambda: new_vm(api, VCPUs_max="4"))
    if state == "Running":
        assert api.VM.set_VCPUs_number_live(vm, "2") == ""
        assert int(api.VM.get_VCPUs_number(vm)) == 2
        assert len(api.VM.get_VCPUs_utilisation(vm)) == 2
        # Kept for the next boot: the guest starts as it was left.
        assert int(api.VM.get_VCPUs_at_startup(vm)) == 2
        api.VM.hard_reboot(vm)
        assert int(api.VM.get_VCPUs_number(vm)) == 2
    else:
        d = failure(api.VM.set_VCPUs_number_live, vm, "2")
        assert d == ["VM_BAD_POWER_STATE", vm, "Running", state]
        assert int(api.VM.get_VCPUs_at_startup(vm)) == 0
    if state != "Halted":
        api.VM.hard_shutdown(vm)


def test_trigger_reset_reboots_and_power_shuts_down_through_the_vms_actions(api, daemon):
    vm = vm_in(api, "Running")
    api.VM.send_trigger(vm, "reset", 0)
    assert api.VM.get_power_state(vm) == "Running"
    assert "VM '%s' (%s): rebooted (hard reboot)" % (api.VM.get_name_label(vm), vm) \
        in daemon.log_text()
    api.VM.set_actions_after_shutdown(vm, "destroy")
    api.VM.send_trigger(vm, "power", 0)
    wait_until(lambda: api.VM.get_power_state(vm) == "Halted", STATE_WAIT,
               "the guest to heed the power button")
    assert api.VM.get_resident_on(vm) == NULL_REF


def test_vcpus_live_and_at_startup_stay_within_vcpus_max(api):
    vm = vm_in(api, "Running", lambda: new_vm(api, VCPUs_max="2"))
    for n in ("0", "3", "-1"):
        d = failure(api.VM.set_VCPUs_number_live, vm, n)
        assert d == ["INVALID_VALUE", "VCPUs_number", "%s (must be 1..2: VCPUs/max)" % n]
    assert int(api.VM.get_VCPUs_number(vm)) == 2
    api.VM.set_VCPUs_number_live(vm, "1")
    d = failure(api.VM.set_VCPUs_at_startup, vm, "3")
    assert d[:2] == ["INVALID_VALUE", "VCPUs_at_startup"] and "0..2" in d[2]
    # VCPUs/max may not go below the vCPUs the VM starts with either.
    api.VM.set_VCPUs_at_startup(vm, "2")
    d = failure(api.VM.set_VCPUs_max, vm, "1")
    assert d[:2] == ["INVALID_VALUE", "VCPUs_at_startup"]
    assert int(api.VM.get_VCPUs_max(vm)) == 2
    api.VM.hard_shutdown(vm)


@pytest.mark.parametrize("state", LIFECYCLE_STATES)
def test_memory_static_max_changes_for_the_next_start_while_halted_or_resident(api, state):
    mib = 2 ** 20
    vm = vm_in(api, state, lambda: new_vm(api, memory_static_max=str(512 * mib),
                                          memory_dynamic_max=str(256 * mib)))
    if state in ("Halted", "Running", "Paused"):
        assert api.VM.set_memory_static_max(vm, str(1024 * mib)) == ""
        assert int(api.VM.get_memory_static_max(vm)) == 1024 * mib
        # Below dynamic_max: refused naming the field and the bound it must keep.
        d = failure(api.VM.set_memory_static_max, vm, str(128 * mib))
        assert d == ["INVALID_VALUE", "memory_static_max",
                     "%d (must be at least memory_dynamic_max = %d)" % (128 * mib, 256 * mib)]
        assert int(api.VM.get_memory_static_max(vm)) == 1024 * mib
        assert api.VM.get_power_state(vm) == state
        if state != "Halted":
            api.VM.hard_shutdown(vm)
    else:
        d = failure(api.VM.set_memory_static_max, vm, str(1024 * mib))
        assert d == ["VM_BAD_POWER_STATE", vm, "Halted,Running,Paused", state]
        assert int(api.VM.get_memory_static_max(vm)) == 512 * mib
        api.VM.hard_shutdown(vm)


@pytest.mark.parametrize("params, pair", [
    ("weight=0", "weight=0 (weight must be 1..65535)"),
    ("weight=70000", "weight=70000 (weight must be 1..65535)"),
    ("cap=201", "cap=201 (cap must be 0..200: 0 for none, else percent of one CPU up to "
                "VCPUs/max * 100)"),
    ("cpumap2=0", "cpumap2=0 (vCPU 2: the VM has vCPUs 0..1 (VCPUs/max))"),
    ("cpumap0=1-0", "cpumap0=1-0 (CPUs must be a list like 0-3,6 or all)"),
    ("speed=9", "speed=9 (unknown key speed: weight, cap or cpumapN)"),
    ("weight", "weight (must be key=value: weight, cap or cpumapN)"),
])
def test_vcpu_params_are_checked_when_set(api, params, pair):
    vm = new_vm(api, VCPUs_max="2", VCPUs_params="weight=512")
    assert failure(api.VM.set_VCPUs_params, vm, "cap=50 " + params) == [
        "INVALID_VALUE", "VCPUs_params", pair]
    assert api.VM.get_VCPUs_params(vm) == "weight=512"


def test_vcpu_params_set_and_added_live(api):
    vm = new_vm(api, VCPUs_max="2")
    api.VM.set_VCPUs_params(vm, "weight=512;cap=150  cpumap1=0-1,3")
    d = failure(api.VM.add_to_VCPUs_params_live, vm, "cap", "10")
    assert d == ["VM_BAD_POWER_STATE", vm, "Running,Paused", "Halted"]
    api.VM.start(vm, False)
    # A key added live replaces its earlier value; the string is kept in one spelling.
    api.VM.add_to_VCPUs_params_live(vm, "cap", "10")
    assert api.VM.get_VCPUs_params(vm) == "weight=512 cap=10 cpumap1=0-1,3"
    d = failure(api.VM.add_to_VCPUs_params_live, vm, "weight", "x")
    assert d == ["INVALID_VALUE", "VCPUs_params", "weight=x (weight must be 1..65535)"]
    api.VM.hard_shutdown(vm)


def test_only_root_sets_weight_and_cap_a_user_pins(api, daemon):
    _, name, password = make_user(api)
    user = daemon.sdk_tcp(name, password).xenapi
    vm = new_vm(api, VCPUs_max="2", VCPUs_params="weight=512 cap=50")
    api.VM.start(vm, False)
    denied = ["PERMISSION_DENIED", "only root may set weight= and cap= of VCPUs/params "
              "(they take CPU time from other VMs); cpumapN= is every user's"]
    # Raised, lifted or lowered: refused before the guest or the record changes.
    for params in ("weight=65535 cap=50", "weight=512", "weight=512 cap=10", ""):
        assert failure(user.VM.set_VCPUs_params, vm, params) == denied
    assert failure(user.VM.add_to_VCPUs_params_live, vm, "cap", "0") == denied
    assert failure(user.VM.create, {"name_label": unique("w"),
                                    "VCPUs_params": "weight=2"}) == denied
    assert api.VM.get_VCPUs_params(vm) == "weight=512 cap=50"
    # Pinning is every user's, and keeps root's weight and cap.
    user.VM.add_to_VCPUs_params_live(vm, "cpumap1", "0")
    user.VM.set_VCPUs_params(vm, "weight=512 cap=50 cpumap0=0")
    assert api.VM.get_VCPUs_params(vm) == "weight=512 cap=50 cpumap0=0"
    api.VM.set_VCPUs_params(vm, "weight=8")
    assert api.VM.get_VCPUs_params(vm) == "weight=8"
    api.VM.hard_shutdown(vm)


# -- devices of Xen-API 1.0: plug, unplug, media_change ----------------------------------

def _devices(api):
    """A VM with a disk VBD and a VIF."""
    vm = new_vm(api)
    vbd = new_vbd(api, vm, new_vdi(api, new_sr(api)))
    vif = new_vif(api, vm, new_network(api))
    return vm, vbd, vif


def test_device_fields_of_1_0_have_their_defaults(api, v10):
    _, vbd, vif = _devices(api)
    rec = v10.VBD.get_record(vbd)
    assert (rec["bootable"], rec["type"], rec["mode"]) == (False, "Disk", "RW")
    for rec in (rec, v10.VIF.get_record(vif)):
        assert rec["currently_attached"] is False
        assert (rec["status_code"], rec["status_detail"]) == ("0", "")
        assert rec["runtime_properties"] == {}
        assert rec["qos_algorithm_type"] == "" and rec["qos_algorithm_params"] == {}
        assert rec["qos_supported_algorithms"] == []


def test_qos_algorithm_is_one_the_backend_applies(api):
    _, vbd, vif = _devices(api)
    for cls, ref in ((api.VBD, vbd), (api.VIF, vif)):
        cls.add_to_qos_algorithm_params(ref, "kbps", "1000")
        assert cls.get_qos_algorithm_params(ref) == {"kbps": "1000"}
        assert failure(cls.set_qos_algorithm_type, ref, "ratelimit") == [
            "VALUE_NOT_SUPPORTED", "qos/algorithm_type", "ratelimit",
            "the sim backend applies no QoS algorithm"]
        assert cls.get_qos_algorithm_type(ref) == ""


def test_a_cd_vbd_reads_its_medium_whatever_its_mode_and_bootable_is_kept(api):
    """libxen of Xen 3.1 sends type CD (its enum's first value) with mode RW for every
    VBD it makes: taken, as xend took it, and the medium is read-only all the same."""
    vm, vdi = new_vm(api), new_vdi(api, new_sr(api))
    vbd = new_vbd(api, vm, vdi, device="hdc", type="CD", bootable=True)
    assert (api.VBD.get_type(vbd), api.VBD.get_mode(vbd)) == ("CD", "RW")
    assert api.VBD.get_bootable(vbd) is True
    api.VM.start(vm, False)
    assert api.VM.get_power_state(vm) == "Running"
    api.VM.hard_shutdown(vm)


def test_unplug_and_plug_keep_the_record_and_last_as_long_as_the_guest(api, daemon):
    vm, vbd, vif = _devices(api)
    for cls, ref in ((api.VBD, vbd), (api.VIF, vif)):
        assert failure(cls.plug, ref) == ["VM_BAD_POWER_STATE", vm, "Running,Paused", "Halted"]
        assert failure(cls.unplug, ref) == ["VM_BAD_POWER_STATE", vm, "Running", "Halted"]
    api.VM.start(vm, False)
    for cls, ref, kind in ((api.VBD, vbd, "vbd"), (api.VIF, vif, "vif")):
        assert cls.get_currently_attached(ref) is True
        assert cls.get_runtime_properties(ref)["device"] == "%s-%s" % (kind, ref)
        assert failure(cls.plug, ref)[0] == "OPERATION_NOT_ALLOWED"
        cls.unplug(ref)
        assert cls.get_currently_attached(ref) is False
        assert cls.get_runtime_properties(ref) == {}
        assert failure(cls.unplug, ref)[0] == "OPERATION_NOT_ALLOWED"
    assert api.VM.get_VBDs(vm) == [vbd] and api.VM.get_VIFs(vm) == [vif]
    # A suspended guest resumes as it was saved: without them.
    api.VM.suspend(vm, False)
    api.VM.resume(vm, False)
    assert not api.VBD.get_currently_attached(vbd) and not api.VIF.get_currently_attached(vif)
    api.VBD.plug(vbd)
    assert api.VBD.get_currently_attached(vbd) is True
    assert int(api.VBD.get_status_code(vbd)) == 0
    # The next guest has every device.
    api.VM.hard_shutdown(vm)
    api.VM.start(vm, True)
    assert api.VBD.get_currently_attached(vbd) and api.VIF.get_currently_attached(vif)
    # Deleting an unplugged device of a running VM asks the guest nothing; a VM.save
    # meanwhile is refused (the file's guest would lack a device its restore gives it).
    api.VM.unpause(vm)
    api.VIF.unplug(vif)
    d = failure(api.VM.save, vm, os.path.join(vm_dir(daemon, vm), "unplugged.save"))
    assert d[0] == "OPERATION_NOT_ALLOWED" and "unplugged" in d[1]
    api.VIF.destroy(vif)
    assert api.VM.get_VIFs(vm) == []
    api.VM.hard_shutdown(vm)


def test_a_failed_plug_says_why_in_status(api):
    vm = new_vm(api)
    vbd = new_vbd(api, vm, new_vdi(api, new_sr(api)))
    api.VM.start(vm, False)
    api.VBD.unplug(vbd)
    api.VM.pause(vm)
    api.VM.unpause(vm)
    # Another running VM takes the disk meanwhile: the plug fails, and says so.
    other = new_vm(api)
    new_vbd(api, other, api.VBD.get_VDI(vbd))
    api.VM.start(other, False)
    assert failure(api.VBD.plug, vbd)[0] == "VDI_IN_USE"
    assert int(api.VBD.get_status_code(vbd)) == 1
    assert api.VBD.get_status_detail(vbd).startswith("VDI_IN_USE")
    assert api.VBD.get_currently_attached(vbd) is False
    for v in (vm, other):
        api.VM.hard_shutdown(v)
    assert int(api.VBD.get_status_code(vbd)) == 0


def test_media_change_swaps_a_cd_drives_vdi(api):
    sr = new_sr(api)
    first, second = new_vdi(api, sr), new_vdi(api, sr)
    vm = new_vm(api)
    cd = new_vbd(api, vm, first, device="hdc", type="CD", mode="RO")
    disk = new_vbd(api, vm, new_vdi(api, sr), device="xvda")
    api.VBD.media_change(cd, second)            # halted: the record
    assert api.VBD.get_VDI(cd) == second and api.VDI.get_VBDs(first) == []
    api.VM.start(vm, False)
    api.VBD.media_change(cd, first)             # resident: the guest's drive too
    assert api.VBD.get_VDI(cd) == first and api.VDI.get_VBDs(second) == []
    assert api.VBD.get_runtime_properties(cd)["image"] == api.VDI.get_location(first)
    assert failure(api.VBD.media_change, disk, second)[0] == "OPERATION_NOT_ALLOWED"
    api.VM.suspend(vm, False)
    assert failure(api.VBD.media_change, cd, second) == [
        "VM_BAD_POWER_STATE", vm, "Halted,Running,Paused", "Suspended"]
    api.VM.hard_shutdown(vm)


# -- live memory and migration (Xen-API 1.0) -----------------------------------------------

@pytest.mark.parametrize("state", LIFECYCLE_STATES)
def test_memory_live_setters_only_while_resident(api, state):
    vm = vm_in(api, state)
    for call in (api.VM.set_memory_dynamic_max_live, api.VM.set_memory_dynamic_min_live):
        if state in RESIDENT_STATES:
            call(vm, str(128 * 2 ** 20))
        else:
            assert failure(call, vm, str(128 * 2 ** 20)) == [
                "VM_BAD_POWER_STATE", vm, "Running,Paused", state]
    if state != "Halted":
        api.VM.hard_shutdown(vm)


def test_mem_set_as_xm_does_it_lowers_and_raises_both(api):
    mib = 2 ** 20
    vm = new_vm(api, memory_static_max=str(512 * mib), memory_dynamic_max=str(256 * mib),
                memory_dynamic_min=str(256 * mib))
    api.VM.start(vm, False)
    for target in (64 * mib, 384 * mib):      # xm mem-set: max_live, then min_live
        api.VM.set_memory_dynamic_max_live(vm, str(target))
        api.VM.set_memory_dynamic_min_live(vm, str(target))
        rec = api.VM.get_record(vm)
        assert (int(rec["memory_dynamic_max"]), int(rec["memory_dynamic_min"])) == (target,) * 2
    # Beyond static_max: refused, nothing changed.
    d = failure(api.VM.set_memory_dynamic_max_live, vm, str(1024 * mib))
    assert d[:2] == ["INVALID_VALUE", "memory_dynamic_max"]
    assert int(api.VM.get_memory_dynamic_max(vm)) == 384 * mib
    api.VM.hard_shutdown(vm)


def test_migrate_is_refused_without_a_pool(api):
    vm = new_vm(api)
    assert failure(api.VM.migrate, vm, "other", True, {}) == [
        "VM_BAD_POWER_STATE", vm, "Running", "Halted"]
    api.VM.start(vm, False)
    d = failure(api.VM.migrate, vm, "other", True, {})
    assert d[0] == "OPERATION_NOT_ALLOWED" and d[1].startswith("no other host")
    assert api.VM.get_power_state(vm) == "Running"
    api.VM.hard_shutdown(vm)
