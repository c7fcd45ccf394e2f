"""The VM lifecycle (spec §1.7) as one table.

Each row says: in power state ``state``, operation ``op`` is allowed; while it
runs the VM shows ``transient`` (None: no change while it runs); when it
succeeds the VM is in ``final``. A (state, op) pair that is not in the table is
refused with VM_BAD_POWER_STATE before anything is done. Dispatch consults this
table for every VM operation (through the domain owner's ``check``), the domain
owner (state/domains.py) follows it to change states, and xm's help and the API
reference print it.

``start``, ``resume`` and ``restore`` take a start_paused flag; the table spells the two
outcomes as separate operations (``start_paused``, ...) so each
row has exactly one final state.

Below the table are the rules for changes that keep the power state (a device
plugged in, a record edited, a VM made a template): in which states each is
allowed (``STILL``), checked by ``require_still``. Together with the table they
are every rule on what may be done to a VM in which power state.

The control domain (the VM record of the machine a daemon runs in, Domain-0: on a single
host and a pool's first host ``CONTROL_DOMAIN``, on every other host of a pool a ref of
its own, each with ``is_control_domain`` set) has no row: it is always Running, and every
operation and change above is refused for it with OPERATION_NOT_ALLOWED
(``require_guest``; callers say ``control`` for a record ``is_control_domain`` names).

What a power state means for what VMs share is defined here too (``LIVE_STATES``:
resident; ``HOLDING_STATES``, ``holds_devices``: holding disks and NICs), and the
rules built on it stay with the shared thing: a VDI in use (resize, snapshot,
read_only and sharable in api/handlers/storage.py; attaching it in
state/domains.py) and a network's NIC and VLAN (api/handlers/network.py).
"""

import collections

from .errors import ApiError

Transition = collections.namedtuple("Transition", "transient final")

HALTED, PAUSED, RUNNING, SUSPENDED, SHUTTING_DOWN, UNKNOWN = (
    "Halted", "Paused", "Running", "Suspended", "ShuttingDown", "Unknown")

# (state, operation) -> Transition(transient, final)
TABLE = {
    (HALTED, "start"): Transition(None, RUNNING),
    (HALTED, "start_paused"): Transition(None, PAUSED),
    (HALTED, "clone"): Transition(None, HALTED),
    (HALTED, "delete"): Transition(None, HALTED),
    (RUNNING, "pause"): Transition(None, PAUSED),
    (PAUSED, "unpause"): Transition(None, RUNNING),
    (RUNNING, "clean_shutdown"): Transition(SHUTTING_DOWN, HALTED),
    (RUNNING, "clean_reboot"): Transition(SHUTTING_DOWN, RUNNING),
    (RUNNING, "hard_shutdown"): Transition(None, HALTED),
    (PAUSED, "hard_shutdown"): Transition(None, HALTED),
    (SHUTTING_DOWN, "hard_shutdown"): Transition(None, HALTED),
    (SUSPENDED, "hard_shutdown"): Transition(None, HALTED),    # discards the saved state
    (UNKNOWN, "hard_shutdown"): Transition(None, HALTED),
    (RUNNING, "hard_reboot"): Transition(None, RUNNING),
    (PAUSED, "hard_reboot"): Transition(None, RUNNING),
    (RUNNING, "suspend"): Transition(None, SUSPENDED),
    (PAUSED, "suspend"): Transition(None, SUSPENDED),
    (SUSPENDED, "resume"): Transition(None, RUNNING),
    (SUSPENDED, "resume_paused"): Transition(None, PAUSED),
    # Debugging a guest: a core dump stops the vCPUs only while it writes; a SysRq key
    # or trigger goes to a guest that runs (a reset trigger is a hard_reboot, the ACPI
    # power button's outcome is the guest's own shutdown).
    (RUNNING, "dump_core"): Transition(None, RUNNING),
    (PAUSED, "dump_core"): Transition(None, PAUSED),
    (RUNNING, "send_sysrq"): Transition(None, RUNNING),
    (RUNNING, "send_trigger"): Transition(None, RUNNING),
    # Save and restore to a named file
    (RUNNING, "save"): Transition(None, HALTED),
    (PAUSED, "save"): Transition(None, HALTED),
    (HALTED, "restore"): Transition(None, RUNNING),
    (HALTED, "restore_paused"): Transition(None, PAUSED),
    # Live changes: a resident guest changed in place.
    (RUNNING, "set_VCPUs_number_live"): Transition(None, RUNNING),
    # static_max is for the next start (1.0's RW field; xm 3.1's mem-max): a resident
    # guest keeps the memory it was started with.
    (HALTED, "set_memory_static_max"): Transition(None, HALTED),
    (RUNNING, "set_memory_static_max"): Transition(None, RUNNING),
    (PAUSED, "set_memory_static_max"): Transition(None, PAUSED),
    (RUNNING, "add_to_VCPUs_params_live"): Transition(None, RUNNING),
    (PAUSED, "add_to_VCPUs_params_live"): Transition(None, PAUSED),
    # 1.0: live memory. The balloon target of a resident guest, moved at once.
    (RUNNING, "set_memory_dynamic_max_live"): Transition(None, RUNNING),
    (PAUSED, "set_memory_dynamic_max_live"): Transition(None, PAUSED),
    (RUNNING, "set_memory_dynamic_min_live"): Transition(None, RUNNING),
    (PAUSED, "set_memory_dynamic_min_live"): Transition(None, PAUSED),
    # Migration moves a resident guest to another host of a pool (refused: no pool).
    (RUNNING, "migrate"): Transition(None, RUNNING),
    (PAUSED, "migrate"): Transition(None, PAUSED),
}

# The control domain's VM: the machine the daemon runs in, under the UUID and name xend
# gave Xen's domain 0 (docs/api.md, "The control domain"); the other hosts of a pool
# have theirs under refs of their own (daemon/app.py). Only these fields of its record
# may be written; it has no row in TABLE or STILL.
CONTROL_DOMAIN = "00000000-0000-0000-0000-000000000000"
CONTROL_DOMAIN_NAME = "Domain-0"
CONTROL_DOMAIN_WRITABLE = ("name_description", "other_config")


def is_control_domain(record):
    """Whether a VM record (wire or stored, any revision's) is a control domain's, of
    this host or of another in its pool."""
    return record.get("is_control_domain") is True or record.get("uuid") == CONTROL_DOMAIN

# States in which the guest exists on the hypervisor, resident on the host.
LIVE_STATES = (RUNNING, PAUSED, SHUTTING_DOWN, UNKNOWN)

# States in which a VM holds its disks and NICs: resident, or saved (suspended) with
# them to resume. A device or a network it uses is then not to be changed under it.
HOLDING_STATES = LIVE_STATES + (SUSPENDED,)

# Changes that keep the power state -> the states in which each is allowed.
STILL = {
    # A VBD or VIF is created on a halted VM as a record, on a resident one by hot-plug;
    # a suspended VM's devices are frozen in its saved state.
    "plug": (HALTED, RUNNING, PAUSED),
    # Unplugging asks the guest to let go: a paused guest cannot answer.
    "unplug": (HALTED, RUNNING),
    # A VBD or VIF record is changed (rather than deleted and made anew) only while its
    # VM holds no device.
    "edit_device": (HALTED,),
    # A template is never started (§2.6.1), so it could never be stopped either.
    "make_template": (HALTED,),
    # 1.0: devices. An existing VBD or VIF is attached to a resident guest
    # (VBD.plug, VIF.plug) or detached from a running one, its record kept.
    "attach": (RUNNING, PAUSED),
    "detach": (RUNNING,),
    # A CD VBD's medium is changed in a halted VM's record, or live in the guest's drive.
    "media_change": (HALTED, RUNNING, PAUSED),
}


def require_transition(vm, state, op, control=False):
    """The Transition ``op`` makes in ``state``; VM_BAD_POWER_STATE [vm, the states that
    allow it, state] when the table has no such row. ``control``: the VM's record is a
    control domain's (is_control_domain)."""
    require_guest(vm, op, control)
    t = transition(state, op)
    if t is None:
        raise ApiError("VM_BAD_POWER_STATE", vm, ",".join(allowed_states(op)), state)
    return t


def require_still(vm, change, state, control=False):
    """VM_BAD_POWER_STATE [vm, allowed states, state] unless ``change`` (a key of STILL)
    is allowed while ``vm`` is in ``state``; ``control`` as for require_transition."""
    require_guest(vm, change, control)
    if state not in STILL[change]:
        raise ApiError("VM_BAD_POWER_STATE", vm, ",".join(STILL[change]), state)


def require_guest(vm, op, control=False):
    """OPERATION_NOT_ALLOWED naming the control domain when ``vm`` is one (``control``,
    or the fixed CONTROL_DOMAIN): the machine a daemon runs in is not started,
    stopped, copied, deleted or re-equipped through the API."""
    if control or vm == CONTROL_DOMAIN:
        raise ApiError("OPERATION_NOT_ALLOWED", "VM %s is the control domain (%s, the "
                       "machine the daemon runs in): %s is refused"
                       % (vm, CONTROL_DOMAIN_NAME, op))


def holds_devices(state):
    """Whether a VM in ``state`` holds its disks and NICs."""
    return state in HOLDING_STATES


# Operations a template may undergo; every other one fails with VM_IS_TEMPLATE.
TEMPLATE_OPS = frozenset(["clone", "delete"])

# Operations that make a VM run, refused while the host is disabled.
STARTING_OPS = frozenset(["start", "start_paused", "resume", "resume_paused", "restore",
                          "restore_paused"])


def table_op(op, start_paused=False):
    """The table's name for an API operation and its start_paused flag."""
    return op + "_paused" if start_paused and op in ("start", "resume", "restore") else op


def allowed_states(op):
    """The power states in which ``op`` is allowed, in table order."""
    return [state for (state, o) in TABLE if o == op]


def transition(state, op):
    """The Transition for ``op`` in ``state``, or None when the table forbids it."""
    return TABLE.get((state, op))


def describe():
    """The table as text lines, for help output and docs."""
    lines = []
    for (state, op), t in TABLE.items():
        via = " (shows %s meanwhile)" % t.transient if t.transient else ""
        lines.append("%-14s %-15s -> %s%s" % (state, op, t.final, via))
    return lines
