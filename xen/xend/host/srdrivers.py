"""Storage repositories on real files: the SR types behind SR, VDI and snapshot RPCs.

An SR type is a small class with the operations below; ``SR_TYPES`` names
them. The types over files the administrator already has (image, iso, block)
are in sradopt.py; the daemon's own two are a directory with one image file per
VDI, whose path the VDI's private data holds with its ``format``; what is common
to them (the directory, its figures, deleting, copying for SR.clone) is
``ImageDirSR``.

``shared-dir`` and ``nfs`` are ``dir`` on storage every host of a pool reaches (SR.shared
true): a directory the administrator shares, an NFS export the host mounts.

The default, ``dir``, is a directory of qcow2 images:

  * a VDI is one qcow2 file, its *leaf*, sparse: no data is preallocated, and the
    zero-filled tables qemu-img writes are made holes again (``dig_holes``);
  * a snapshot freezes the VDI's current image as a read-only *base* file and
    puts both the VDI and the snapshot on new overlays of it, so each writes to
    its own leaf and shares every unchanged block. When the VDI is attached to a
    running guest the hypervisor switches it to its new overlay
    (blockdev-snapshot-sync) and its old leaf becomes the base in place;
  * a base is kept while any leaf's backing chain uses it and removed when none
    does (``collect``).

``file`` is a directory of sparse raw images, which Xen serves through blkback
(qcow2 needs its device model) and which need no qemu-img:

  * a VDI is one sparse file; growing it extends the file with a hole;
  * raw has no backing chain, so a snapshot is a full copy that keeps the holes.
    A guest writing to the image would make that copy inconsistent, so a VDI in
    use by a running guest cannot be snapshotted (``live_snapshots`` is False).

Every operation that makes files removes them again if it fails half-way.
Paths never pass through a shell.
"""

import contextlib
import errno
import json
import os
import shutil
import subprocess
import uuid as uuidlib

from ..api.errors import ApiError
from ..api.values import check_path
from ..util import progress
from ..util.files import free_bytes, fs_size, spare_bytes, unlink_if_exists

QEMU_IMG = "qemu-img"
BASE_PREFIX = ".base-"

# The largest VDI, in bytes, an SR type makes unless a type says less: 64 PiB.
MAX_VDI_BYTES = 2 ** 56
# The largest qcow2 image qemu-img 7.2 creates with its default 64 KiB clusters (its L1
# table's limit): 2 PiB, found by bisecting ``qemu-img create -f qcow2``.
MAX_QCOW2_BYTES = 2 ** 51


def check_location(path, field, roots):
    """An SR location: a checked absolute path (values.check_path), never empty."""
    if path == "":
        raise ApiError("INVALID_VALUE", field, "(empty)")
    return check_path(path, field, roots)


def same_place(a, b):
    """Whether the paths ``a`` and ``b`` name one directory: the same path once
    symlinks are resolved, or the same device and inode (a bind mount)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:   # one of them is not there (yet): not one directory
        return False


def sr_full(path, requested):
    """SR_FULL [requested, maximum] for ``requested`` bytes that ``path``'s file system
    had no room for; maximum: what it has free now."""
    return ApiError("SR_FULL", str(requested), str(free_bytes(path)))


@contextlib.contextmanager
def full_is_sr_full(path, requested):
    """Turn the file system running out of room (ENOSPC, EDQUOT) for ``path`` into
    SR_FULL: the caller's request was too large for what is left, not a fault."""
    try:
        yield
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise sr_full(path, requested) from None
        raise


def _qemu_img(*args, size=None, image=None, timeout=120):
    """Run qemu-img; its stdout. ``size``: the image size asked for, in bytes, for the
    error when qemu-img finds it too large for the format; ``image``: the file it
    writes, for SR_FULL when its file system has no room left; ``timeout``: seconds
    (None for a copy of a whole image, bounded by its size, not by a clock)."""
    try:
        out = subprocess.run([shutil.which(QEMU_IMG) or QEMU_IMG] + list(args),
                             capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise ApiError("VALUE_NOT_SUPPORTED", "SR.type", "dir",
                           "qemu-img is not installed") from None
    if out.returncode != 0:
        message = out.stderr.strip()[-300:]
        if size is not None and "too large" in message:
            # The caller's size, not a fault of ours: say so, naming the field.
            raise ApiError("VALUE_NOT_SUPPORTED", "virtual_size", "%d bytes" % size, message)
        if image is not None and os.strerror(errno.ENOSPC) in message:
            raise sr_full(image, size or 0)
        raise ApiError("INTERNAL_ERROR", "qemu-img %s: %s" % (args[0], message))
    return out.stdout


def create_image(path, size, backing=None):
    """A qcow2 image of ``size`` bytes, or a copy-on-write child of ``backing``, taking
    no more blocks than its header and tables need; nothing is left at ``path`` if
    qemu-img fails (a file system that filled half-way)."""
    argv = ["create", "-q", "-f", "qcow2", "-o", "preallocation=off"]
    if backing:
        argv += ["-b", backing, "-F", "qcow2"]
    try:
        _qemu_img(*argv + [path] + ([str(size)] if size is not None else []), size=size,
                  image=path)
    except BaseException:
        unlink_if_exists(path)
        raise
    dig_holes(path)


def dig_holes(path, offset=0):
    """Make the blocks of ``path`` from ``offset`` on that hold only zeros holes again.
    qemu-img writes a qcow2 image's whole L1 table, all zeros until the guest writes,
    when it makes or grows the image: 32 MiB of the SR's file system for a 2 PiB disk.
    Best effort: where the file system cannot punch holes the image is still good,
    only not sparse."""
    try:
        subprocess.run(["fallocate", "--dig-holes", "--offset", str(offset), "--", path],
                       capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        pass


def backing_of(path):
    """The image ``path`` is a copy-on-write child of, or ""."""
    info = json.loads(_qemu_img("info", "-U", "--output=json", path))
    return info.get("full-backing-filename") or info.get("backing-filename") or ""


def allocated(path):
    """Bytes the image takes on disk (a sparse file's holes take none)."""
    try:
        return os.stat(path).st_blocks * 512
    except OSError:
        return 0


def check_room(path, requested, reserve=0):
    """SR_FULL [requested, maximum] unless ``path``'s file system (that of its nearest
    existing ancestor) has ``requested`` bytes free beyond ``reserve`` (the state
    directory's, where ``path`` is on its file system). Images are thin-provisioned:
    only copies of data already written (a raw snapshot, SR.clone) are checked."""
    room = spare_bytes(path, reserve)
    if requested > room:
        raise ApiError("SR_FULL", str(requested), str(room))


def copy_sparse(src, dst):
    """Copy ``src`` to a new file ``dst``, keeping holes (a raw image is mostly holes);
    a partial ``dst`` is removed if the copy fails (SR_FULL if the file system filled)."""
    try:
        out = subprocess.run(["cp", "--sparse=always", "--no-dereference", "--", src, dst],
                             capture_output=True, text=True)
    except BaseException:
        unlink_if_exists(dst)
        raise
    if out.returncode != 0:
        unlink_if_exists(dst)
        if os.strerror(errno.ENOSPC) in out.stderr:   # filled by another writer meanwhile
            raise sr_full(dst, allocated(src))
        raise ApiError("INTERNAL_ERROR", "cp %s: %s" % (src, out.stderr.strip()[-300:]))


class ImageDirSR:
    """What both SR types share: a directory with one image file per VDI. A type adds
    ``make_image(path, size)``, ``resize(path, size)`` and ``snapshot(location, leaf,
    snap, reserve)`` (of a VDI no running guest uses; ``reserve``: bytes a copy must
    leave free on the file system)."""

    type = format = None
    adopts = False           # an SR over existing files (sradopt.py), whose files are not ours
    shared = False           # every host of a pool reaches it (SR.shared), not one host's
    config_keys = ()         # the device_config keys SR.create must be given (nfs's)
    read_only = cdrom = root_only = False
    live_snapshots = False   # whether a VDI in use by a running guest can be snapshotted
    max_size = MAX_VDI_BYTES  # bytes; the SR's file system may hold less (EFBIG)

    def check_config(self, config):
        """The SR's device_config as SR.create was given it: INVALID_VALUE naming a key
        the type does not take, FIELD_MISSING naming one it needs and was not given."""
        for key in config:
            if key not in self.config_keys:
                raise ApiError("INVALID_VALUE", "device_config", "%s (an SR of type %s "
                               "takes %s)" % (key, self.type, " and ".join(self.config_keys)
                                              or "no device_config"))
        for key in self.config_keys:
            if not config.get(key):
                raise ApiError("FIELD_MISSING", "device_config:" + key)
        return dict(config)

    def device_config(self, location, config=None):
        """What a PBD shows of an SR of this type at ``location`` (its device_config):
        the location, the SR's own ``config`` (SR.create's device_config), and how
        the type keeps images there."""
        config = dict(config or {}, location=location)
        if self.format:
            config["format"] = self.format
        if self.adopts:    # the files are the administrator's (sradopt.py)
            config["adopted"] = "true"
        if self.read_only:
            config["read_only"] = "true"
        return config

    def attach(self, location, config=None):
        """Make the SR's directory (0700) if needed. ``config``: its device_config."""
        with full_is_sr_full(location, 0):
            os.makedirs(location, mode=0o700, exist_ok=True)

    def detach(self, location, config=None):
        """Remove the SR's directory if nothing is left in it (SR.delete)."""
        try:
            os.rmdir(location)
        except OSError:
            pass

    def forget(self, location, config=None):
        """What SR.forget leaves behind on the host: every file stays (nfs unmounts)."""

    def physical_size(self, location):
        return fs_size(location)

    def physical_utilisation(self, location):
        total = 0
        for entry in os.scandir(location):
            if entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_blocks * 512
        return total

    def image_path(self, location, name):
        return os.path.join(location, "%s.%s" % (name, self.format))

    def create(self, location, vdi, size):
        """A new empty image of ``size`` bytes; returns its path."""
        path = self.image_path(location, vdi)
        self.make_image(path, size)
        return path

    @staticmethod
    def delete(path):
        unlink_if_exists(path)

    def chain(self, location, leaf):
        """The files of ``location`` that ``leaf``'s image is built on (none but dir's
        bases), read before ``leaf`` goes: ``collect`` removes no other file."""
        return set()

    def collect(self, dropped, leaves):
        """Remove the files of ``dropped`` (a deleted leaf's ``chain``) that no image
        in ``leaves`` still depends on (none but dir's bases)."""

    def clone(self, location, new_location, leaves, reserve=0):
        """Copy every image of the SR to ``new_location`` (then ``relink`` the copies),
        leaving ``reserve`` bytes free on its file system; returns {old leaf path: new
        leaf path}."""
        needed = self.physical_utilisation(location)
        check_room(new_location, needed, reserve)
        with full_is_sr_full(new_location, needed):
            os.makedirs(new_location, mode=0o700, exist_ok=False)
        try:
            for entry in os.scandir(location):
                if entry.is_file(follow_symlinks=False):
                    copy_sparse(entry.path, os.path.join(new_location, entry.name))
            self.relink(location, new_location)
        except BaseException:
            shutil.rmtree(new_location, ignore_errors=True)
            raise
        return {leaf: os.path.join(new_location, os.path.basename(leaf)) for leaf in leaves}

    def relink(self, location, new_location):
        """Point links between copied images at the copies (raw images have none)."""


class DirSR(ImageDirSR):
    """type "dir": a directory of qcow2 images."""

    type = "dir"
    format = "qcow2"
    live_snapshots = True    # the hypervisor moves the guest to a new overlay
    max_size = MAX_QCOW2_BYTES

    def make_image(self, path, size):
        create_image(path, size)

    @staticmethod
    def overlay(path, backing):
        create_image(path, None, backing)

    def freeze(self, location, leaf):
        """Halted case of a snapshot: move ``leaf``'s image to a new base and put a
        fresh overlay where it was; returns the base's path."""
        base = os.path.join(location, "%s%s.qcow2" % (BASE_PREFIX, uuidlib.uuid4()))
        os.rename(leaf, base)
        try:
            self.overlay(leaf, base)
        except ApiError:
            os.rename(base, leaf)
            raise
        return base

    @staticmethod
    def thaw(leaf, base):
        """Undo ``freeze``: put ``base`` back at ``leaf`` in place of the overlay made
        there. Only while nothing can have written to that overlay (its VM held, not
        running): a snapshot whose records failed to commit leaves the chain as it was."""
        os.replace(base, leaf)

    def snapshot(self, location, leaf, snap, reserve=0):
        """Snapshot ``leaf``, not in use by a running guest; returns the snapshot's path
        and the base ``leaf`` was frozen into (for ``thaw``). Overlays copy no data, so
        ``reserve`` needs no check here."""
        base = self.freeze(location, leaf)
        progress.report(0.5)   # the image is frozen; the snapshot's overlay follows
        try:
            return self.snapshot_of(location, base, snap), base
        except BaseException:
            self.thaw(leaf, base)
            raise

    def new_leaf_path(self, location, vdi):
        """A fresh leaf name for ``vdi`` (a running guest moves to it on snapshot)."""
        return os.path.join(location, "%s.%s.qcow2" % (vdi, uuidlib.uuid4().hex[:8]))

    def snapshot_of(self, location, base, snap):
        """The snapshot's own overlay on ``base``; returns its path."""
        path = self.image_path(location, snap)
        self.overlay(path, base)
        return path

    @staticmethod
    def info(path):
        """qemu-img's view of an image (virtual-size, actual-size, backing chain)."""
        return json.loads(_qemu_img("info", "-U", "--output=json", "--backing-chain", path))

    def resize(self, path, size):
        # qemu-img puts a grown L1 table after the image's end: only that part is dug.
        end = os.path.getsize(path)
        _qemu_img("resize", "-q", path, str(size), size=size, image=path)
        dig_holes(path, end)

    def _images(self, leaf):
        """The resolved path of every image ``leaf``'s chain holds, itself included;
        ApiError when qemu-img cannot read the chain."""
        return {os.path.realpath(i["filename"]) for i in self.info(leaf)}

    def chain(self, location, leaf):
        """The bases in ``location`` that ``leaf`` is built on; none when qemu-img
        cannot read its chain, so that nothing is removed on a guess."""
        try:
            images = self._images(leaf)
        except ApiError:
            return set()
        home = os.path.realpath(location)
        return {i for i in images if os.path.dirname(i) == home
                and os.path.basename(i).startswith(BASE_PREFIX)}

    def collect(self, dropped, leaves):
        """Remove the bases in ``dropped`` no image in ``leaves`` depends on any more.
        A base is removed only when every chain is known not to need it: a leaf whose
        chain qemu-img cannot read may be built on any of them, and keeps them all."""
        used = set()
        for leaf in leaves:
            if not os.path.lexists(leaf):
                continue   # no image, so nothing built on a base
            try:
                used |= self._images(leaf)
            except ApiError:
                return
        for base in dropped - used:
            unlink_if_exists(base)

    def relink(self, location, new_location):
        """Repoint each copy's backing link from the original SR to the copy there."""
        for entry in os.scandir(new_location):
            backing = backing_of(entry.path)
            if backing and os.path.dirname(backing) == location:
                _qemu_img("rebase", "-q", "-u", "-f", "qcow2", "-F", "qcow2", "-b",
                          os.path.join(new_location, os.path.basename(backing)),
                          entry.path, image=entry.path)


class FileSR(ImageDirSR):
    """type "file": a directory of sparse raw images."""

    type = "file"
    format = "raw"

    def make_image(self, path, size):
        # O_EXCL: never truncate an image that is there already.
        with full_is_sr_full(path, size):   # no inode left
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        try:
            self.resize(path, size)
        except BaseException:
            unlink_if_exists(path)
            raise

    def snapshot(self, location, leaf, snap, reserve=0):
        """A full sparse copy of ``leaf`` (not in use), leaving ``reserve`` bytes free on
        the file system; returns the copy's path, and None: ``leaf`` itself is left as
        it was."""
        path = self.image_path(location, snap)
        check_room(location, allocated(leaf), reserve)
        copy_sparse(leaf, path)
        return path, None

    def resize(self, path, size):
        """Grow the image with a hole (shrinking is refused before this)."""
        try:
            with full_is_sr_full(path, size):
                os.truncate(path, size)
        except OSError as e:   # e.g. EFBIG: beyond what the SR's file system holds
            raise ApiError("VALUE_NOT_SUPPORTED", "virtual_size", "%d bytes" % size,
                           e.strerror) from None


class SharedDirSR(DirSR):
    """type "shared-dir": a directory of qcow2 images that the administrator
    guarantees every host of the pool reaches at the same path (a cluster file
    system, an NFS mount of the machines'). Its location must be given: the daemon's
    own state directory is no host's but its own."""

    type = "shared-dir"
    shared = True

    def attach(self, location, config=None):
        if not os.path.isdir(location):
            raise ApiError("INVALID_VALUE", "location", "%s (an SR of type shared-dir is "
                           "an existing directory every host reaches)" % location)

    def detach(self, location, config=None):
        """The directory is the administrator's, shared with other hosts: it stays."""


class NfsSR(DirSR):
    """type "nfs": qcow2 images on an NFS export (device_config ``server`` and
    ``serverpath``), which the host mounts on the SR's location at attach and
    unmounts at SR.delete and SR.forget. Needs the kernel's NFS client and
    mount.nfs (Debian's nfs-common)."""

    type = "nfs"
    shared = True
    config_keys = ("server", "serverpath")

    @staticmethod
    def export(config):
        return "%s:%s" % (config["server"], config["serverpath"])

    def attach(self, location, config=None):
        super().attach(location)
        if os.path.ismount(location):
            return      # mounted by an earlier start of the daemon: it outlives one
        out = subprocess.run(["mount", "-t", "nfs", "-o", "soft,timeo=100,retrans=2",
                              "--", self.export(config), location],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            super().detach(location)
            raise ApiError("INVALID_VALUE", "device_config", "%s (mount: %s)" % (
                self.export(config), out.stderr.strip()[-300:] or "failed"))

    def detach(self, location, config=None):
        self.forget(location, config)

    def forget(self, location, config=None):
        """Unmount the export (lazily: a file of it may still be open) and remove the
        empty mount point; the images stay on the server."""
        if os.path.ismount(location):
            subprocess.run(["umount", "--lazy", "--", location], capture_output=True,
                           timeout=120)
        super().detach(location)


SR_TYPES = {d.type: d for d in (DirSR(), FileSR(), SharedDirSR(), NfsSR())}

# The types over existing files build on ImageDirSR above, hence imported here.
from .sradopt import ADOPTING_TYPES  # noqa: E402

SR_TYPES.update({d.type: d for d in ADOPTING_TYPES})


def driver(sr_type):
    """The SR type's driver; VALUE_NOT_SUPPORTED for a type xend does not have, naming
    the types SR.create makes (SR.introduce names its own: sradopt.py)."""
    d = SR_TYPES.get(sr_type)
    if d is None:
        raise ApiError("VALUE_NOT_SUPPORTED", "type", sr_type, "supported SR types: %s" % (
            ", ".join(sorted(t for t, x in SR_TYPES.items() if not x.adopts))))
    return d
