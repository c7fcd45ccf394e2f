"""Disk images in and out of VDIs' files: what an image sent by a client is, and the
conversions between raw and qcow2 (qemu-img), for /import_raw_vdi and /export_raw_vdi.

An image from a client is hostile until checked: a qcow2 whose header names a backing
file or an external data file would make qemu-img open a host file of the sender's
choice, so ``check_qcow2`` reads the header itself and refuses those before qemu-img
ever opens the image, and then lets ``qemu-img check`` find tables that lie.
"""

import json
import logging
import os
import struct

from ..api.errors import ApiError
from .srdrivers import _qemu_img

log = logging.getLogger("xend.transfer")

FORMATS = ("raw", "qcow2")

_QCOW2_MAGIC = b"QFI\xfb"
# magic, version, backing_file_offset, backing_file_size, cluster_bits, size,
# crypt_method: the fields of every version's header (QEMU's docs/interop/qcow2.txt).
_HEADER = struct.Struct(">4sIQIIQI")
_INCOMPATIBLE = struct.Struct(">Q")   # version 3: incompatible features, at byte 72
_HEADER_BYTES = {2: 72, 3: 104}       # each version's header, at the least
_EXTERNAL_DATA_FILE = 1 << 2


def _not_qcow2(why):
    return ApiError("INVALID_VALUE", "body", "not a qcow2 image xend accepts: %s" % why)


def check_qcow2(path):
    """The virtual size of the qcow2 image a client sent to ``path``; INVALID_VALUE
    [body, why] when it is not one (bad magic or version), names a backing file or an
    external data file, is encrypted, or its tables do not check out."""
    with open(path, "rb") as f:
        head = f.read(_HEADER_BYTES[3])
    if len(head) < _HEADER.size:
        raise _not_qcow2("shorter than a qcow2 header")
    magic, version, backing_offset, _, _, _, crypt = _HEADER.unpack_from(head)
    if magic != _QCOW2_MAGIC or version not in _HEADER_BYTES:
        raise _not_qcow2("no qcow2 header")
    if len(head) < _HEADER_BYTES[version]:
        raise _not_qcow2("shorter than a qcow2 header")
    if backing_offset:
        raise _not_qcow2("it names a backing file")
    if crypt:
        raise _not_qcow2("it is encrypted")
    if version == 3 and _INCOMPATIBLE.unpack_from(head, 72)[0] & _EXTERNAL_DATA_FILE:
        raise _not_qcow2("it names an external data file")
    try:
        info = json.loads(_qemu_img("info", "-f", "qcow2", "--output=json", path))
        _qemu_img("check", "-q", "-f", "qcow2", path, timeout=None)
    except ApiError as e:
        # qemu-img's message names the scratch file, a host path: it goes to the log.
        log.info("a qcow2 image sent for import is refused: %s", e.description[-1][-300:])
        raise _not_qcow2("qemu-img finds it damaged") from None
    if info.get("backing-filename") or info.get("format") != "qcow2":
        raise _not_qcow2("it names a backing file")
    return int(info["virtual-size"])


def convert(src, src_format, dst, dst_format):
    """Write the image ``src`` (read through its backing chain, which is the daemon's
    own) to the new file ``dst`` in ``dst_format``, leaving zeros unallocated (holes
    in raw, no clusters in qcow2). Not flushed (qemu-img's default cache mode for
    convert): the caller syncs what it keeps. Runs as long as the copy takes."""
    _qemu_img("convert", "-q", "-U", "-f", src_format, "-O", dst_format, src, dst,
              image=dst, timeout=None)


def resize(path, fmt, size):
    """Grow the image ``path`` to ``size`` bytes: a raw file with a hole, a qcow2 one
    by its header (a smaller image imported into a larger VDI)."""
    if fmt == "raw":
        os.truncate(path, size)
    else:
        _qemu_img("resize", "-q", "-f", "qcow2", path, str(size), size=size, image=path)
