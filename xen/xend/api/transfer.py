"""Disk images in and out of VDIs: what PUT /import_raw_vdi and GET /export_raw_vdi
do once the transport has read a request's head (as xapi's routes of those names).

Everything that can be checked before the body is: the session, the VDI, the right to
write it (the same as VDI's setters), the format, a raw body's length against the
VDI's size, a VDI held by a VM (VDI_IN_USE), the task. Only then does the transport
read the body (and answer ``100 Continue``).

An import never writes the VDI's image in place: the body goes to a new file beside
it (blocks of zeros left holes), is checked (length, qcow2 header and tables,
virtual size) and converted to the SR's format with qemu-img where the formats
differ, then renamed over the image while no VM holds the VDI. A body cut short,
a bad image or a full file system leaves the VDI as it was.

An export of a raw VDI as raw reads the image itself, holes sent as zeros without
reading the disk; any other pair is converted by qemu-img (through the VDI's
backing chain) to a file that is unlinked at once and streamed from its descriptor,
so a qcow2 export carries no clusters for holes. Either has a Content-Length.

Each transfer reports on a task: the caller's from task.create (``task_id``), or
a new one, named in the reply's ``Task-Id`` header; task.cancel stops it at the next
piece.
"""

import logging
import os
import uuid

from ..host import imagexfer, srdrivers
from ..util import progress, sparse
from ..util.files import sync_path, unlink_if_exists
from .dispatch import Call
from .errors import ApiError

log = logging.getLogger("xend.transfer")

IMPORT, EXPORT = "VDI.import", "VDI.export"   # the labels of the tasks they make

# What a qcow2 body may hold beyond the VDI's size: its header and tables (an image
# of only data clusters needs ~1/8000 of its size for them; this is generous).
_QCOW2_SLACK = 64 * 1024 * 1024
_SEND_SHARE = 0.9   # of an import's progress: receiving; the rest: checking, converting


class Transfer:
    """One checked transfer of a VDI's image: its file and format, the format on the
    wire, and the task reporting on it (``task``, once ``begin`` has made it)."""

    def __init__(self, app, session_ref, vdi, fmt, task_id, label):
        self.call = Call(app, label, session=app.sessions.check(session_ref))
        if app.store.class_of(vdi) != "VDI":
            raise ApiError("HANDLE_INVALID", "VDI", vdi)
        handler = app.handlers["VDI"]
        handler.require_visible(self.call, vdi)
        if label == IMPORT:
            handler.may_write(self.call, vdi)
        fmt = "raw" if fmt is None else fmt
        if fmt not in imagexfer.FORMATS:
            raise ApiError("INVALID_VALUE", "format", "%s (raw or qcow2)" % fmt[:40])
        self.app, self.vdi, self.format, self.label = app, vdi, fmt, label
        self.task_id = task_id
        self.record = app.store.get("VDI", vdi)
        private = app.store.private(vdi)
        self.path, self.vdi_format = private["path"], private.get("format", "qcow2")
        self.size = self.record["virtual_size"] * self.record.get("sector_size", 512)
        self.task = None

    def begin(self):
        """Take the task and make it the thread's operation (progress, cancel)."""
        self.task, tracker = self.app.tasks.drive(self.call, self.label, self.task_id)
        progress.install(tracker)

    def end(self, error=None):
        """End the task: success, or ``error`` (an ApiError)."""
        progress.install(None)
        self.app.tasks.end(self.task, error)

    def fail(self, error):
        """End the task with the exception ``error``; the ApiError to answer with (a
        fault of the daemon's is logged with its traceback and answered INTERNAL_ERROR)."""
        if isinstance(error, progress.Cancelled):
            error = ApiError("TASK_CANCELLED", self.task)
        elif not isinstance(error, ApiError):
            log.error("%s of VDI %s failed", self.label, self.vdi, exc_info=error)
            error = ApiError("INTERNAL_ERROR", type(error).__name__)
        self.end(error)
        return error

    def scratch(self, what):
        """A new file's path beside the VDI's image, for ``what`` (import, export)."""
        return os.path.join(os.path.dirname(self.path),
                            ".%s-%s-%s" % (what, self.vdi, uuid.uuid4().hex[:8]))


# -- import ---------------------------------------------------------------------

def open_import(app, session_ref, vdi, fmt, task_id, length):
    """A checked import of ``length`` body bytes into ``vdi``, its task begun.
    SESSION_INVALID, HANDLE_INVALID [VDI|task, ref], INVALID_VALUE [format, value],
    OPERATION_NOT_ALLOWED (a read-only VDI), VDI_IN_USE [vdi, import], VDI_TOO_SMALL
    [vdi, bytes]."""
    t = Transfer(app, session_ref, vdi, fmt, task_id, IMPORT)
    if t.record.get("read_only"):
        raise ApiError("OPERATION_NOT_ALLOWED", "VDI %s is read-only" % vdi)
    with app.domains.unheld_disk(vdi, "import"):
        pass    # refused now if held; checked again when the image is replaced
    limit = t.size if t.format == "raw" else t.size + t.size // 8 + _QCOW2_SLACK
    if length > limit:
        raise ApiError("VDI_TOO_SMALL", vdi, str(length))
    t.begin()
    return t


def receive(t, pieces, length):
    """Write the body ``pieces`` (bytes-like; they stop early when the client did) into
    the VDI of the import ``t`` and end its task. A failure (INVALID_VALUE [body, why]
    for a body cut short or not an image of its format, VDI_TOO_SMALL, VDI_IN_USE,
    SR_FULL, TASK_CANCELLED) leaves the VDI as it was and is raised after ending the
    task with it."""
    made = []
    try:
        with progress.cancellable():
            received = _receive_file(t, pieces, length, made)
            image = _checked_image(t, made, received)
            _replace(t, image)
    except Exception as e:
        raise t.fail(e) from None
    finally:
        for path in made:
            unlink_if_exists(path)
    t.end()


def _receive_file(t, pieces, length, made):
    """The body written to a new sparse file beside the image; the bytes received."""
    path = t.scratch("import")
    made.append(path)
    with srdrivers.full_is_sr_full(path, length):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        try:
            writer = sparse.SparseWriter(fd)
            received = 0
            for piece in pieces:
                writer.write(piece)
                received += len(piece)
                progress.report(_SEND_SHARE * received / max(length, 1))
                progress.checkpoint()
            writer.finish()
        finally:
            os.close(fd)
    if received != length:
        raise ApiError("INVALID_VALUE", "body", "it ended after %d of its %d bytes"
                       % (received, length))
    return received


def _checked_image(t, made, received):
    """The received file (made[0]) as an image in the VDI's format and size, checked;
    its path (a new file in ``made`` where it was converted)."""
    path = made[0]
    virtual = imagexfer.check_qcow2(path) if t.format == "qcow2" else received
    if virtual > t.size:
        raise ApiError("VDI_TOO_SMALL", t.vdi, str(virtual))
    if t.format != t.vdi_format or t.format == "qcow2":
        # A client's qcow2 is rewritten too: the VDI gets qemu-img's own image of the
        # data, whatever options (compression, odd cluster sizes) the sender chose.
        converted = t.scratch("import")
        made.append(converted)
        imagexfer.convert(path, t.format, converted, t.vdi_format)
        path = converted
    progress.report(0.95)
    if virtual < t.size:
        imagexfer.resize(path, t.vdi_format, t.size)
    # What the VDI will hold is on disk before the reply; a file only read on the way
    # (the body before its conversion) needs not be.
    sync_path(path)
    return path


def _replace(t, image):
    """Rename ``image`` over the VDI's image while no VM holds the VDI, and drop the
    bases (dir SRs) only the old image was built on."""
    sr = t.app.store.get("SR", t.record["SR"])
    d = srdrivers.driver(sr.get("type", "dir"))
    os.chmod(image, os.stat(t.path).st_mode & 0o777)
    with t.app.sr_lock(t.record["SR"]):
        dropped = d.chain(sr["location"], t.path)
        with t.app.domains.unheld_disk(t.vdi, "import"):
            os.replace(image, t.path)
            sync_path(os.path.dirname(t.path))    # the rename on disk before the reply
        d.collect(dropped, [t.app.store.private(v).get("path", "") for v in
                            t.app.store.referrers("VDI", "SR", t.record["SR"])])


# -- export -----------------------------------------------------------------------

def open_export(app, session_ref, vdi, fmt, task_id):
    """A checked export of ``vdi``, its task begun: (the transfer, the body's length,
    an iterator of its pieces). Close the iterator when done with it: it ends the task (a failure
    when it was not read to its end). SESSION_INVALID, HANDLE_INVALID [VDI|task, ref],
    INVALID_VALUE [format, value]; SR_FULL where the converted copy has no room."""
    t = Transfer(app, session_ref, vdi, fmt, task_id, EXPORT)
    t.begin()
    try:
        fd, size = _export_file(t)
    except Exception as e:
        raise t.fail(e) from None
    return t, size, _send(t, fd, size)


def _export_file(t):
    """(an open descriptor, the bytes to send) of the image in the export's format."""
    if t.format == t.vdi_format == "raw":
        return os.open(t.path, os.O_RDONLY | os.O_CLOEXEC), t.size
    path = t.scratch("export")
    try:
        imagexfer.convert(t.path, t.vdi_format, path, t.format)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    finally:
        unlink_if_exists(path)   # the descriptor keeps it until the export ends
    progress.report(0.3)
    return fd, (t.size if t.format == "raw" else os.fstat(fd).st_size)


def _send(t, fd, size):
    start = progress.current().fraction if progress.current() else 0.0
    sent = 0
    try:
        with progress.cancellable():
            for piece in sparse.read_pieces(fd, size):
                yield piece
                sent += len(piece)
                progress.report(start + (1 - start) * sent / max(size, 1))
                progress.checkpoint()
    except GeneratorExit:
        t.end(ApiError("OPERATION_NOT_ALLOWED", "the client stopped reading after %d of "
                       "%d bytes" % (sent, size)))
        raise
    except Exception as e:
        raise t.fail(e) from None
    else:
        t.end()
    finally:
        os.close(fd)
