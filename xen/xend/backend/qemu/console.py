"""A guest's serial console: the daemon reads it and hands the bytes on.

QEMU's first serial port is a Unix socket the daemon binds (process.bind_socket)
and QEMU listens on. A ``Console`` connects to it and reads on the QMP loop (see
qmp.py: no thread of its own) for as long as the guest runs, so that the guest's
serial output never backs up into the guest, and hands every chunk, in order, to
its subscribers. The first subscriber is ``ConsoleLog``, console.log with a size
cap; the second the console's ConsoleHub (backend/consolehub.py), which serves its
live clients and types its writer's input into the guest through ``send``.

A subscriber is an object with ``write(data)`` and ``close()``; one whose write
fails is logged, closed and dropped, and the others go on.
"""

import asyncio
import logging
import os
import socket

from xen.xend.util.files import open_own, spare_bytes, tighten

from ..consolehub import TypedInput
from .argv import CONSOLE_LOG
from .qmp import open_unix

log = logging.getLogger("xend.backend.qemu")

READ_SIZE = 64 * 1024
RESERVE_CHECK = 64 * 1024     # console.log bytes between looks at the file system's room


async def open_rfb(dom):
    """A new client of guest ``dom``'s display: one end of a socket pair whose other end
    QEMU's VNC server is handed (``getfd`` + ``add_client``) and serves as an RFB
    connection, with no authentication of its own: the daemon has checked who connects,
    and the server listens nowhere else."""
    ours, qemus = socket.socketpair()
    dom.rfb_clients += 1
    fdname = f"rfb-{dom.rfb_clients}"
    try:
        await dom.qmp("getfd", {"fdname": fdname}, fd=qemus.fileno())
        try:
            await dom.qmp("add_client", {"protocol": "vnc", "fdname": fdname,
                                         "skipauth": True})
        except BaseException:
            await dom.qmp("closefd", {"fdname": fdname}, undo=True)
            raise
    except BaseException:
        ours.close()
        raise
    finally:
        qemus.close()       # QEMU holds its own copy
    return ours


class ConsoleLog:
    """console.log in ``state_dir``, at most ``limit`` bytes: when full it becomes
    console.log.1 (the one earlier generation kept) and a new console.log begins.

    Nothing is written into the ``reserve`` bytes kept free on the file system for the
    daemon's own database and log (util.files.spare_bytes, looked at every
    RESERVE_CHECK bytes): while there is no room, output is dropped.

    Opened with open_own: a symlink planted at console.log is never followed (OSError
    ELOOP, from the constructor or, after a rotation, from ``write``).
    """

    def __init__(self, state_dir, limit, reserve=0):
        self.path = os.path.join(state_dir, CONSOLE_LOG)
        self.limit = limit
        self.reserve = reserve
        self.dropped = 0        # bytes not logged for want of room
        self._fd = None
        self._size = 0
        self._unchecked = RESERVE_CHECK    # look at the room before the first write
        self._open()

    def _open(self):
        tighten(self.path, 0o600)       # a log made by an earlier version may be wider
        self._fd = open_own(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        self._size = os.fstat(self._fd).st_size

    def write(self, data):
        """Append ``data``, starting a new generation whenever the log is full."""
        if self._unchecked >= RESERVE_CHECK:
            self._unchecked = 0
            self._room = spare_bytes(self.path, self.reserve) > RESERVE_CHECK
            if not self._room:
                log.warning("%s: no room beyond the state reserve; console output dropped",
                            self.path)
        if not self._room:
            self.dropped += len(data)
            self._unchecked += len(data)
            return
        self._unchecked += len(data)
        view = memoryview(data)
        while view:
            if self._size >= self.limit:
                self._rotate()
            written = os.write(self._fd, view[:self.limit - self._size])
            self._size += written
            view = view[written:]

    def _rotate(self):
        self.close()
        os.replace(self.path, self.path + ".1")
        self._open()

    def close(self):
        """Close the file (the log stays)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Console:
    """The reader of one guest's console socket at ``path``; use on the loop thread only.

    ``subscribers`` get every chunk read; ``subscribe`` adds one while it runs.
    """

    def __init__(self, name, path, subscribers=()):
        self.name = name
        self.path = path
        self.subscribers = list(subscribers)
        self._task = None
        self._typed = None      # TypedInput on the socket while connected

    async def connect(self):
        """Connect to the socket and start reading; OSError if nobody listens there.

        QEMU accepts the connection from its main loop: one made before the guest runs
        is accepted before the guest's first byte."""
        sock = await open_unix(self.path)
        self._typed = TypedInput(asyncio.get_running_loop(), sock.fileno(), self.name)
        self._task = asyncio.ensure_future(self._read(sock))

    def subscribe(self, subscriber):
        """Hand ``subscriber`` every chunk from now on."""
        self.subscribers.append(subscriber)

    def send(self, data):
        """Type ``data`` into the guest's serial port (TypedInput: QEMU takes it as the
        guest reads)."""
        if self._typed is not None:
            self._typed.send(data)

    async def finish(self, timeout):
        """Wait up to ``timeout`` seconds for QEMU to hang up (the guest has gone: what
        it wrote is read to the end), then stop reading, and close the subscribers."""
        try:
            if self._task is not None:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except asyncio.TimeoutError:
            log.warning("console of %s still open after QEMU exited", self.name)
        finally:    # also when cancelled: the subscribers are ours to close
            await self.close()

    async def close(self):
        """Stop reading (QEMU keeps listening; a later Console may connect) and close the
        subscribers."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._close_subscribers()

    async def _read(self, sock):
        loop = asyncio.get_running_loop()
        try:
            while True:     # with no subscriber left too: the guest must never block
                data = await loop.sock_recv(sock, READ_SIZE)
                if not data:
                    return
                self._deliver(data)
        except OSError as err:
            log.warning("console of %s: %s", self.name, err)
        finally:
            self._typed.close()
            self._typed = None
            sock.close()

    def _deliver(self, data):
        for subscriber in list(self.subscribers):
            try:
                subscriber.write(data)
            except OSError as err:
                log.warning("console of %s: dropping %s: %s", self.name,
                            type(subscriber).__name__, err)
                self.subscribers.remove(subscriber)
                subscriber.close()

    def _close_subscribers(self):
        subscribers, self.subscribers = self.subscribers, []
        for subscriber in subscribers:
            subscriber.close()
