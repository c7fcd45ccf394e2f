"""QMP plumbing: one asyncio loop thread and thin QMP sessions (no guest knowledge).

Design. ``qemu.qmp`` is asyncio-only while the ``Backend`` contract is
synchronous and called from the daemon's threads. The backend therefore owns
one event loop running forever in a daemon thread (``common.LoopThread``); every QMP
session, every process-exit watcher (a pidfd registered with the loop) and
every lifecycle operation is a coroutine on that loop, and the synchronous
methods submit them with ``run_coroutine_threadsafe`` and block on the result.
One loop serves any number of guests without a thread per guest, and since
per-guest state is only ever touched on the loop thread it needs no locks.

``Monitor`` wraps one ``QMPClient``: it connects over a Unix socket (also when
the path is longer than ``sun_path`` allows), hands every event to a plain
callback *in the order QEMU sent them*, and reduces qemu.qmp's exceptions to
two: ``CommandFailed`` (QEMU answered with an error) and ``MonitorGone``
(no connection: QEMU is not answering yet, or has gone).
"""

import asyncio
import contextlib
import logging
import os
import socket

from qemu.qmp import ConnectError, EventListener, ExecuteError, QMPClient, Runstate

log = logging.getLogger("xend.backend.qmp")

# Longest Unix socket path connect() takes directly (sun_path is 108 bytes).
_SUN_PATH_MAX = 100


class CommandFailed(Exception):
    """QEMU rejected a QMP command; ``desc`` is QEMU's own message."""

    def __init__(self, command, desc):
        super().__init__(f"{command}: {desc}")
        self.command = command
        self.desc = desc


class MonitorGone(Exception):
    """The QMP connection is closed (QEMU exited or hung up)."""


class _CallbackListener(EventListener):
    """Delivers each event to a callback from qemu.qmp's reader, keeping QEMU's order.

    ``accept`` is the library's documented extension point; returning False
    keeps the event out of the listener's queue, which nobody reads.
    """

    def __init__(self, callback):
        super().__init__()
        self._callback = callback

    def accept(self, event):
        try:
            self._callback(event)
        except Exception:  # a bad handler must not kill the QMP reader
            log.exception("QMP event handler failed on %s", event.get("event"))
        return False


@contextlib.contextmanager
def unix_address(path):
    """Yields an address for connect() or bind() of the Unix socket ``path``: the path
    itself, or for a socket in a deep directory a short /proc alias of it."""
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        yield path
        return
    dirfd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{dirfd}/{os.path.basename(path)}"
    finally:
        os.close(dirfd)


async def open_unix(path):
    """A non-blocking socket connected to the Unix socket ``path`` (OSError if none)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        with unix_address(path) as address:
            await asyncio.get_running_loop().sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock


class Monitor:
    """One QMP session with one QEMU process; use only on the loop thread."""

    def __init__(self, name, on_event):
        self._client = QMPClient(name)
        # The built-in all-events listener would keep every event forever;
        # events are consumed by our callback listener instead.
        self._client.events.event_filter = lambda event: False
        self._client.register_listener(_CallbackListener(on_event))

    async def connect(self, path):
        """Connect and negotiate; MonitorGone if QEMU is not (or no longer) answering."""
        try:
            sock = await open_unix(path)
            await self._client.connect(sock)
        except (OSError, ConnectError) as err:
            raise MonitorGone(f"connect {path}: {err}") from err

    async def execute(self, command, arguments=None, fd=None):
        """Run one QMP command and return its ``return`` value. ``fd``: a descriptor
        QEMU gets a copy of along with the command (SCM_RIGHTS), for ``getfd``."""
        if self._client.runstate != Runstate.RUNNING:
            raise MonitorGone(command)
        try:
            if fd is not None:
                self._client.send_fd_scm(fd)
            return await self._client.execute(command, arguments)
        except ExecuteError as err:
            raise CommandFailed(command, str(err)) from None
        except (OSError, EOFError, asyncio.IncompleteReadError) as err:
            raise MonitorGone(command) from err
        except Exception as err:
            # ExecInterruptedError, StateError, ...: the session ended under us.
            if self._client.runstate != Runstate.RUNNING:
                raise MonitorGone(command) from err
            raise

    async def wait_hangup(self, timeout):
        """Wait up to ``timeout`` seconds for QEMU to close the connection.

        Once it has, every event QEMU sent before exiting has been delivered.
        """
        try:
            await asyncio.wait_for(self._until_not_running(), timeout)
        except asyncio.TimeoutError:
            log.warning("QMP connection still open after QEMU exited")

    async def _until_not_running(self):
        while self._client.runstate == Runstate.RUNNING:
            await self._client.runstate_changed()

    async def close(self):
        """Disconnect; never raises (a hang-up by QEMU is the normal way to end).

        The disconnect is finished even when the caller is cancelled meanwhile (the
        CancelledError comes after it): only a finished disconnect leaves none of
        qemu.qmp's tasks pending, and collects the reader's EOFError."""
        done = asyncio.ensure_future(self._disconnect())
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            await asyncio.wait([done])
            raise

    async def _disconnect(self):
        try:
            await self._client.disconnect()
        except Exception as err:  # EOFError after quit, OSError, ...
            log.debug("QMP disconnect: %r", err)
