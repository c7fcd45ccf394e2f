"""The daemon's listen addresses, as its configuration spells them ("ADDR:PORT",
"[v6]:PORT", "none"): read by the listeners that bind them and by the API, which
tells clients where to reach them."""

import socket

# Addresses a listener binds to listen on every interface: no client can connect to them.
WILDCARDS = ("0.0.0.0", "::")


def parse_listen(value):
    """"ADDR:PORT" or "[v6]:PORT" -> (host, port), an empty ADDR being 127.0.0.1;
    "none" or "" -> None. ValueError for anything else."""
    if value in ("", "none"):
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("listen address must be ADDR:PORT or none, not %r" % value)
    return host.strip("[]") or "127.0.0.1", int(port)


def reachable_authority(listen):
    """"HOST:PORT" a client can reach, from a configured listen address: a wildcard
    ADDR becomes the host's name."""
    host, port = parse_listen(listen)
    if host in WILDCARDS:
        host = socket.gethostname()
    return "%s:%s" % ("[%s]" % host if ":" in host else host, port)


def pool_endpoint(config):
    """(address, port) where the other members of a pool reach this host's TLS
    listener: ``pool_address`` where it is set, else the listener's own address when it
    is a specific one; ("", 0) when there is none (no TLS listener, or a wildcard and no
    ``pool_address``)."""
    listen = parse_listen(config["tls_listen"])
    if listen is None:
        return "", 0
    host, port = listen
    address = config["pool_address"] or ("" if host in WILDCARDS else host)
    return (address, port) if address else ("", 0)
