"""Storage repositories on real files: the SR types behind SR, VDI and snapshot RPCs.

An SR type is a small class with the operations below; ``SR_TYPES`` names
them. The default, ``dir``, is a directory of qcow2 images:

  * a VDI is one qcow2 file, its *leaf*; the VDI's private data holds its path;
  * a snapshot freezes the VDI's current image as a read-only *base* file and
    puts both the VDI and the snapshot on new overlays of it, so each writes to
    its own leaf and shares every unchanged block. When the VDI is attached to a
    running guest the hypervisor switches it to its new overlay
    (blockdev-snapshot-sync) and its old leaf becomes the base in place;
  * a base is kept while any leaf's backing chain uses it and removed when none
    does (``collect``).

Every operation that makes files removes them again if it fails half-way.
Paths never pass through a shell.
"""

import json
import os
import shutil
import subprocess
import uuid as uuidlib

from .api.errors import ApiError
from .api.values import check_path

QEMU_IMG = "qemu-img"
BASE_PREFIX = ".base-"


def check_location(path, field, roots):
    """An SR location: a checked absolute path (values.check_path), never empty."""
    if path == "":
        raise ApiError("INVALID_VALUE", field, "(empty)")
    return check_path(path, field, roots)


def _qemu_img(*args):
    try:
        out = subprocess.run([shutil.which(QEMU_IMG) or QEMU_IMG] + list(args),
                             capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise ApiError("VALUE_NOT_SUPPORTED", "SR.type", "dir",
                           "qemu-img is not installed") from None
    if out.returncode != 0:
        raise ApiError("INTERNAL_ERROR", "qemu-img %s: %s" % (args[0], out.stderr.strip()[-300:]))
    return out.stdout


def create_image(path, size, backing=None):
    """A qcow2 image of ``size`` bytes, or a copy-on-write child of ``backing``."""
    argv = ["create", "-q", "-f", "qcow2"]
    if backing:
        argv += ["-b", backing, "-F", "qcow2"]
    _qemu_img(*argv + [path] + ([str(size)] if size is not None else []))


def backing_of(path):
    """The image ``path`` is a copy-on-write child of, or ""."""
    info = json.loads(_qemu_img("info", "-U", "--output=json", path))
    return info.get("full-backing-filename") or info.get("backing-filename") or ""


class DirSR:
    """type "dir": a directory of qcow2 images."""

    type = "dir"

    def attach(self, location):
        """Make the SR's directory (0700) if needed."""
        os.makedirs(location, mode=0o700, exist_ok=True)

    def detach(self, location):
        """Remove the SR's directory if nothing is left in it."""
        try:
            os.rmdir(location)
        except OSError:
            pass

    def physical_size(self, location):
        st = os.statvfs(location)
        return st.f_blocks * st.f_frsize

    def physical_utilisation(self, location):
        total = 0
        for entry in os.scandir(location):
            if entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_blocks * 512
        return total

    @staticmethod
    def allocated(path):
        """Bytes the image takes on disk."""
        try:
            return os.stat(path).st_blocks * 512
        except OSError:
            return 0

    def create(self, location, vdi, size):
        """A new empty image of ``size`` bytes; returns its path."""
        path = os.path.join(location, "%s.qcow2" % vdi)
        create_image(path, size)
        return path

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

    def new_leaf_path(self, location, vdi):
        """A fresh leaf name for ``vdi`` (a running guest moves to it on snapshot)."""
        return os.path.join(location, "%s.%s.qcow2" % (vdi, uuidlib.uuid4().hex[:8]))

    def snapshot_of(self, location, base, snap):
        """The snapshot's own overlay on ``base``; returns its path."""
        path = os.path.join(location, "%s.qcow2" % snap)
        self.overlay(path, base)
        return path

    @staticmethod
    def info(path):
        """qemu-img's view of an image (virtual-size, actual-size, backing chain)."""
        return json.loads(_qemu_img("info", "-U", "--output=json", "--backing-chain", path))

    def resize(self, path, size):
        _qemu_img("resize", "-q", path, str(size))

    def delete(self, path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def collect(self, location, leaves):
        """Remove base images no leaf in ``leaves`` depends on any more."""
        used = set()
        for leaf in leaves:
            try:
                used.update(os.path.realpath(i["filename"]) for i in self.info(leaf))
            except ApiError:
                continue   # the leaf went away meanwhile (its VDI was deleted)
        for entry in os.scandir(location):
            if entry.name.startswith(BASE_PREFIX) and os.path.realpath(entry.path) not in used:
                os.unlink(entry.path)

    def clone(self, location, new_location, leaves):
        """Copy every image of the SR to ``new_location``, each backing link repointed
        to the copy; returns {old leaf path: new leaf path}."""
        os.makedirs(new_location, mode=0o700, exist_ok=False)
        try:
            for entry in os.scandir(location):
                if entry.is_file(follow_symlinks=False):
                    shutil.copyfile(entry.path, os.path.join(new_location, entry.name))
            for entry in os.scandir(new_location):
                backing = backing_of(entry.path)
                if backing and os.path.dirname(backing) == location:
                    _qemu_img("rebase", "-q", "-u", "-f", "qcow2", "-F", "qcow2", "-b",
                              os.path.join(new_location, os.path.basename(backing)),
                              entry.path)
        except BaseException:
            shutil.rmtree(new_location, ignore_errors=True)
            raise
        return {leaf: os.path.join(new_location, os.path.basename(leaf)) for leaf in leaves}


SR_TYPES = {DirSR.type: DirSR()}


def driver(sr_type):
    """The SR type's driver; VALUE_NOT_SUPPORTED for a type xend does not have."""
    d = SR_TYPES.get(sr_type)
    if d is None:
        raise ApiError("VALUE_NOT_SUPPORTED", "type", sr_type,
                       "supported SR types: %s" % ", ".join(sorted(SR_TYPES)))
    return d
