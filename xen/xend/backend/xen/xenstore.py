"""Xenstore, through pyxs: reading nodes, the backend drivers' device directories, the
balloon target, and the ``@releaseDomain`` watch.

pyxs is a pure-Python xenstore client: Debian packages it (python3-pyxs), it
speaks the xenstored socket protocol directly, and its watches run on a thread
of its own, so no C library or Xen Python binding is needed in dom0.
"""

import logging
import re

from ..base import BackendError

log = logging.getLogger("xend.backend.xen")

# What a guest agent writes: (key in the API's map, xenstore node).
_TOOLS_VERSION = (("major", b"MajorVersion"), ("minor", b"MinorVersion"),
                  ("micro", b"MicroVersion"), ("build", b"BuildVersion"))
_OS_VERSION = (("name", b"os_name"), ("uname", b"os_uname"), ("distro", b"os_distro"),
               ("major", b"os_majorver"), ("minor", b"os_minorver"))
_MEMORY = (("total", b"meminfo_total"), ("free", b"meminfo_free"))


def connect():
    """A connected pyxs client; INTERNAL_ERROR where pyxs is not installed."""
    try:
        from pyxs import Client
    except ImportError:
        raise BackendError("INTERNAL_ERROR", "the xen backend needs pyxs "
                           "(Debian: python3-pyxs)") from None
    client = Client()
    client.connect()
    return client


class Xenstore:
    """What the backend reads and writes in xenstore, over the client ``client``."""

    def __init__(self, client):
        self.client = client

    def read(self, path):
        """The text of node ``path``; None where there is no such node."""
        try:
            return self.client.read(path).decode()
        except Exception:   # absent node
            return None

    def set_memory_target(self, domid, kib):
        """Set the balloon target of domain ``domid`` to ``kib`` KiB."""
        self.client.write(b"/local/domain/%d/memory/target" % domid, str(kib).encode())

    def backend_devices(self, kind, domid):
        """{devid: xenstore backend dir} of one device kind (vbd, qdisk, vif)."""
        root = b"/local/domain/0/backend/%s/%d" % (kind, domid)
        try:
            return {d.decode(): root + b"/" + d for d in self.client.list(root)}
        except Exception:   # no devices of that kind
            return {}

    def backend_values(self, kind, domid, key):
        """{value of ``key``: devid} over the backend dirs of one device kind."""
        out = {}
        for devid, path in self.backend_devices(kind, domid).items():
            value = self.read(path + b"/" + key)
            if value is not None:
                out[value.lower()] = devid
        return out

    def tools_version(self, domid):
        """The guest agent's version from ``attr/PVAddons`` ({} without one)."""
        return self._nodes(domid, b"attr/PVAddons/", _TOOLS_VERSION)

    def guest_metrics(self, domid):
        """What a guest agent (XenServer's xe-guest-utilities convention) writes about
        the guest, for VM_guest_metrics: {"os_version": {name, uname, distro, major,
        minor}, "memory": {total, free} (KiB, as written), "networks": {"N/ip": address
        of ethN}}; each {} without an agent."""
        return {"os_version": self._nodes(domid, b"data/", _OS_VERSION),
                "memory": self._nodes(domid, b"data/", _MEMORY),
                "networks": self._networks(domid)}

    def _nodes(self, domid, base, names):
        """{key: text} of the nodes ``base + node`` of domain ``domid`` that exist, for
        (key, node) in ``names``."""
        path = b"/local/domain/%d/" % domid + base
        out = {}
        for key, node in names:
            value = self.read(path + node)
            if value is not None:
                out[key] = value
        return out

    def _networks(self, domid):
        try:
            names = self.client.list(b"/local/domain/%d/attr" % domid)
        except Exception:   # no attr directory: no agent
            return {}
        nics = [n.decode() for n in names if re.fullmatch(rb"eth\d+", n)]
        ips = self._nodes(domid, b"attr/", [(n, n.encode() + b"/ip") for n in nics])
        return {"%s/ip" % n[3:]: ip for n, ip in ips.items()}

    def watch_released(self, on_release, closed):
        """Call ``on_release()`` on every ``@releaseDomain`` watch event (xenstored fires
        it whenever a domain shuts down or goes away) until the Event ``closed`` is set.
        Blocks: run it on a thread of its own."""
        try:
            monitor = self.client.monitor()
            monitor.watch(b"@releaseDomain", b"xend")
            for _ in monitor.wait():
                if closed.is_set():
                    return
                on_release()
        except Exception:    # the checker's periodic pass keeps working without it
            log.exception("xenstore watch failed; falling back to polling")
