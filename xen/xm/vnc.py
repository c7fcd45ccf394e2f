"""``xm vncviewer``: a VM's display (its rfb console) on a local port, for a VNC viewer.

xend opens no port for a guest's display: each local connection to the port this
makes on 127.0.0.1 is carried through its own ``CONNECT /console`` to the VM's rfb
console. Only connections from processes of the user running xm are carried: the
port is on the loopback, where every user of the host could reach it.
"""

import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time

from . import console
from .client import ConnectError, Failure

# The viewers tried, in this order, and how each is told the local port.
VIEWERS = (("vncviewer", "127.0.0.1::{port}"), ("xtightvncviewer", "127.0.0.1::{port}"),
           ("xvnc4viewer", "127.0.0.1::{port}"), ("gvncviewer", "127.0.0.1:{display}"))


def viewer(port):
    """The command line of the first VNC viewer installed, for ``port``; None if none is."""
    for name, address in VIEWERS:
        path = shutil.which(name)
        if path:
            return [path, address.format(port=port, display=port - 5900)]
    return None


def show(client, vm):
    """Forward a local port to VM ``vm``'s display, and run a viewer on it until the
    viewer exits; with no viewer installed, print the address and forward until
    interrupted."""
    ref = console.find(client, vm, "rfb")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    threading.Thread(target=_serve, args=(client, ref, listener), daemon=True).start()
    command = viewer(port)
    if command is None:
        print("127.0.0.1:%d" % port, flush=True)
        # Not signal.pause(): the kernel may hand ctrl-C's SIGINT to a forwarding thread,
        # and pause() in this one would never return; Python runs the handler here at
        # the next wake-up instead.
        while True:
            time.sleep(0.5)
    subprocess.run(command)


def _serve(client, ref, listener):
    """Accept local connections and carry each of the user's to the display."""
    while True:
        local, peer = listener.accept()
        if _owner(peer, listener.getsockname()) != os.getuid():
            local.close()
            continue
        try:
            remote, first = client.connect_stream("/console", ref=ref)
        except (ConnectError, Failure) as e:
            print("xm: cannot reach the display: %s" % e, file=sys.stderr)
            local.close()
            continue
        local.sendall(first)
        threading.Thread(target=_splice, args=(local, remote), daemon=True).start()


def _owner(peer, local):
    """The uid owning the socket at ``peer`` (an address on this host) connected to
    ``local``, from /proc/net/tcp; None if it is not found."""
    def hexaddr(addr):
        return "%08X:%04X" % (int.from_bytes(socket.inet_aton(addr[0]), "little"), addr[1])
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == hexaddr(peer) and fields[2] == hexaddr(local):
                return int(fields[7])
    return None


def _splice(a, b):
    """Copy bytes both ways between sockets ``a`` and ``b`` until either closes."""
    with a, b:
        while True:
            # A TLS socket may hold decrypted bytes select() cannot see.
            ready = [s for s in (a, b) if getattr(s, "pending", lambda: 0)()] or \
                select.select([a, b], [], [])[0]
            for src in ready:
                try:
                    data = src.recv(console.CHUNK)
                    if data:
                        (b if src is a else a).sendall(data)
                except OSError:
                    data = b""
                if not data:
                    return
