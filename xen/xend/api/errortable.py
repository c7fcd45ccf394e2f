"""The error codes of the Xen Management API and of this daemon: part of the datamodel
(datamodel.py re-exports them), kept apart only for length.

Every Failure the server sends is one of these; an entry declares the code, its
parameters in wire order, what it means (the API reference) and the one line xm
prints for it (a str.format of the parameter names). errors.py checks the parameter
count of every ApiError against it.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Error:
    code: str
    params: tuple        # the parameters' names, in the order they travel
    doc: str             # what it means and what its parameters hold
    sentence: str        # xm's one-line explanation, e.g. "{vm} is {actual}; ..."


ERRORS = {e.code: e for e in (
    Error("SESSION_AUTHENTICATION_FAILED", ("user", "msg"),
          "login_with_password refused the user name `user`; `msg` says why (the same "
          "\"Authentication failure\" for an unknown user and a wrong password, or a "
          "lockout after too many failures, or too many logins at once)",
          "cannot log in as {user}: {msg}"),
    Error("SESSION_INVALID", ("handle",),
          "the session ref `handle` names no live session: never issued, logged out, "
          "expired, or revoked with its user; empty when the call gave no session",
          "the session is no longer valid (expired or logged out)"),
    Error("SESSION_NOT_REGISTERED", ("handle",),
          "event.next was called by the session `handle`, which has no event.register "
          "subscription",
          "the session has not registered for events (event.register)"),
    Error("HANDLE_INVALID", ("class", "handle"),
          "`handle` is not a ref of an object of class `class`: no such object (or one "
          "the caller may not see), an object of another class, or a null ref where one "
          "is required",
          "there is no {class} {handle}"),
    Error("UUID_INVALID", ("class", "uuid"),
          "get_by_uuid found no object of class `class` with UUID `uuid`",
          "there is no {class} with UUID {uuid}"),
    Error("MESSAGE_METHOD_UNKNOWN", ("method",),
          "the server has no method `method` (nor an Async form of it, where the class "
          "has none)",
          "this server has no method {method}"),
    Error("MESSAGE_PARAMETER_COUNT_MISMATCH", ("method", "expected", "received"),
          "`method` was called with `received` parameters (the session included in "
          "neither count) where it takes `expected`; for a method with optional trailing "
          "parameters `expected` is the bound that was missed",
          "{method} takes {expected} parameters, not {received}"),
    Error("FIELD_TYPE_ERROR", ("field",),
          "the value given for the parameter or field `field` has the wrong type (a "
          "string for a bool, a constructor record that is not a struct, ...)",
          "{field} has the wrong type"),
    Error("FIELD_MISSING", ("field",),
          "a constructor record lacks the required field `field`",
          "{field} is required"),
    Error("FIELD_UNKNOWN", ("field",),
          "a constructor record names a field `field` the class does not have",
          "there is no field {field}"),
    Error("FIELD_READ_ONLY", ("field",),
          "a write (set/add_to/remove_from/constructor) names the read-only field `field`",
          "{field} is read-only"),
    Error("INVALID_VALUE", ("field", "value"),
          "`value` has the right type for `field` but is not one it may hold (out of "
          "range, not an enum member, a malformed address or path, a name in use); "
          "`value` may end with the reason in parentheses",
          "{field} cannot be {value}"),
    Error("VALUE_NOT_SUPPORTED", ("field", "value", "reason"),
          "`field` = `value` is valid in the API but this host or backend cannot do it; "
          "`reason` says why",
          "{field} = {value} is not supported: {reason}"),
    Error("VM_BAD_POWER_STATE", ("vm", "expected", "actual"),
          "the VM `vm` is `actual`, and the operation needs one of the power states "
          "`expected` (comma-separated)",
          "{vm} is {actual}; this needs {expected}"),
    Error("VM_IS_TEMPLATE", ("vm",),
          "the VM `vm` is a template, which is never started: only clone and delete "
          "apply to it",
          "{vm} is a template; templates can only be cloned or deleted"),
    Error("OPERATION_NOT_ALLOWED", ("reason",),
          "the call is refused in the objects' present state; `reason` says why",
          "{reason}"),
    Error("OTHER_OPERATION_IN_PROGRESS", ("class", "object"),
          "another lifecycle operation holds the `class` `object` (a VM) and this one "
          "cannot wait for it or overtake it",
          "another operation is in progress on {class} {object}"),
    Error("OBJECT_IN_USE", ("class", "object", "holder_class", "holders"),
          "deleting the `class` `object` would leave the `holder_class` objects "
          "`holders` (comma-separated) pointing at a missing one",
          "{class} {object} is in use by {holder_class} {holders}"),
    Error("PERMISSION_DENIED", ("msg",),
          "the session's user may not make this call (root-only methods, the host's "
          "own objects, users); `msg` says which rule applies",
          "permission denied: {msg}"),
    Error("HOST_DISABLED", ("host",),
          "the host is disabled and refuses new starts and resumes",
          "host {host} is disabled and starts no VMs"),
    Error("HOST_NOT_LIVE", ("host",),
          "the host cannot renew its lease on the pool's database (docs/pool.md, \"Host "
          "failure\"): it has stopped its guests and starts none until the lease is renewed",
          "host {host} is not live in its pool and starts no VMs"),
    Error("HOST_NOT_ENOUGH_FREE_MEMORY", ("needed", "available"),
          "the host asked to run the VM has not the memory it needs: `needed` bytes (its "
          "memory/static_max), `available` the bytes free there (its lease's figure) "
          "(docs/pool.md, \"Placement\")",
          "not enough free memory: {needed} bytes needed, {available} available"),
    Error("VM_REQUIRES_SR", ("vm", "sr"),
          "the VM has a disk in SR `sr`, which the host asked to run it does not reach "
          "(a local SR is its own host's alone) (docs/pool.md, \"Placement\")",
          "VM {vm} needs SR {sr}, which that host cannot reach"),
    Error("HOST_OFFLINE", ("host",),
          "the call needs another member of the pool, `host`, which could not be reached "
          "over the pool channel (no address, not answering, or refusing this host; the "
          "log says which) (docs/pool.md, \"Host-to-host calls\")",
          "host {host} could not be contacted"),
    Error("HOST_NOT_DISABLED", ("host",),
          "host shutdown/reboot asked for while the host is enabled",
          "host {host} must be disabled first (host-disable)"),
    Error("HOST_HAS_RESIDENT_VMS", ("host", "vms"),
          "host shutdown/reboot asked for while VMs are resident on it; `vms` lists them "
          "(comma-separated)",
          "host {host} still runs VMs: {vms}"),
    Error("HOST_POWER_COMMAND_UNSET", ("host", "operation"),
          "host shutdown/reboot asked for but no power command is configured; "
          "`operation` is \"shutdown\" or \"reboot\"",
          "host {host} has no {operation} command configured"),
    Error("TASK_CANCELLED", ("task",),
          "the asynchronous call of task `task` was cancelled (task.cancel) before it "
          "finished; this is the task's error_info",
          "the operation was cancelled (task {task})"),
    Error("TOO_MANY_PENDING_TASKS", (),
          "an Async call was refused because the configured number of pending tasks "
          "(max_pending_tasks) is reached",
          "the server is busy: too many operations are pending"),
    Error("TOO_MANY_PENDING_TASKS_OF_USER", ("user", "limit"),
          "an Async call was refused because `user` already has `limit` tasks pending "
          "(max_pending_tasks_per_user): one user cannot fill the task queue for all",
          "{user} has {limit} operations pending already"),
    Error("EVENTS_LOST", (),
          "the events the caller asked for are gone: its token or cursor is older than "
          "the event log's oldest event, or from an earlier run of the daemon; re-read "
          "the objects and start again from \"\"",
          "events were lost; read the objects again and start over"),
    Error("EVENT_SUBSCRIPTION_PARSE_FAILURE", ("subscription",),
          "an event.register/unregister/from class `subscription` is not \"*\", a class "
          "name or class/ref",
          "{subscription} is not an event subscription (a class, class/ref or *)"),
    Error("EVENT_FROM_TOKEN_PARSE_FAILURE", ("token",),
          "the event.from `token` is not \"\" nor a token event.from returned",
          "{token} is not an event token"),
    Error("VDI_IN_USE", ("vdi", "operation"),
          "`operation` (attach, resize, set_read_only, set_sharable) is refused because "
          "VMs hold the VDI `vdi` in a way it contradicts: attached read-write elsewhere, "
          "running with it, or sharing a disk that would stop being sharable",
          "VDI {vdi} is in use; {operation} is refused"),
    Error("VM_STATE_FILE_MISSING", ("path",),
          "resume found no saved state at `path`; the VM stays Suspended",
          "the saved state {path} is missing; the VM stays Suspended"),
    Error("VM_STATE_FILE_CORRUPT", ("path",),
          "resume could not read the saved state at `path`; the VM stays Suspended",
          "the saved state {path} cannot be read; the VM stays Suspended"),
    Error("VM_SHUTDOWN_TIMEOUT", ("vm", "timeout"),
          "the guest `vm` did not shut down or reboot within `timeout` seconds; it keeps "
          "running",
          "{vm} did not shut down within {timeout} seconds; it keeps running"),
    Error("DEVICE_DETACH_TIMEOUT", ("class", "ref", "timeout"),
          "the guest did not release the `class` (VBD or VIF; or vCPU, `ref` then being "
          "the VM and the vCPU's number, VM/N) `ref` within `timeout` seconds; it keeps "
          "the device, and the record stays",
          "the guest did not release {class} {ref} within {timeout} seconds; it keeps it"),
    Error("SR_FULL", ("requested", "maximum"),
          "the call needs `requested` bytes more than the SR has, and `maximum` are "
          "left: a VDI.create, resize, snapshot or copy would take the bytes the SR's "
          "VDIs promise (virtual_allocation) beyond its physical_size times "
          "sr_overcommit_ratio, or a copy of written image data (a snapshot on a file "
          "SR, SR.clone) needs more than its file system has free",
          "the SR is full: {requested} bytes asked for, {maximum} available"),
    Error("HOST_STATE_FULL", (),
          "the file system of the daemon's state directory had no room to record the "
          "change; nothing was changed (images a call made are removed again)",
          "the daemon's state directory is full; nothing was changed"),
    Error("HOST_STATE_UNAVAILABLE", (),
          "the daemon cannot reach the database its objects are kept in (the store on "
          "PostgreSQL, the configuration's database key), so it cannot record the change; "
          "nothing was changed. Reads go on from the daemon's copy, and writes work "
          "again once the database answers",
          "the daemon's database cannot be reached; nothing was changed"),
    # Save and restore to a named file
    Error("VM_SAVE_FILE_INVALID", ("path", "reason"),
          "VM.restore cannot use the file `path`: missing, not written by VM.save, "
          "truncated, of another format version or backend, or a guest state the backend "
          "cannot load; `reason` says which. Nothing was changed",
          "{path} cannot be restored: {reason}; nothing was changed"),
    Error("VDI_MISSING", ("vdi", "path"),
          "VM.restore made no VM: the saved VM's disk, the VDI `vdi` with the image "
          "`path`, is not on this host (no VDI of that UUID, nor one of that image)",
          "the saved VM's disk {vdi} ({path}) is not on this host; nothing was changed"),
    # A suspend the guest does not answer
    Error("VM_FAILED_SUSPEND_ACK", ("vm",),
          "the guest `vm` did not answer the hypervisor's suspend request (a kernel still "
          "booting, a paused guest, one that cannot suspend): nothing was saved and it "
          "stays as it was",
          "{vm} did not answer the suspend request; it stays as it was"),
    # A live migration between two hosts' backends
    Error("VM_MIGRATE_FAILED", ("vm", "reason"),
          "the live migration of the guest `vm` to another host failed or was refused; "
          "`reason` says why (the hypervisor's words): the guest keeps running where it "
          "ran and nothing of it is left on the other host",
          "{vm} could not be migrated: {reason}; it keeps running where it was"),
    Error("INTERNAL_ERROR", ("message",),
          "a fault of the daemon or of a tool it runs (qemu-img, xl, ...), never the "
          "caller's; `message` names it, without a traceback (that goes to the log)",
          "internal error in xend: {message}"),
    # Disk image transfer
    Error("VDI_TOO_SMALL", ("vdi", "minimum_size"),
          "an image sent to PUT /import_raw_vdi holds `minimum_size` bytes (its virtual "
          "size, or a raw body's length), more than the VDI `vdi` holds; grow the VDI "
          "(VDI.set_virtual_size) to at least that first",
          "VDI {vdi} is too small: the image holds {minimum_size} bytes"),
    # 1.0: error codes of Xen-API 1.0
    Error("VM_HVM_REQUIRED", ("vm",),
          "the operation needs the VM `vm` to be an HVM guest (bios boot, emulated devices)",
          "{vm} must be an HVM guest for this"),
    Error("NETWORK_ALREADY_CONNECTED", ("network", "PIF"),
          "a PIF was to be made on the network `network`, which the PIF `PIF` connects to "
          "the host already",
          "network {network} has a PIF already: {PIF}"),
    Error("PIF_IS_PHYSICAL", ("PIF",),
          "the PIF `PIF` is a device of the host itself (not a VLAN made through the API), "
          "so it cannot be destroyed",
          "PIF {PIF} is a physical interface of the host and cannot be destroyed"),
    Error("VLAN_TAG_INVALID", ("VLAN",),
          "the VLAN tag `VLAN` is not a whole number from 0 to 4094 (4095 is reserved "
          "by 802.1Q, and Linux refuses it)",
          "{VLAN} is not a VLAN tag (0 to 4094)"),
    # pool.join (the later API's codes; docs/pool.md, "Membership")
    Error("POOL_JOINING_HOST_MUST_BE_STANDALONE", ("host",),
          "the host `host` is a member of a pool already (its store is a pool's "
          "database): only a standalone host joins a pool",
          "host {host} is in a pool already; only a standalone host joins one"),
    Error("POOL_JOINING_HOST_NOT_CONFIGURED", ("key",),
          "the joining host's configuration does not name `key` (pool_database, the "
          "pool's database, and database_password_file, its password, are set by the "
          "administrator before a join)",
          "set {key} in this host's configuration before it joins a pool"),
    Error("POOL_JOINING_HOST_CANNOT_CONTACT_MASTER", ("address", "reason"),
          "the master at `address` could not be reached over HTTPS, or did not answer "
          "as a pool's master; `reason` says why",
          "cannot reach the pool's master at {address}: {reason}"),
    Error("POOL_JOINING_HOST_AUTHENTICATION_FAILED", ("user", "reason"),
          "the master refused the login of `user`, or that user is not root there; "
          "`reason` says which",
          "the pool's master refused {user}: {reason}"),
    Error("POOL_JOINING_HOST_WRONG_DATABASE", ("pool",),
          "the database pool_database names does not hold the pool `pool`, the master's",
          "pool_database is not the database of pool {pool}"),
    Error("POOL_JOINING_HOST_NAME_CLASH", ("name",),
          "a host of the pool has the joining host's name_label `name` already; nothing "
          "was moved",
          "a host of the pool is named {name} already"),
    Error("POOL_JOINING_HOST_UUID_CLASH", ("class", "uuid"),
          "the pool's database has an object with the UUID `uuid` of the joining host's "
          "`class` already; nothing was moved",
          "the pool has {class} {uuid} already"),
)}
