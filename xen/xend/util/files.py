"""File-system helpers that every layer of the daemon uses alike."""

import os
import stat

# A file the daemon makes in its own directories is opened with these: a symlink
# planted where the file should be fails the open (ELOOP) instead of being followed.
_OWN = os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeDirectory(Exception):
    """A directory the daemon keeps its own files in is not the daemon's alone; the
    message, one line, names the directory and what is wrong with it."""


def unlink_if_exists(path):
    """Remove the file ``path``; one that is not there counts as removed."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def read_text(path):
    """The text of the file ``path``; "" for one that is not there."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def sync_path(path):
    """Flush the file or directory ``path`` to disk (a directory: the names in it, such as
    a rename just made)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_own(path, flags, mode=0o600):
    """``os.open`` of a file of the daemon's: never through a symlink, never inherited
    by a child process; a file it creates gets ``mode`` (0600: root's alone)."""
    return os.open(path, flags | _OWN, mode)


def write_private(path, text):
    """Replace the file ``path`` with one of ``text``, mode 0600, all at once: a reader
    sees the old text or the new, never a part."""
    tmp = path + ".tmp"
    with os.fdopen(open_own(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w") as f:
        f.write(text)
    os.replace(tmp, path)


def private_dir(path, mode=0o700):
    """Make the directory ``path`` (with ``mode``: 0700 unless given) if it is missing;
    one already there must be a directory owned by this process's uid and writable by
    nobody else, or UnsafeDirectory: another user could plant files, symlinks or
    sockets in it. Its mode is then made no wider than ``mode``."""
    made = not os.path.lexists(path)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        if made:
            os.chmod(path, mode)    # the mode in full, whatever the umask
    except FileExistsError:   # a file by that name: reported below
        pass
    except OSError as e:
        raise UnsafeDirectory("cannot make the directory %s: %s" % (path, e.strerror or e))
    try:
        st = os.stat(path)
    except OSError as e:
        raise UnsafeDirectory("%s: %s" % (path, e.strerror or e))
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeDirectory("%s is not a directory" % path)
    if st.st_uid != os.geteuid():
        raise UnsafeDirectory("%s is owned by uid %d, not by xend's uid %d"
                              % (path, st.st_uid, os.geteuid()))
    if st.st_mode & 0o022:
        raise UnsafeDirectory("%s is writable by other users (mode %04o)"
                              % (path, stat.S_IMODE(st.st_mode)))
    tighten(path, mode)


def tighten(path, mode):
    """Give the file or directory ``path``, if it is there, the permission ``mode``
    when it allows more than that; a symlink there is refused (OSError ELOOP)."""
    try:
        fd = open_own(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & ~mode:
            os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _existing(path):
    """``path``, or its nearest ancestor that exists (where a directory is to be made)."""
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def free_bytes(path):
    """Bytes an unprivileged writer may still allocate on ``path``'s file system."""
    st = os.statvfs(_existing(path))
    return st.f_bavail * st.f_frsize


def fs_size(path):
    """The size in bytes of ``path``'s file system."""
    st = os.statvfs(_existing(path))
    return st.f_blocks * st.f_frsize


def same_file_system(a, b):
    """Whether the paths ``a`` and ``b`` (or, where missing, their nearest existing
    ancestors) are on one file system."""
    return os.stat(_existing(a)).st_dev == os.stat(_existing(b)).st_dev


def spare_bytes(path, reserve):
    """Bytes that what the daemon writes on guests' behalf (disk images, console logs)
    may still take on ``path``'s file system: what is free beyond ``reserve``, the room
    kept for the daemon's own database and log (state_reserve_bytes on the state
    directory's file system). Never negative."""
    return max(0, free_bytes(path) - reserve)
