"""Opening a guest's console for the daemon's console proxy (transport/), which calls
this with what the client sent (``CONNECT /console?ref=...&session_id=...``) and then
pumps bytes between the client and the socket it gets.

The checks are the API's own, so that a console is reached by exactly the users who
could reach it through RPCs: a live session, a ref of a console the caller may see,
and for typing into it (the writer), the right to change its VM, which is the right
to start and stop it. A user who may see the VM but not change it only reads.
"""

from ..backend.base import BackendError
from .dispatch import Call
from .errors import ApiError


def open_console(app, session_ref, console_ref, writer=True, live=True):
    """``(socket, protocol, writer)``: a stream to console ``console_ref`` (its ref, which
    is its uuid) for the session ``session_ref``; with ``writer``, the client's bytes are
    typed into the guest where its user may change the VM, otherwise it only reads (the
    ``writer`` returned says which: the caller keeps a reader of an "rfb" display from
    sending input, which RFB cannot refuse per connection);
    without ``live``, it gets the console's history, then EOF (Backend.open_console).
    The caller closes the socket. Raises ApiError only: SESSION_INVALID,
    HANDLE_INVALID [console, ref], or the backend's error where the guest has no such
    console now (VALUE_NOT_SUPPORTED)."""
    call = Call(app, "console.open", app.sessions.check(session_ref))
    rec = app.store.get("console", console_ref) if isinstance(console_ref, str) else None
    if rec is None:
        raise ApiError("HANDLE_INVALID", "console", console_ref)
    app.handlers["console"].require_visible(call, console_ref)
    vm, protocol = rec["VM"], rec["protocol"]
    vms = app.handlers["VM"]
    vms.require_visible(call, vm)
    if writer:
        try:
            vms.may_write(call, vm)
        except ApiError:
            writer = False
    try:
        return app.backend.open_console(vm, protocol, writer, live), protocol, writer
    except BackendError as e:
        raise ApiError.of(e) from None
