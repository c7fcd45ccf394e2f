"""SIGHUP: apply a new configuration's reloadable keys and rebuild the listeners."""

import logging
import os
import socket

from ..transport.listeners import Servers, listeners_from_config
from ..util.addresses import parse_listen
from ..util.files import write_private
from . import config as configmod
from .logs import setup_logging

log = logging.getLogger("xend")

# Keys a reload applies: the listeners (with their admission limits) and the log are
# rebuilt from them, the request limits are read per request. Every other key is
# taken at start only.
RELOADABLE = ("socket", "listen", "tls_listen", "tls_cert", "tls_key", "allow", "tls_allow",
              "max_connections", "max_connections_per_client",
              "max_unauthenticated_connections", "loopback_is_one_client", "log_file",
              "log_level", "max_request_bytes", "request_timeout", "keepalive_timeout",
              "first_byte_timeout")


def listen_error(cfg, e):
    # A bind error does not say which listener failed; name them all.
    return "cannot listen (socket = %r, listen = %r, tls_listen = %r): %s" % (
        cfg["socket"], cfg["listen"], cfg["tls_listen"], e)


def reload(app, servers, reload_config, serial):
    """Apply a new configuration's reloadable keys and rebuild the listeners.

    An unreadable configuration, or a listen address that cannot be bound,
    leaves the daemon as it was. The verdict goes to the log and to
    STATE_DIR/xend.reload, where ``xend reload`` reads it."""
    try:
        new = reload_config() if reload_config else dict(app.config)
    except configmod.ConfigError as e:
        log.error("reload refused: %s", e)
        _write_reload_status(app, serial, "refused: %s" % e)
        return servers
    for key in sorted(k for k in new if k not in RELOADABLE and k != "config_file"
                      and new[k] != app.config.get(k)):
        log.warning("reload: %s changed; it takes effect at the next start", key)
    busy = addresses_in_use(app.config, new)
    if busy:
        log.error("reload refused: %s", busy)
        _write_reload_status(app, serial, "refused: %s" % busy)
        return servers
    old = {k: app.config[k] for k in RELOADABLE if k in app.config}
    servers.close()
    app.config.update({k: new[k] for k in RELOADABLE if k in new})
    setup_logging(app.config)
    try:
        servers = Servers(listeners_from_config(app))
    except (OSError, RuntimeError, ValueError) as e:
        message = listen_error(app.config, e)
        log.error("reload failed, back to the old listeners: %s", message)
        app.config.update(old)
        setup_logging(app.config)
        try:
            servers = Servers(listeners_from_config(app))
        except (OSError, RuntimeError, ValueError) as e2:
            # Nobody could reach the daemon any more: better stopped, and seen to.
            log.critical("cannot listen on the old addresses either, stopping: %s", e2)
            raise SystemExit("xend: %s" % listen_error(app.config, e2))
        _write_reload_status(app, serial, "failed: %s" % message)
        return servers
    log.info("%s", configmod.reloaded(new))
    _write_reload_status(app, serial, "ok")
    return servers


def addresses_in_use(old, new):
    """Why a TCP address the new configuration adds cannot be bound, or "".

    Checked before the old listeners close, so that the common failure, a port
    some other program holds, leaves the running listeners untouched."""
    for key in ("listen", "tls_listen"):
        if new[key] == old[key]:
            continue
        try:
            addr = parse_listen(new[key])
        except ValueError as e:
            return str(e)
        if addr is None:
            continue
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the listeners
            try:
                probe.bind(addr)
            except OSError as e:
                return "cannot listen on %s = %r: %s" % (key, new[key], e.strerror or e)
    return ""


def reload_status_path(cfg):
    """Where the daemon records the outcome of its last reload."""
    return os.path.join(cfg["state_dir"], "xend.reload")


def _write_reload_status(app, serial, outcome):
    path = reload_status_path(app.config)
    try:
        write_private(path, "%d %d %s\n" % (os.getpid(), serial, outcome))
    except OSError as e:   # only `xend reload` misses it: the daemon goes on
        log.warning("cannot record the reload's outcome in %s: %s", path, e)
