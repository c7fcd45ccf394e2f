"""Which connections a listener admits: its allow list, its connection caps (all,
per client, not yet authenticated) and which idle unauthenticated connection makes
room for a newcomer (docs/security.md)."""

import ipaddress
import socket
import threading


class _Slot:
    """One open connection, as its listener's admission counts it."""

    __slots__ = ("client", "authenticated", "answering")

    def __init__(self, client, authenticated):
        self.client = client                  # what the per-client cap counts by; None: none
        self.authenticated = authenticated
        self.answering = False                # a request of it is being answered


class Admission:
    """Which connections one listener takes, and which it closes to make room.

    A client must be in the allow-list; then three caps bound the connections open at
    once: ``max_total`` in all, ``max_unauthenticated`` of them unauthenticated, and
    ``max_per_client`` from one client. A client is its address, an IPv4 client of a
    dual-stack socket its IPv4 address, and all of loopback (127.0.0.0/8, ::1) one
    client when ``loopback_is_one_client``: a local user could otherwise open as many
    connections as it has loopback addresses. Unix peers (client None) count against
    the first two caps only.

    A connection is unauthenticated until a call on it carried a valid session or made
    a login (``answered``); root's on the Unix socket is authenticated at once. When a
    cap is full, the oldest unauthenticated connection that is not being answered
    (one of the same client's, if the client's cap is full) is closed to make room;
    only if there is none is the new connection refused. A client with no credentials
    can thus hold at most ``max_unauthenticated`` connections, each until the next
    newcomer needs its slot, and never keeps out a client that logs in: the newcomer
    sends its call at once, before a flood of others could make it the oldest.

    Connections are known by their socket: ``enter`` in the accepting thread before a
    byte is read, ``answering`` and ``answered`` around each request, ``leave`` when
    the connection's thread ends.
    """

    def __init__(self, allow, max_total, max_per_client, max_unauthenticated,
                 loopback_is_one_client):
        self.networks = None if allow is None else \
            [ipaddress.ip_network(n, strict=False) for n in allow]
        self.max_total = max_total
        self.max_per_client = max_per_client
        self.max_unauthenticated = max_unauthenticated
        self.loopback_is_one_client = loopback_is_one_client
        self._slots = {}          # socket -> _Slot, oldest first
        self._unauthenticated = 0
        self._per_client = {}
        self._lock = threading.Lock()

    def allows(self, client):
        """True if ``client`` (an address string, None for a Unix peer) may connect."""
        if self.networks is None or client is None:
            return True
        address = _address(client)
        return address is not None and any(address in n for n in self.networks)

    def client_of(self, client):
        """What ``client`` (an address string, None for a Unix peer) is counted as by
        the per-client cap."""
        address = None if client is None else _address(client)
        if address is None:
            return client
        if self.loopback_is_one_client and address.is_loopback:
            return "loopback"
        return str(address)

    def enter(self, sock, client, authenticated=False):
        """Admit (and count) the connection ``sock`` from ``client``, closing another to
        make room if need be: (True, None), (True, why one was closed) or
        (False, why this one is refused)."""
        if not self.allows(client):
            return False, "not in the allow-list"
        key = self.client_of(client)
        closed = None
        with self._lock:
            while True:
                full, same_client = self._full(key, authenticated)
                if full is None:
                    break
                victim = next((s for s, slot in self._slots.items() if not slot.authenticated
                               and not slot.answering and (not same_client
                                                           or slot.client == key)), None)
                if victim is None:
                    return False, full
                self._drop(victim)
                try:   # beneath any TLS layer; its thread then reads EOF and ends
                    socket.socket.shutdown(victim, socket.SHUT_RDWR)
                except OSError:
                    pass
                closed = full
            self._slots[sock] = _Slot(key, authenticated)
            self._unauthenticated += not authenticated
            if key is not None:
                self._per_client[key] = self._per_client.get(key, 0) + 1
        return True, closed

    def _full(self, key, authenticated):
        """(the cap a new connection would break, whether room must come from its own
        client), or (None, False) if none is full. Called with the lock held."""
        if key is not None and self._per_client.get(key, 0) >= self.max_per_client:
            return "too many connections from one client (%d)" % self.max_per_client, True
        if len(self._slots) >= self.max_total:
            return "too many connections (%d)" % self.max_total, False
        if not authenticated and self._unauthenticated >= self.max_unauthenticated:
            return "too many unauthenticated connections (%d)" % self.max_unauthenticated, \
                False
        return None, False

    def authenticated(self, sock):
        """Whether the connection ``sock`` is authenticated."""
        slot = self._slots.get(sock)
        return bool(slot and slot.authenticated)

    def answering(self, sock):
        """Mark ``sock`` as being answered (it will not be closed for room); False if
        it has been closed for room already, and must not be answered."""
        with self._lock:
            slot = self._slots.get(sock)
            if slot is None:
                return False
            slot.answering = True
            return True

    def answered(self, sock, authenticated):
        """``sock``'s request was answered; ``authenticated`` if its connection now is
        (it then no longer counts against the unauthenticated cap)."""
        with self._lock:
            slot = self._slots.get(sock)
            if slot is None:
                return
            slot.answering = False
            if authenticated and not slot.authenticated:
                slot.authenticated = True
                self._unauthenticated -= 1

    def leave(self, sock):
        """The connection ``sock`` has ended (a no-op if it was closed for room)."""
        with self._lock:
            self._drop(sock)

    def _drop(self, sock):
        slot = self._slots.pop(sock, None)
        if slot is None:
            return
        self._unauthenticated -= not slot.authenticated
        if slot.client is not None:
            left = self._per_client.pop(slot.client) - 1
            if left:
                self._per_client[slot.client] = left

    def sockets(self):
        """The sockets of the open connections."""
        with self._lock:
            return list(self._slots)

    @property
    def open(self):
        return len(self._slots)


def _address(client):
    """``client``'s address as an ip_address (an IPv4 client of a dual-stack IPv6
    socket, shown as ::ffff:a.b.c.d, as its IPv4 one); None if it is not one."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address
