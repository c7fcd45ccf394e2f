"""SRs over what the administrator already has: a directory of images, an ISO library,
block devices. Their files are never the daemon's: it reads what is there, makes a VDI
that *is* each file (no copy), and removes nothing it did not make.

Three types, registered in srdrivers.SR_TYPES beside dir and file:

  * ``image``: a directory of raw and qcow2 images, each file's format found by
    ``qemu-img info`` (never guessed from its name). VDI.delete removes an image
    (that is asking for it); VM deletion, VDI.forget and SR.forget never do;
  * ``iso``: a read-only library of ``.iso`` files, attached to guests as CD-ROMs;
  * ``block``: block devices (an LVM volume group's directory, /dev/disk/by-id),
    root's only.

None makes new empty images or clones. A snapshot of an image SR's VDI (VM.clone
makes them) is a full sparse copy beside it, refused while a guest writes the original
(a qcow2 overlay would have to rename the administrator's file); the copy is the
daemon's (VDI.managed). The directory is never
made nor removed by the daemon (attach checks it exists, detach does nothing).
"""

import json
import os
import stat

from ..api.errors import ApiError
from .srdrivers import (
    MAX_QCOW2_BYTES,
    ImageDirSR,
    _qemu_img,
    allocated,
    check_room,
    copy_sparse,
)

# The names SR.scan takes for disk images in an image SR; any other file (notes, a
# kernel, a half-copied download) is left alone unless VDI.introduce names it.
IMAGE_SUFFIXES = (".img", ".raw", ".qcow2", ".qcow", ".disk")


class AdoptedSR(ImageDirSR):
    """What the three types share: an existing directory whose members are adopted."""

    adopts = True
    read_only = False      # its VDIs may only be attached read-only
    root_only = False      # only root may introduce it or adopt its members
    deletes_images = False  # VDI.delete may remove the member (else: VDI.forget only)
    cdrom = False          # its VDIs are CD-ROM drives in guests

    def attach(self, location, config=None):
        if not os.path.isdir(location):
            raise ApiError("INVALID_VALUE", "location",
                           "%s (not an existing directory)" % location)

    def detach(self, location, config=None):
        """The directory is the administrator's: it stays, empty or not."""

    def create(self, location, vdi, size):
        raise ApiError("VALUE_NOT_SUPPORTED", "SR.type", self.type,
                       "an SR of existing images makes no new ones: VDI.introduce or "
                       "SR.scan adopts the images in its directory")

    def resize(self, path, size):
        raise ApiError("VALUE_NOT_SUPPORTED", "SR.type", self.type,
                       "the images of a %s SR are not resized" % self.type)

    def clone(self, location, new_location, leaves, reserve=0):
        raise ApiError("VALUE_NOT_SUPPORTED", "SR.type", self.type,
                       "an SR of existing images is not cloned")

    def wanted(self, entry):
        """Whether SR.scan adopts the directory entry ``entry`` (os.DirEntry)."""
        return (not entry.name.startswith(".") and entry.is_file()
                and entry.name.lower().endswith(self.suffixes))

    def members(self, location):
        """The paths SR.scan adopts in ``location``, sorted."""
        return sorted(e.path for e in os.scandir(location) if self.wanted(e))

    # What a member is: a test of its st_mode (links followed), and its name.
    is_kind = staticmethod(stat.S_ISREG)
    kind = "a regular file"

    def check_kind(self, path):
        """INVALID_VALUE [location, why] unless ``path`` is a member's kind of file."""
        try:
            mode = os.stat(path).st_mode
        except OSError as e:
            raise ApiError("INVALID_VALUE", "location", "%s (%s)" % (path, e.strerror)) from None
        if not self.is_kind(mode):
            raise ApiError("INVALID_VALUE", "location", "%s (not %s)" % (path, self.kind))

    def probe(self, path):
        """(format, size in bytes) of the member ``path``; INVALID_VALUE or
        VALUE_NOT_SUPPORTED [location, ...] where it cannot be a VDI."""
        self.check_kind(path)
        return "raw", os.path.getsize(path)

    def chain(self, location, leaf):
        return set()


class ImageSR(AdoptedSR):
    """type "image": existing raw and qcow2 images."""

    type = "image"
    deletes_images = True
    max_size = MAX_QCOW2_BYTES
    suffixes = IMAGE_SUFFIXES

    def probe(self, path):
        self.check_kind(path)
        info = json.loads(_qemu_img("info", "-U", "--output=json", path))
        fmt = info.get("format")
        if fmt not in ("raw", "qcow2"):
            raise ApiError("VALUE_NOT_SUPPORTED", "location", path,
                           "a %s image; xend serves raw and qcow2 images" % fmt)
        return fmt, int(info["virtual-size"])

    def backing_files(self, path):
        """The files ``path``'s qcow2 header chain reads, itself excluded."""
        info = json.loads(_qemu_img("info", "-U", "--output=json", "--backing-chain", path))
        return [i["filename"] for i in info[1:]]

    def snapshot(self, location, leaf, snap, reserve=0):
        """A sparse copy of ``leaf`` (not in use) named after ``snap``, in its format;
        returns its path, and None: ``leaf`` is left as it was."""
        path = os.path.join(location, "%s.%s" % (snap, self.probe(leaf)[0]))
        check_room(location, allocated(leaf), reserve)
        copy_sparse(leaf, path)
        return path, None

    def resize(self, path, size):
        fmt, _ = self.probe(path)
        _qemu_img("resize", "-q", "-f", fmt, path, str(size), size=size, image=path)


class IsoSR(AdoptedSR):
    """type "iso": a read-only library of ISO images, attached as CD-ROM drives."""

    type = "iso"
    read_only = True
    cdrom = True
    suffixes = (".iso",)


class BlockSR(AdoptedSR):
    """type "block": block devices of a directory such as /dev/vg0 (root only)."""

    type = "block"
    root_only = True
    is_kind = staticmethod(stat.S_ISBLK)
    kind = "a block device"

    def wanted(self, entry):
        try:
            return self.is_kind(os.stat(entry.path).st_mode)   # links to /dev/dm-N too
        except OSError:
            return False

    def probe(self, path):
        self.check_kind(path)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return "raw", os.lseek(fd, 0, os.SEEK_END)
        finally:
            os.close(fd)


ADOPTING_TYPES = (ImageSR(), IsoSR(), BlockSR())
