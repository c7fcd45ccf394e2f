"""Guests' text consoles on Xen: the pty each domain's console is, read by the daemon into
a ConsoleHub (backend/consolehub.py) that serves the console's clients.

A PV or PVH guest's console is a pty of xenconsoled's; an HVM guest's first serial port
is a pty of its device model's. Each writes the pty's name into xenstore, under the
domain's own path (``TTY_NODES``). The daemon opens the pty's other side (its slave, in
raw mode, so that the guest's bytes pass unchanged), reads it on one loop thread for the
whole backend, hands what it reads to the guest's hub, and writes the hub's writer's
input into it. The daemon owns the console while it runs: ``xl console`` on the same
pty would take part of the guest's output and the daemon's clients would miss it.

The pty is looked up while the domain is still paused after ``xl create`` or
``restore`` (so the hub has the guest's first byte), and again when a daemon restart
finds the domain. Xen 4.17 makes the domain's ``console`` directory dom0's, read-only to
the guest, so a guest cannot point the daemon at another terminal of dom0 (an
administrator's, or another guest's console); the name must still be a pty slave's
(``/dev/pts/N``, a character device of the pty slave majors) before it is opened.
"""

import errno
import logging
import os
import re
import stat
import threading
import time
import tty

from ..common import LoopThread
from ..consolehub import ConsoleHub, TypedInput
from .config import domain_type

log = logging.getLogger("xend.backend.xen")

# Where the pty of a domain's console is named, under /local/domain/DOMID, by domain type.
TTY_NODES = {"pv": "console/tty", "pvh": "console/tty", "hvm": "serial/0/tty"}
TTY_WAIT = 10.0             # seconds xenconsoled or the device model may take to name it
TTY_POLL = 0.1
PTY_PATH = re.compile(r"/dev/pts/[0-9]+")
PTY_SLAVE_MAJORS = range(136, 144)      # Linux's UNIX98 pty slaves
READ_SIZE = 64 * 1024


def tty_node(vm):
    """The xenstore node, under the domain's path, naming the pty of VMConfig ``vm``'s
    console; None for an HVM guest whose serial port is no pty (platform/serial)."""
    kind = domain_type(vm)
    if kind == "hvm" and vm.platform_serial != "pty":
        return None
    return TTY_NODES[kind]


def find_tty(xenstore, domid, node):
    """The pty of domain ``domid``'s console, named in its xenstore node ``node``
    (tty_node) once xenconsoled or the device model has written it; None if it names
    none within TTY_WAIT seconds or names something other than a pty slave's path."""
    node = b"/local/domain/%d/%s" % (domid, node.encode())
    deadline = time.monotonic() + TTY_WAIT
    while True:
        path = xenstore.read(node)
        if path:
            if PTY_PATH.fullmatch(path):
                return path
            log.warning("domain %d: %s names %r, not a pty: no console", domid,
                        node.decode(), path)
            return None
        if time.monotonic() >= deadline:
            log.warning("domain %d: no pty named in %s after %ss: no console", domid,
                        node.decode(), TTY_WAIT)
            return None
        time.sleep(TTY_POLL)


def open_pty(path):
    """The slave side of pty ``path``, opened non-blocking and put in raw mode; OSError
    if it cannot be opened or is no pty slave."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISCHR(st.st_mode) or os.major(st.st_rdev) not in PTY_SLAVE_MAJORS:
            raise OSError(errno.ENOTTY, "not a pty slave", path)
        tty.setraw(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


class PtyConsole:
    """One domain's pty, the descriptor ``fd`` (open_pty), read on ``loop`` into
    ``hub``; input typed with ``send``. Used on the loop's thread only."""

    def __init__(self, loop, fd, hub):
        self.loop = loop
        self.fd = fd
        self.hub = hub
        self._typed = TypedInput(loop, fd, hub.name)
        loop.add_reader(fd, self._readable)

    def _readable(self):
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:     # EIO: the other side has closed (the domain has gone)
            data = b""
        if data:
            self.hub.write(data)
        else:
            self.close()

    def send(self, data):
        """Type ``data`` into the guest (TypedInput)."""
        if self.fd is not None:
            self._typed.send(data)

    def close(self):
        """Stop reading and close the pty (the hub stays)."""
        if self.fd is not None:
            self.loop.remove_reader(self.fd)
            self._typed.close()
            os.close(self.fd)
            self.fd = None


class Consoles:
    """The hubs of the backend's guests by VM uuid, and the loop thread that reads their
    ptys. A guest's hub lasts from its start to its stop; a reboot (a new domain, a new
    pty) keeps it, so its clients stay."""

    def __init__(self, history_bytes):
        self.history_bytes = history_bytes
        self._thread = None     # the LoopThread, made with the first console
        self._hubs = {}         # uuid -> ConsoleHub
        self._ptys = {}         # uuid -> PtyConsole (touched on the loop only)
        self._lock = threading.Lock()

    def follow(self, uuid, path):
        """From now on, guest ``uuid``'s console is pty ``path`` (the hub is made if the
        guest has none); a pty that cannot be opened is logged and leaves it without."""
        try:
            fd = open_pty(path)
        except OSError as err:
            log.warning("console of %s: cannot open %s: %s", uuid, path, err)
            self.end(uuid)
            return
        with self._lock:
            if self._thread is None:
                self._thread = LoopThread("xend-xen-consoles")
            hub = self._hubs.get(uuid)
            if hub is None:
                hub = self._hubs[uuid] = ConsoleHub(self._thread.loop, uuid,
                                                    lambda data: self._send(uuid, data),
                                                    self.history_bytes)
            self._thread.loop.call_soon_threadsafe(self._switch, uuid, fd, hub)

    def has(self, uuid):
        """Whether guest ``uuid`` has a console."""
        return uuid in self._hubs

    def attach(self, uuid, writer, live=True):
        """A new client of guest ``uuid``'s console (ConsoleHub.attach); None without one."""
        with self._lock:
            hub = self._hubs.get(uuid)
            return hub.attach(writer, live) if hub is not None else None

    def end(self, uuid):
        """Guest ``uuid`` has stopped: its pty is closed and its clients get EOF."""
        with self._lock:
            hub = self._hubs.pop(uuid, None)
            if hub is not None:
                self._thread.loop.call_soon_threadsafe(self._end, uuid, hub)

    def close(self):
        """End every console and stop the loop thread."""
        for uuid in list(self._hubs):
            self.end(uuid)
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.stop()

    # -- the loop's thread

    def _switch(self, uuid, fd, hub):
        old = self._ptys.pop(uuid, None)
        if old is not None:
            old.close()
        if self._hubs.get(uuid) is not hub:     # ended meanwhile
            os.close(fd)
            return
        self._ptys[uuid] = PtyConsole(hub.loop, fd, hub)

    def _send(self, uuid, data):
        pty = self._ptys.get(uuid)
        if pty is not None:
            pty.send(data)

    def _end(self, uuid, hub):
        pty = self._ptys.pop(uuid, None)
        if pty is not None:
            pty.close()
        hub.close()
