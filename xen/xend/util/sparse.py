"""Sparse files streamed in bounded pieces: holes found with SEEK_DATA/SEEK_HOLE on
the way out, and blocks of zeros left as holes on the way in.

Both directions hold at most one ``BLOCK`` in memory, whatever the file's size.
"""

import errno
import os

BLOCK = 1024 * 1024            # bytes read, written or compared at a time
_ZEROS = bytes(BLOCK)           # a hole is sent as views of this


def extents(fd, size):
    """(offset, length, is_data) of the file ``fd`` from 0 to ``size``, in order: its
    data and its holes as the file system reports them (SEEK_DATA/SEEK_HOLE). Where the
    file system cannot say, the whole file counts as data."""
    offset = 0
    while offset < size:
        try:
            data = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:   # nothing but a hole up to the end
                yield offset, size - offset, False
                return
            if e.errno != errno.EINVAL:
                raise
            yield offset, size - offset, True   # SEEK_DATA not supported here
            return
        data = min(data, size)
        if data > offset:
            yield offset, data - offset, False
        hole = min(os.lseek(fd, data, os.SEEK_HOLE), size)
        if hole > data:
            yield data, hole - data, True
        offset = hole


def read_pieces(fd, size, on_progress=None):
    """The first ``size`` bytes of the file ``fd`` as pieces of at most BLOCK bytes:
    data read from the file, holes as zeros never read from the disk. ``on_progress``
    is called with the bytes handed out so far after each piece."""
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    done = 0
    for offset, length, is_data in extents(fd, size):
        end = offset + length
        while offset < end:
            n = min(BLOCK, end - offset)
            if is_data:
                got = os.preadv(fd, [view[:n]], offset)
                if got <= 0:   # the file shrank meanwhile: the rest reads as zeros
                    is_data = False
                    continue
                n = got
                yield view[:n]
            else:
                yield memoryview(_ZEROS)[:n]
            offset += n
            done += n
            if on_progress is not None:
                on_progress(done)


class SparseWriter:
    """Writes a stream of bytes to the file ``fd`` from offset 0, leaving every
    BLOCK-aligned block of zeros a hole (the file is expected new and empty)."""

    def __init__(self, fd):
        self.fd = fd
        self.size = 0                   # bytes taken so far
        self._pending = bytearray()     # the start of the block being gathered

    def write(self, data):
        """Take the next bytes of the stream."""
        pending = self._pending
        view = memoryview(data)
        if not pending and len(view) == BLOCK:   # a whole block: written without a copy
            self._put(view)
            return
        while view:
            room = BLOCK - len(pending)
            pending += view[:room]
            view = view[room:]
            if len(pending) == BLOCK:
                self._flush()

    def _put(self, block):
        """Write ``block`` at the end of what was taken, unless it is all zeros
        (bytes.startswith is a memcmp, which stops at the first data byte; comparing
        memoryviews goes byte by byte, 30 times slower)."""
        if not _ZEROS.startswith(block):
            os.pwrite(self.fd, block, self.size)
        self.size += len(block)

    def _flush(self):
        self._put(self._pending)
        self._pending.clear()

    def finish(self, size=None):
        """Write what is left and give the file its length: the bytes taken, or
        ``size`` where that is larger (the rest a hole)."""
        if self._pending:
            self._flush()
        os.ftruncate(self.fd, max(self.size, size or 0))
