"""Conformance fixes: writes the draft allows in general but which would contradict the
state of the objects (a running template, a read-only disk a guest writes), values the
daemon would drop or could not honour, and memory defaults that follow the given fields."""

import os

import pytest
from harness import MIB, failure, new_sr, new_vbd, new_vdi, new_vm, unique, vm_in

# conftest's ``api``: the SDK over the Unix socket, and its interface over JSON-RPC.
API_TRANSPORTS = ("unix", "jsonrpc")


@pytest.fixture(scope="module")
def sr(api):
    return new_sr(api)


# -- VM.is_a_template: only a Halted VM becomes a template (§2.6.1) -------------------------

@pytest.mark.parametrize("state", ["Running", "Paused", "Suspended"])
def test_a_vm_that_is_not_halted_cannot_become_a_template(api, state):
    vm = vm_in(api, state)
    assert failure(api.VM.set_is_a_template, vm, True) == \
        ["VM_BAD_POWER_STATE", vm, "Halted", state]
    assert api.VM.get_is_a_template(vm) is False
    api.VM.hard_shutdown(vm)            # not stuck: it stops as any VM does
    assert api.VM.get_power_state(vm) == "Halted"


def test_a_halted_vm_becomes_a_template_and_back(api):
    vm = new_vm(api)
    api.VM.set_is_a_template(vm, True)
    assert api.VM.get_is_a_template(vm) is True
    assert failure(api.VM.start, vm, False) == ["VM_IS_TEMPLATE", vm]
    api.VM.set_is_a_template(vm, False)
    api.VM.start(vm, False)
    api.VM.set_is_a_template(vm, False)  # unchanged: no transition, allowed while running
    api.VM.hard_shutdown(vm)


def test_a_template_may_be_created_halted(api):
    vm = new_vm(api, is_a_template=True)
    assert api.VM.get_is_a_template(vm) is True
    assert api.VM.get_power_state(vm) == "Halted"


# -- VDI.read_only and VDI.sharable against the VMs that hold the VDI ------------------------

@pytest.mark.parametrize("state", ["Running", "Paused", "Suspended"])
def test_read_only_is_refused_while_a_holding_vm_writes_the_vdi(api, sr, state):
    vdi = new_vdi(api, sr)
    vm = new_vm(api)
    new_vbd(api, vm, vdi, mode="RW")
    vm_in(api, state, make=lambda: vm)
    assert failure(api.VDI.set_read_only, vdi, True) == ["VDI_IN_USE", vdi, "set_read_only"]
    assert api.VDI.get_read_only(vdi) is False
    api.VM.hard_shutdown(vm)
    api.VDI.set_read_only(vdi, True)     # halted: the next start attaches it read-only
    assert api.VDI.get_read_only(vdi) is True


def test_read_only_is_allowed_where_every_holder_reads_it(api, sr):
    vdi = new_vdi(api, sr)
    vm = new_vm(api)
    new_vbd(api, vm, vdi, mode="RO")
    api.VM.start(vm, False)
    api.VDI.set_read_only(vdi, True)
    api.VDI.set_read_only(vdi, False)    # the guest has it RO either way
    api.VM.hard_shutdown(vm)


def test_writable_again_is_refused_where_a_holder_was_attached_ro_by_read_only(api, sr):
    # The VBD says RW, but the guest got it RO because the VDI was read-only: making the
    # VDI writable would report a mode the guest does not have.
    vdi = new_vdi(api, sr)
    vm = new_vm(api)
    new_vbd(api, vm, vdi, mode="RW")
    api.VDI.set_read_only(vdi, True)
    api.VM.start(vm, False)
    assert failure(api.VDI.set_read_only, vdi, False) == ["VDI_IN_USE", vdi, "set_read_only"]
    api.VM.hard_shutdown(vm)
    api.VDI.set_read_only(vdi, False)


def test_unsharing_is_refused_while_two_vms_hold_the_vdi(api, sr):
    vdi = new_vdi(api, sr, sharable=True)
    vms = [new_vm(api) for _ in range(2)]
    for vm in vms:
        new_vbd(api, vm, vdi, mode="RO")
        api.VM.start(vm, False)
    assert failure(api.VDI.set_sharable, vdi, False) == ["VDI_IN_USE", vdi, "set_sharable"]
    assert api.VDI.get_sharable(vdi) is True
    api.VM.hard_shutdown(vms[1])
    api.VDI.set_sharable(vdi, False)     # one holder left: nothing is shared any more
    api.VM.hard_shutdown(vms[0])


# -- SR.create: physical_size is the SR's capacity ---------------------------------------------

def test_sr_create_takes_physical_size_as_the_capacity(api):
    """Given: kept and read back as given. Omitted or 0: the SR's file system's size. A
    negative or non-integer size is refused and makes no SR."""
    sr = new_sr(api, physical_size=str(5 * 2 ** 40))
    assert int(api.SR.get_physical_size(sr)) == 5 * 2 ** 40
    assert int(api.SR.get_record(sr)["physical_size"]) == 5 * 2 ** 40
    for fields in ({}, {"physical_size": "0"}):
        other = new_sr(api, **fields)
        st = os.statvfs(api.SR.get_location(other))
        assert int(api.SR.get_physical_size(other)) == st.f_blocks * st.f_frsize
    n = len(api.SR.get_all())
    d = failure(api.SR.create, {"name_label": unique("sr"), "physical_size": "-1"})
    assert d[:2] == ["INVALID_VALUE", "physical_size"], d
    for value in ("1.5", "lots", 1.5):
        d = failure(api.SR.create, {"name_label": unique("sr"), "physical_size": value})
        assert d == ["FIELD_TYPE_ERROR", "physical_size"], d
    assert len(api.SR.get_all()) == n


# -- VDI.sector_size: 512 or 4096 ---------------------------------------------------------------

@pytest.mark.parametrize("sector", ["512", "4096"])
def test_standard_sector_sizes_are_accepted(api, sr, sector):
    assert int(api.VDI.get_sector_size(new_vdi(api, sr, sector_size=sector))) == int(sector)


@pytest.mark.parametrize("sector", ["1000", "1", "1024", "8192", "0", "-512"])
def test_other_sector_sizes_are_invalid(api, sr, sector):
    n = len(api.SR.get_VDIs(sr))
    d = failure(api.VDI.create, {"SR": sr, "name_label": unique("vdi"), "virtual_size": "8",
                                 "sector_size": sector})
    assert d[:2] == ["INVALID_VALUE", "sector_size"]
    assert len(api.SR.get_VDIs(sr)) == n


# -- VM.create: omitted memory fields follow the given ones -------------------------------------

FIELDS = ("memory_static_min", "memory_dynamic_min", "memory_dynamic_max", "memory_static_max")


def memory_of(api, vm):
    rec = api.VM.get_record(vm)
    return tuple(int(rec[f]) // MIB for f in FIELDS)


# given (field: MiB) -> (static_min, dynamic_min, dynamic_max, static_max) in MiB
DEFAULTS = [
    ({}, (16, 256, 256, 256)),
    ({"memory_static_max": 128}, (16, 128, 128, 128)),
    ({"memory_static_max": 1024}, (16, 256, 1024, 1024)),
    ({"memory_static_max": 8}, (8, 8, 8, 8)),
    ({"memory_dynamic_max": 128}, (16, 128, 128, 128)),
    ({"memory_dynamic_max": 1024}, (16, 256, 1024, 1024)),
    ({"memory_dynamic_min": 512}, (16, 512, 512, 512)),
    ({"memory_dynamic_min": 8}, (8, 8, 256, 256)),
    ({"memory_static_min": 512}, (512, 512, 512, 512)),
    ({"memory_static_min": 8}, (8, 256, 256, 256)),
    ({"memory_static_min": 300}, (300, 300, 300, 300)),
    ({"memory_static_max": 1024, "memory_dynamic_max": 512}, (16, 256, 512, 1024)),
    ({"memory_static_max": 1024, "memory_dynamic_min": 64}, (16, 64, 1024, 1024)),
    ({"memory_static_min": 32, "memory_static_max": 64}, (32, 64, 64, 64)),
    ({"memory_dynamic_min": 32, "memory_dynamic_max": 64}, (16, 32, 64, 64)),
]


@pytest.mark.parametrize("given, expected", DEFAULTS,
                         ids=["+".join(f[7:] for f in g) or "none" for g, _ in DEFAULTS])
def test_omitted_memory_fields_follow_the_given_ones(api, given, expected):
    vm = new_vm(api, **{f: str(v * MIB) for f, v in given.items()})
    assert memory_of(api, vm) == expected


@pytest.mark.parametrize("given, named", [
    ({"memory_static_max": 64, "memory_static_min": 128}, "memory_static_min"),
    ({"memory_dynamic_max": 64, "memory_dynamic_min": 128}, "memory_dynamic_min"),
    ({"memory_static_max": 64, "memory_dynamic_min": 128}, "memory_dynamic_min"),
    ({"memory_dynamic_max": 64, "memory_static_min": 128}, "memory_static_min"),
])
def test_given_memory_fields_out_of_order_name_a_given_field(api, given, named):
    d = failure(api.VM.create, dict({"name_label": unique("vm")},
                                    **{f: str(v * MIB) for f, v in given.items()}))
    assert d[:2] == ["INVALID_VALUE", named]


def test_a_negative_memory_field_is_named_itself(api):
    d = failure(api.VM.create, {"name_label": unique("vm"), "memory_dynamic_min": "-1"})
    assert d[:2] == ["INVALID_VALUE", "memory_dynamic_min"]
