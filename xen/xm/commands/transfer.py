"""Disk images in and out of virtual disks: PUT /import_raw_vdi, GET /export_raw_vdi."""

import os

from ..client import TRANSFER_BLOCK, XmError
from . import arg, command

FORMATS = ("raw", "qcow2")
_ZEROS = bytes(TRANSFER_BLOCK)   # as long as a block the client writes


def _format(opts, path):
    """The image format: --format, else the file's extension (.qcow2), else raw."""
    return opts.format or ("qcow2" if path.endswith(".qcow2") else "raw")


def _open(path, mode, verb):
    """The file ``path`` opened with ``mode``; XmError saying it cannot ``verb`` it."""
    try:
        return open(path, mode)
    except OSError as e:
        raise XmError("cannot %s %s: %s" % (verb, path, e.strerror))


def _args(file_help):
    """The arguments both commands take: VDI FILE [--format]."""
    return [arg("vdi", metavar="VDI", help="the disk's name or UUID"),
            arg("file", metavar="FILE", help=file_help),
            arg("--format", choices=FORMATS,
                help="the file's format (default: qcow2 for a .qcow2 file, else raw)")]


@command("vdi-import", "write a disk image into a virtual disk", "Networks and storage",
         args=_args("the image file to send"), details="""\
The image replaces the disk's contents; a smaller image leaves the disk its size.
The disk must be big enough and no running VM may use it. A failed or interrupted
import leaves the disk as it was. Shows the progress as it sends.""")
def vdi_import(client, opts):
    vdi = client.resolve("VDI", opts.vdi)
    with _open(opts.file, "rb", "read") as source:
        client.upload("/import_raw_vdi", source, os.fstat(source.fileno()).st_size,
                      "vdi-import", vdi=vdi, format=_format(opts, opts.file))


@command("vdi-export", "save a virtual disk as a disk image", "Networks and storage",
         args=_args("the image file to write (must not exist)"), details="""\
A raw image is the disk's bytes, its unwritten parts left holes in FILE; a qcow2
image holds only the written parts. FILE is removed again if the export fails.
Shows the progress as it receives.""")
def vdi_export(client, opts):
    vdi = client.resolve("VDI", opts.vdi)
    target = _open(opts.file, "xb", "write")
    try:
        with target:
            client.download("/export_raw_vdi", SparseFile(target), "vdi-export", vdi=vdi,
                            format=_format(opts, opts.file))
    except BaseException:
        os.unlink(opts.file)
        raise


class SparseFile:
    """A file written in blocks, a block of zeros skipped (left a hole) and the file's
    length set at the end, so that a raw export's holes stay holes."""

    def __init__(self, f):
        self.f = f

    def write(self, block):
        if _ZEROS.startswith(block):   # a memcmp: stops at the first data byte
            self.f.seek(len(block), os.SEEK_CUR)
        else:
            self.f.write(block)
        self.f.truncate(self.f.tell())
