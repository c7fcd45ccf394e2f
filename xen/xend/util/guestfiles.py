"""Opening the host files a guest is pointed at (disk images, kernels, initrds,
ISOs) on the daemon's side, so that the hypervisor gets a descriptor and never a
name it could be tricked into resolving.

A path is opened either *unrestricted* (root named it: any file it can open,
symlinks followed, block devices allowed where the caller allows them) or
*under roots* (another user named it): the path must lie under one of the root
directories as written, and it is opened one component at a time from that root
with ``O_NOFOLLOW``, so a symlink planted anywhere below the root after the path
was checked is refused instead of followed (no check-then-open race). Under
roots only regular files are opened.

A refused path raises PathRefused whose message does not say whether the file
exists: a user may not probe the host's file system through it.
"""

import os
import stat

# Flags for walking a directory chain without ever following a link.
_DIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class PathRefused(Exception):
    """A guest file cannot be opened. ``reason`` is safe to show to whoever named
    the path: for a path under roots it is the same whether the file exists or not."""

    def __init__(self, path, reason):
        super().__init__("%s: %s" % (path, reason))
        self.path = path
        self.reason = reason


def under(path, root):
    """True if the normalised ``path`` is ``root`` or lies inside it."""
    root = os.path.normpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def open_guest_file(path, roots=None, *, write=False, block_ok=False):
    """A descriptor (close-on-exec) of the guest file ``path``, read-only or, with
    ``write``, read-write; PathRefused otherwise.

    ``roots`` None opens unrestricted (root's paths); a sequence of directories
    opens under roots (see the module docstring). ``block_ok`` lets an unrestricted
    path be a block device (a CD-ROM drive, a raw partition)."""
    # O_NONBLOCK: opening a FIFO planted in a file's place must not hang the daemon.
    flags = (os.O_RDWR if write else os.O_RDONLY) | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK
    if roots is None:
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise PathRefused(path, "no such file on the host") from None
        except OSError as e:
            raise PathRefused(path, e.strerror or str(e)) from None
        return _checked(fd, path, block_ok)
    path = os.path.normpath(path)
    root = next((r for r in roots if under(path, r) and path != os.path.normpath(r)), None)
    if root is None or not os.path.isabs(path):
        raise PathRefused(path, "not under %s" % ", ".join(roots) if roots else
                          "only root may name files outside the guest image directories")
    refused = PathRefused(path, "not a readable regular file under %s, reached "
                          "without symbolic links" % os.path.normpath(root))
    parts = os.path.relpath(path, os.path.normpath(root)).split("/")
    try:
        dirfd = os.open(os.path.normpath(root), _DIR)
    except OSError:
        raise refused from None
    try:
        for part in parts[:-1]:
            try:
                nxt = os.open(part, _DIR, dir_fd=dirfd)
            except OSError:
                raise refused from None
            os.close(dirfd)
            dirfd = nxt
        try:
            fd = os.open(parts[-1], flags | os.O_NOFOLLOW, dir_fd=dirfd)
        except OSError:
            raise refused from None
    finally:
        os.close(dirfd)
    try:
        return _checked(fd, path, block_ok=False)
    except PathRefused:
        raise refused from None


def _checked(fd, path, block_ok):
    """``fd`` if it is a regular file (or a block device, where ``block_ok``); else
    it is closed and PathRefused raised."""
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode) or (block_ok and stat.S_ISBLK(mode)):
        os.set_blocking(fd, True)
        return fd
    os.close(fd)
    raise PathRefused(path, "not a regular file or block device" if block_ok
                      else "not a regular file")
