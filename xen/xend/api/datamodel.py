"""The Xen Management API, draft 0.2 and Xen-API 1.0, as data: the one source of truth.

Every class, field, enum, bound pair, extra message and error code of the spec
is declared once: the session, task, user and event classes, the bindings and
the class table here; the other classes by concern in model/ (vm.py, host.py,
network.py, storage.py), in the vocabulary of model/schema.py; the enums in
enums.py and the error codes in errortable.py. This module re-exports them all. The dispatch table,
type checks, getters and setters, constructors, records, the DTD, to_XML and
the API reference are all derived from these declarations; nothing about a
class is written anywhere else.

Reading guide:
  * ``Field(name, type, qual, desc)``: ``name`` as the spec prints it
    (``name/label``); its wire name replaces "/" by "_" (``name_label``).
  * ``RO_RUN`` fields are computed by the daemon, ``RO_INS`` are given at
    creation and never change, ``RW`` can be set at any time.
  * ``required=True`` marks a constructor field the client must supply; the
    others default to ``default`` (or the type's empty value).
  * What the daemon does with a field follows from its flags: ``lookup``
    (a get_by_<wire> RPC over a store index), ``indexed`` (the index only),
    ``host_path`` (a host file the guest is given, checked on every write),
    ``on_set`` (setting it does more than store it: the class handler's
    ``set_<wire>`` does the set). A class's ``stored`` says whether its
    objects survive a restart.
  * ``Message``: an extra RPC with its parameters, result, and, for VM
    operations, the lifecycle operation that decides which power states allow it.
  * Beyond the draft (marked ``extension=True``): fields and messages the
    later Xen-API made standard and that real clients use. The draft's own
    declarations are never changed by them.
  * Two revisions: the draft 0.2 and Xen-API 1.0 (Xen 3.1). ``since="1.0"``
    marks the names 1.0 added. Where the revisions disagree about one name
    (its type, arity or meaning), it is declared once per revision with
    ``rev``, and a session sees its own revision's (REVISIONS; docs/api.md
    lists every disagreement). A name 1.0 gave to a value the draft already
    had is declared ``same_as`` that value (``Renamed``): one stored value
    with two names. A class with an ``owner`` has one object per object of
    that class, never stored: a view of the owner's record (VM_metrics).
"""

from . import renames  # noqa: F401  (conversions of renamed fields)
from .enums import (  # noqa: F401  (the datamodel's enumerations, re-exported)
    ENUMS,
    bios_boot_option,
    boot_type,
    console_protocol,
    cpu_feature,
    display_type,
    driver_type,
    on_crash_behaviour,
    on_normal_exit,
    task_allowed_operations,
    task_status_type,
    vbd_mode,
    vbd_type,
    vdi_type,
    vm_power_state,
)
from .errortable import ERRORS, Error  # noqa: F401  (the error codes, re-exported)
from .model.host import HOST, HOST_CPU, HOST_METRICS, POOL
from .model.network import NETWORK, PIF, PIF_METRICS, VIF, VIF_METRICS
from .model.schema import (  # noqa: F401  (the vocabulary, re-exported)
    REVISIONS,
    RO_INS,
    RO_RUN,
    ROOT_NAMED,
    RW,
    Binding,
    Class,
    Field,
    Message,
    Param,
    Renamed,
    draft_fields,
    in_record,
    name_fields,
    revision_of,
    seen_in,
    uuid_field,
)
from .model.storage import PBD, SR, VBD, VBD_METRICS, VDI
from .model.vm import CONSOLE, CRASHDUMP, VM, VM_GUEST_METRICS, VM_METRICS, VTPM
from .types import DateTime, Float, Int, Ref, Set, String, Struct

API_VERSION = "0.2"

# --------------------------------------------------------------------------
# Classes (§2.1, §2.4-§2.14).

SESSION = Class("session", "a session", [
    uuid_field(),
    # 1.0's document declares this_user a user ref and last_active an Int; its clients
    # (libxen, xm) and xend 3.1 used the name and a dateTime, as here.
    Field("this_user", String, RO_RUN, "short name of the user who logged in", extension=True),
    Field("originator", String, RO_RUN, "the client's name given at login", extension=True),
    Field("last_active", DateTime, RO_RUN, "time of the session's last call", extension=True),
    # 1.0: events, session, host facts
    Field("this_host", Ref("host"), RO_RUN, "the host the session is connected to",
          since="1.0"),
], messages=[
    Message("login_with_password",
            [Param("uname", String, "Username for login."),
             Param("pwd", String, "Password for login."),
             Param("version", String, "API version the client speaks", optional=True),
             Param("originator", String, "the client's name", optional=True)],
            Ref("session"),
            "Attempt to authenticate the user, returning a session_id if successful",
            session=False),
    Message("logout", [], None, "Log out of a session"),
], creatable=False, deletable=False, asynchronous=False, stored=False)


TASK = Class("task", "a longrunning asynchronous task", [
    uuid_field(),
    Field("name/label", String, RO_RUN, "the method the task runs", extension=True,
          lookup=True),
    Field("name/description", String, RO_RUN, "a description of the task", extension=True),
    Field("status", task_status_type, RO_RUN, "current status", extension=True),
    Field("progress", Float, RO_RUN, "fraction complete, 0.0 to 1.0", extension=True,
          rev="0.2"),
    Field("ETA", DateTime, RO_RUN, "estimated time of completion", extension=True),
    Field("created", DateTime, RO_RUN, "time the task was created", extension=True),
    Field("finished", DateTime, RO_RUN, "time the task finished", extension=True),
    Field("result", String, RO_RUN, "the result, XML-RPC encoded, once finished", extension=True),
    Field("error_info", Set(String), RO_RUN, "the error code and parameters on failure",
          extension=True),
    Field("user", String, RO_RUN, "short name of the user who owns the task", extension=True),
    # 1.0
    Field("progress", Int, RO_RUN, "percentage complete, 0 to 100", since="1.0", rev="1.0",
          same_as=Renamed(("progress",), read=renames.fraction_to_percent)),
    # 1.0: task's own fields
    Field("type", String, RO_RUN, "the type of the result once the task has succeeded "
          "(\"VM ref\", ...); \"\" for a call with no result, and while the task is "
          "pending or if it failed", since="1.0"),
    Field("session", Ref("session"), RO_RUN, "the session that made the task; null once "
          "that session has ended", since="1.0"),
    Field("allowed_operations", Set(task_allowed_operations), RO_RUN,
          "[Cancel] while the task may be cancelled (queued, or in a stage that stops when "
          "asked); [] otherwise", since="1.0"),
], messages=[
    # In 1.0 sessions task.get_status is the status field's getter.
    Message("get_status", [Param("task", Ref("task"), "The ID of the RPC call to poll")], String,
            "Poll a running asynchronous RPC invocation and query its status (an XML string)",
            rev="0.2"),
    Message("get_all_tasks", [], Set(Ref("task")),
            "List all asynchronous RPC calls currently executing"),
    Message("cancel", [Param("task", Ref("task"))], None, "Ask a running task to stop",
            extension=True),
    Message("get_status_struct", [Param("task", Ref("task"), "The ID of the RPC call to poll")],
            Struct("task_status"),
            "The task_status struct of §1.4.3: {Progress: 0-100, ETA, Result} where Result is "
            "the finished call's complete Status struct once Progress is 100 "
            "(Async.Task.GetStatus)", extension=True),
    # Disk image transfer
    Message("create", [Param("label", String, "the task's name/label"),
                       Param("description", String, "the task's name/description")],
            Ref("task"),
            "A pending task of the caller's, for an operation the caller starts on its own "
            "(PUT /import_raw_vdi or GET /export_raw_vdi with task_id=): that operation "
            "reports its progress and outcome on it", extension=True),
], creatable=False, asynchronous=False, stored=False)


USER = Class("user", "a user of the system", [
    uuid_field(),
    Field("short_name", String, RO_INS, "short name (e.g. userid)", required=True, lookup=True),
    Field("fullname", String, RW, "full name"),
], messages=[
    Message("set_password", [Param("user", Ref("user"), "the user"),
                             Param("password", String, "the new password")], None,
            "Set the user's password (root only; stored as a scrypt hash, never readable)",
            root_only=True, extension=True),
])


EVENT = Class("event", "changes to objects, as in the later Xen-API", [], messages=[
    Message("register", [Param("classes", Set(String), "class names, \"*\", or class/ref; "
                               "none: every class")],
            None, "Subscribe this session to events of the given classes (for event.next)"),
    Message("unregister", [Param("classes", Set(String))], None,
            "Remove subscriptions made with register"),
    Message("next", [], Set(Struct("event record")),
            "Block until events arrive for the registered classes; returns them"),
    Message("from", [Param("classes", Set(String), "class names, \"*\", or class/ref"),
                     Param("token", String, "\"\" for from the start, else a returned token"),
                     Param("timeout", Float, "seconds to wait for an event")],
            Struct("event batch"),
            "Events since token: {events, valid_ref_counts, token}"),
], creatable=False, deletable=False, objects=False, asynchronous=False, stored=False,
   extension=True)


CLASSES = {c.name: c for c in (SESSION, TASK, VM, HOST, HOST_CPU, NETWORK, VIF, SR, VDI, VBD,
                               USER, CONSOLE, EVENT,
                               VM_METRICS,
                               # 1.0: metrics
                               VM_GUEST_METRICS, HOST_METRICS, VIF_METRICS, VBD_METRICS,
                               # 1.0: host's interfaces, storage and objects
                               PIF, PIF_METRICS, PBD, CRASHDUMP, VTPM, POOL)}


# Other spellings of methods, and the methods that answer them: the spec's own of two task
# calls (§1.4.3), and the SDK's of event.from.
ALIASES = {
    "Async.Task.GetStatus": "task.get_status_struct",
    "Async.Task.GetAllTasks": "task.get_all_tasks",
    # 1.0: events. The SDK's spelling of event.from, which Python cannot write as
    # x.event.from ("from" is a keyword).
    "event_from": "event.from",
}



BINDINGS = [
    Binding("VBD", "VDI", "VDI", "VBDs", "refuse", "many-to-one"),
    Binding("VDI", "parent", "VDI", "children", "refuse", "one-to-many"),
    Binding("VBD", "VM", "VM", "VBDs", "cascade", "one-to-many"),
    Binding("VIF", "VM", "VM", "VIFs", "cascade", "one-to-many"),
    Binding("VIF", "network", "network", "VIFs", "refuse", "one-to-many"),
    Binding("VDI", "SR", "SR", "VDIs", "refuse", "many-to-one"),
    Binding("VM", "resident_on", "host", "resident_VMs", "refuse", "many-to-one"),
    Binding("host_cpu", "host", "host", "host_CPUs", "cascade", "many-to-one"),
    Binding("console", "VM", "VM", "consoles", "cascade", "one-to-many"),
    # 1.0: host's interfaces, storage and objects
    Binding("crashdump", "VM", "VM", "crash_dumps", "cascade", "one-to-many"),
    Binding("crashdump", "VDI", "VDI", "crash_dumps", "refuse", "one-to-many"),
    Binding("VTPM", "VM", "VM", "VTPMs", "cascade", "one-to-many"),
]



def binding_of_set(cls, wire):
    """The Binding whose Set side is cls.wire, or None."""
    return _BY_SET.get((cls, wire))



def binding_of_ref(cls, wire):
    """The Binding whose Ref side is cls.wire, or None."""
    return _BY_REF.get((cls, wire))



_BY_SET = {(b.set_class, b.set_field): b for b in BINDINGS}

_BY_REF = {(b.ref_class, b.ref_field): b for b in BINDINGS}



def all_fields():
    """Yield (Class, Field) for every field of every class."""
    for c in CLASSES.values():
        for f in c.fields:
            yield c, f
