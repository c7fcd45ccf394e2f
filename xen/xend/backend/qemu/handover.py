"""The descriptors a QEMU is handed instead of names: QEMU opens no host file itself.

The daemon opens every file a guest's QEMU uses (its monitor socket, console log,
disk images and their backing chains, ISO, kernel and initrd) and passes the
descriptors; QEMU, running as an unprivileged user, could not open most of them by
name anyway. ``Handover`` collects the descriptors of one launch: plain inherited
ones (``pass_fd``) and fd sets (``fdset``: ``-add-fd`` on the command line, reached
by QEMU as ``/dev/fdset/N``). The daemon's copies are closed once QEMU runs.
"""

import contextlib
import fcntl
import json
import os
import socket
import stat
import subprocess

from xen.xend.util.files import unlink_if_exists
from xen.xend.util.guestfiles import PathRefused, open_guest_file

from ..base import BackendError
from ..common import boot_files
from .argv import check_format

QEMU_IMG = "qemu-img"


class Handover:
    """The descriptors of one QEMU launch; ``close`` closes the daemon's copies."""

    def __init__(self):
        self.fds = []       # every descriptor QEMU inherits
        self.argv = []      # the -add-fd arguments of the fd sets
        self._sets = 0

    def pass_fd(self, fd):
        """Hand ``fd`` (ours from now on) to QEMU as itself; returns it."""
        self.fds.append(fd)
        return fd

    def fdset(self, fds, opaque):
        """Put ``fds`` (ours from now on) into a new fd set tagged ``opaque`` (no
        commas, no path: the command line is world-readable); returns the name QEMU
        opens it by. QEMU picks the member whose access mode it needs."""
        self._sets += 1
        for fd in fds:
            self.pass_fd(fd)
            self.argv += ["-add-fd", f"fd={fd},set={self._sets},opaque={opaque}"]
        return f"/dev/fdset/{self._sets}"

    def close(self):
        for fd in self.fds:
            os.close(fd)
        self.fds = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def listen_unix(path):
    """A listening Unix socket bound at ``path`` (a stale one replaced), for QEMU to
    serve on: the daemon binds it, so QEMU needs no write access to its directory."""
    unlink_if_exists(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # On Linux bind() gives the socket file the mode of the unbound socket (less the
        # umask): set before bind, there is no moment when others may connect.
        os.fchmod(sock.fileno(), 0o600)
        # Bound through the directory's descriptor: the path may be longer than a
        # socket address holds. The directory (root's, 0700) keeps others out.
        dirfd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY)
        try:
            sock.bind(f"/proc/self/fd/{dirfd}/{os.path.basename(path)}")
        finally:
            os.close(dirfd)
        sock.listen(4)
    except OSError as err:
        sock.close()
        raise BackendError("INTERNAL_ERROR", f"cannot listen on {path}: {err.strerror}")
    return sock.detach()


def is_block(fd):
    """Whether descriptor ``fd`` is a block device (QEMU's host_device driver)."""
    return stat.S_ISBLK(os.fstat(fd).st_mode)


def qemu_img(*args):
    """Run qemu-img (the daemon's, on the daemon's own image files); its stdout."""
    try:
        done = subprocess.run([QEMU_IMG, *args], capture_output=True, text=True)
    except OSError as err:
        raise BackendError("INTERNAL_ERROR", f"cannot run {QEMU_IMG}: {err.strerror}")
    if done.returncode != 0:
        raise BackendError("INTERNAL_ERROR", f"{QEMU_IMG} {args[0]}: {done.stderr.strip()}")
    return done.stdout


def image_chain(path, fmt):
    """[(path, format)] of image ``path`` and the backing files its header names, top
    first. The format is never probed: a raw image whose guest wrote a qcow2 header
    into it stays one raw image."""
    if fmt != "qcow2":
        return [(path, fmt)]
    info = json.loads(qemu_img("info", "-U", "--output=json", "--backing-chain",
                               "-f", fmt, path))
    return [(image["filename"], image["format"]) for image in info]


def open_image(path, write, roots=None):
    """A descriptor of the disk image ``path``: an SR's file, opened unrestricted (block
    devices too), or, with ``roots`` (an image a user other than root adopted), only a
    regular file under them reached without a link (VALUE_NOT_SUPPORTED otherwise)."""
    try:
        return open_guest_file(path, roots, write=write, block_ok=roots is None)
    except PathRefused as err:
        if roots is not None:
            raise BackendError("VALUE_NOT_SUPPORTED", "VDI", path, err.reason) from None
        raise BackendError("INTERNAL_ERROR", f"cannot open disk image {err}") from None


def disk_tag(vbd, level):
    """The opaque tag of the fd set of level ``level`` (0: the bottom) of VBD ``vbd``'s
    chain: QEMU keeps it, so the sets of a disk are found again after a restart."""
    return f"vbd-{vbd}-{level}"


def open_disk(disk):
    """The descriptors of ``disk``'s image chain, [(fds, format, is_block, level)] top
    first: each image read-only, and the top one read-write as well where the disk is
    RW (QEMU takes the one whose access mode it opens with)."""
    check_format(disk)
    chain = image_chain(os.path.abspath(disk.path), disk.format)
    opened = []
    with closing([]) as on_failure:
        for depth, (path, fmt) in enumerate(chain):
            fds = open_writable(path, disk.roots) if depth == 0 and disk.mode != "RO" \
                else [open_image(path, False, disk.roots)]
            on_failure.append(fds)
            opened.append((fds, fmt, is_block(fds[0]), len(chain) - 1 - depth))
        on_failure.clear()      # all opened: the caller's now
    return opened


def open_writable(path, roots=None):
    """Descriptors of the image ``path`` (under ``roots``, see open_image), read-only and
    read-write: QEMU takes the one whose access mode it opens with (a node made
    read-only later reopens)."""
    fds = [open_image(path, False, roots)]
    with closing([fds]) as on_failure:
        fds.append(open_image(path, True, roots))
        on_failure.clear()
    return fds


@contextlib.contextmanager
def closing(fd_lists):
    """Close every descriptor in the lists of ``fd_lists`` on the way out, also the
    lists added meanwhile."""
    try:
        yield fd_lists
    finally:
        for fds in fd_lists:
            for fd in fds:
                os.close(fd)


def open_boot_files(spec, handed):
    """{API field: (name, is_block)} of ``spec``'s boot files (argv.boot_files), each
    opened by the daemon: under the roots the domain owner gave for it
    (``spec.host_path_roots``), unrestricted where root named it.

    An ISO is an fd set. A kernel or initrd cannot be: QEMU's loader reads them with a
    plain open() of the name it is given, which knows no fd sets. It gets a sealed
    in-memory copy (memfd) it inherits, named ``/proc/self/fd/N``: that opens QEMU's
    own descriptor, reachable by no other user, and the guest boots the very bytes the
    daemon read, whatever happens to the file afterwards.
    """
    named = {}
    for field, path, block_ok in boot_files(spec.vm):
        try:
            fd = open_guest_file(path, spec.host_path_roots.get(field), block_ok=block_ok)
        except PathRefused as err:
            raise BackendError("VALUE_NOT_SUPPORTED", field, path, err.reason) from None
        if field == "bios/cdrom":
            named[field] = (handed.fdset([fd], "cdrom"), is_block(fd))
            continue
        with closing([[fd]]):
            copy = handed.pass_fd(sealed_copy(fd, field))
        named[field] = (f"/proc/self/fd/{copy}", False)
    return named


def sealed_copy(fd, name):
    """A memfd holding the bytes of file ``fd``, sealed against any change."""
    copy = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    with closing([[copy]]) as on_failure:
        while os.sendfile(copy, fd, None, 1 << 30):
            pass
        fcntl.fcntl(copy, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK
                    | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
        on_failure.clear()
    return copy
