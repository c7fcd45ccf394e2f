"""The file VM.save writes and VM.restore reads: a header, then the backend's state stream.

Layout: 8 bytes of magic (``XENDSAVE``), the format version and the header's length
(two big-endian 32-bit numbers), the header (JSON: the backend's name, the VM's record,
its VBDs with their VDIs' UUIDs and image paths, its VIFs with their networks, and the
stream's length), then the stream exactly as the backend's suspend wrote it. The
stream's length makes a truncated file known before anything is done with it.
"""

import json
import os
import shutil
import struct

from ..util.files import open_own

MAGIC = b"XENDSAVE"
VERSION = 1
_HEAD = struct.Struct(">8sII")
# A header larger than this is not one xend wrote (it holds a few records).
MAX_HEADER = 16 * 2 ** 20


class SaveFileError(Exception):
    """The file is no save file this daemon can restore; the message says why."""


def create(path):
    """The descriptor of the new, empty file ``path`` (0600), never an existing one:
    FileExistsError if there is one."""
    return open_own(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def write(fd, header, stream_path):
    """Write ``header`` (a dict) and the stream file ``stream_path`` to ``fd``, and sync."""
    header = dict(header, stream_bytes=os.path.getsize(stream_path))
    body = json.dumps(header, sort_keys=True).encode()
    with open(fd, "wb", closefd=False) as out, open(stream_path, "rb") as stream:
        out.write(_HEAD.pack(MAGIC, VERSION, len(body)) + body)
        shutil.copyfileobj(stream, out, 2 ** 20)
    os.fsync(fd)


def read_header(path, backend):
    """(header, the stream's offset) of the save file ``path`` for the ``backend``;
    SaveFileError if it is not one (no file, bad magic or header, another format
    version or backend, a length that does not match)."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD.size)
            if len(head) < _HEAD.size:
                raise SaveFileError("not a file VM.save wrote (too short)")
            magic, version, length = _HEAD.unpack(head)
            if magic != MAGIC:
                raise SaveFileError("not a file VM.save wrote")
            if version != VERSION:
                raise SaveFileError("format version %d (this daemon reads %d)"
                                    % (version, VERSION))
            if length > MAX_HEADER:
                raise SaveFileError("its header is too large")
            body = f.read(length)
            size = os.fstat(f.fileno()).st_size
    except OSError as e:
        raise SaveFileError(e.strerror or str(e)) from None
    try:
        header = json.loads(body)
        saved_by, stream_bytes, vm = header["backend"], header["stream_bytes"], header["vm"]
        if not (isinstance(vm["uuid"], str) and isinstance(vm["record"], dict)
                and isinstance(header["vbds"], list) and isinstance(header["vifs"], list)
                and isinstance(stream_bytes, int)):
            raise TypeError("a field of the wrong type")
    except (ValueError, KeyError, TypeError):
        raise SaveFileError("its header cannot be read") from None
    if saved_by != backend:
        raise SaveFileError("saved by the %s backend, and this daemon runs %s"
                            % (saved_by, backend))
    offset = _HEAD.size + length
    if size != offset + stream_bytes:
        raise SaveFileError("truncated or extended: %d bytes, not %d"
                            % (size, offset + stream_bytes))
    return header, offset


def extract(path, offset, length, dest):
    """Copy the stream (``length`` bytes at ``offset`` of ``path``) into the new private
    file ``dest``, which the backend's resume reads."""
    fd = open_own(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "wb") as out, open(path, "rb") as f:
        f.seek(offset)
        while length > 0:
            chunk = f.read(min(length, 2 ** 20))
            if not chunk:
                raise SaveFileError("truncated while it was read")
            out.write(chunk)
            length -= len(chunk)
