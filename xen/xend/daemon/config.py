"""The daemon's configuration: defaults, the TOML file, then command-line flags.

Every key is listed in DEFAULTS with its default; ``tools/examples/xend.toml``
documents each one. An unknown key or a value of the wrong type in the file is
an error at start, not a silent default.
"""

import ipaddress
import os
import re
import stat
import tomllib
import urllib.parse

from ..api import datamodel

DEFAULT_CONFIG_FILE = "/etc/xen/xend.toml"

DEFAULTS = {
    "state_dir": "/var/lib/xend",
    "socket": "/var/run/xend/xen-api.sock",
    "listen": "127.0.0.1:4464",            # "none" turns the TCP listener off
    "tls_listen": "none",                  # HTTPS ADDR:PORT, e.g. "0.0.0.0:4465"
    "tls_cert": "",                        # PEM certificate; "" makes a self-signed one
    "tls_key": "",                         # PEM private key of tls_cert
    "backend": "auto",                     # auto | xen | qemu | sim
    "accel": "auto",                       # qemu: auto (KVM where usable) | kvm | tcg
    "qemu_binary": "qemu-system-x86_64",
    "qemu_user": "xend-qemu",              # qemu: the system user guests' QEMU runs as
    "reattach_timeout": 5.0,               # qemu: seconds a found guest's monitor may take
    "console_log_bytes": 2 ** 20,          # qemu: a guest's console.log at most (+ .1)
    "console_history_bytes": 64 * 2 ** 10,  # a console's recent output shown to a new client
    "xen_xl": "xl",                        # xen: the xl binary
    "xen_pvh_cpuid": "",                   # xen: xl cpuid= for PVH guests, e.g. "host,rdtscp=0"
    "log_file": "",                        # "" logs to stderr
    "log_level": "info",
    "pid_file": "/var/run/xend/xend.pid",
    "auth": "password",                    # password | pam
    "session_idle_timeout": 86400.0,         # seconds
    "session_max_lifetime": 604800.0,        # seconds a session lives at most; 0: no limit
    "max_sessions_per_user": 500,          # beyond: the user's least recently used closes
    "login_failure_delay": 1.0,            # seconds before a first failed login is answered
    "login_failure_delay_max": 8.0,        # the delay doubles per failure up to this
    "login_lockout_failures": 10,          # failures that lock an address or user; 0: never
    "login_lockout_seconds": 300.0,        # how long a lockout lasts
    "login_concurrent_checks": 4,          # passwords checked at once (16 MiB each)
    "shutdown_timeout": 60.0,                # seconds a clean shutdown/reboot may take
    "restart_min_interval": 60.0,            # seconds between restarts actions/* may make
    "host_shutdown_command": "",           # argv run by host.shutdown, e.g. "systemctl poweroff"
    "host_reboot_command": "",
    "sampler_interval": 2.0,               # seconds between metric samples
    "task_workers": 4,                     # threads running Async calls
    "max_pending_tasks": 200,              # more queued or running tasks -> TOO_MANY_PENDING_TASKS
    "max_pending_tasks_per_user": 50,      # the same, counting one user's tasks only
    "task_max_age": 3600.0,                # seconds a finished task is kept
    "task_max_finished": 1000,             # finished tasks kept at most
    "event_log_size": 20000,               # events kept for event.from / event.next
    "event_log_bytes": 64 * 2 ** 20,       # ... and the bytes of the records they carry
    "sim_op_seconds": 0.0,                 # sim backend: how long each operation takes
    "sim_host_memory": 0,                  # sim backend: the host's bytes; 0 the machine's
    "max_request_bytes": 8 * 2 ** 20,      # largest request body accepted
    "request_timeout": 30.0,               # seconds to read one request's headers and body
    "keepalive_timeout": 300.0,            # seconds an idle keep-alive connection is kept
    "allow": ["127.0.0.0/8", "::1/128"],   # networks that may connect to the TCP listener
    "tls_allow": ["0.0.0.0/0", "::/0"],    # networks that may connect to the TLS listener
    "max_connections": 256,                # open connections per listener
    "max_connections_per_client": 64,      # open connections per client address (TCP, TLS)
    "max_unauthenticated_connections": 64,  # of max_connections, open before a login
    "first_byte_timeout": 10.0,            # seconds a new connection may send nothing
    "loopback_is_one_client": True,        # 127.0.0.0/8 and ::1 share one per-client cap
    "path_roots": [],                      # where SRs and users' VM files lie; docs/security.md
    "sr_overcommit_ratio": 1.0,            # an SR's VDIs may promise physical_size x this
    "state_reserve_bytes": 256 * 2 ** 20,  # kept free for xend on the state dir's file system
    "api_version_default": "0.2",          # the revision of a login that names none: 0.2 | 1.0
    "webui_dir": "",                       # the built web console; "" is the package's
    "database": "",                        # "" SQLite in state_dir; or postgresql://...
    "database_password_file": "",          # the PostgreSQL password, in a root-only file
    "database_log_retention": 300.0,       # seconds PostgreSQL's change log keeps a commit
    "pool_database": "",                   # the pool pool.join joins: postgresql://...
    "pool_ca_file": "",                    # PEM CA of the members' TLS certificates
    "pool_lease_seconds": 30.0,            # PostgreSQL: a member is dead this long unrenewed
    "pool_address": "",                    # where members reach this host's TLS listener
}

# The values of the keys that name one of a few choices (the command line offers the same).
BACKENDS = ("auto", "xen", "qemu", "sim")
LOG_LEVELS = ("debug", "info", "warning", "error")

# Checks beyond the type, for keys whose every value of the right type is not
# sensible: each returns an error message, or None when the value is fine.
_POSITIVE = "must be greater than 0"
_NOT_NEGATIVE = "must not be negative"
# What the type check calls each type of value.
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "a bool",
               list: "a list"}


def _seconds(zero_ok=False):
    """The rule of a key that is a number of seconds (a float; an integer is taken as
    one): greater than 0, or also 0 where 0 means "none" or "no limit"."""
    low = "0 or more" if zero_ok else "greater than 0"

    def rule(value):
        if value > 0 or (zero_ok and value == 0):
            return None
        return "must be %s (a number of seconds, such as 90 or 2.5), not %g" % (low, value)
    return rule


def _networks(value):
    for item in value:
        try:
            if not isinstance(item, str):   # ip_network(5) would mean 0.0.0.5
                raise TypeError(item)
            ipaddress.ip_network(item, strict=False)
        except (TypeError, ValueError):
            return "has %r, not an address or network (CIDR, e.g. 192.0.2.0/24)" % (item,)
    return None


def _one_of(*choices):
    """The rule of a key whose value must be one of ``choices``: the message lists them."""
    def rule(value):
        if value in choices:
            return None
        return "must be %s or %s, not %r" % (", ".join(choices[:-1]), choices[-1], value)
    return rule


def _roots(value):
    for item in value:
        if not isinstance(item, str) or not os.path.isabs(item) or not item.isprintable():
            return "has %r, not an absolute path" % (item,)
    return None


def _database(value):
    if value == "":
        return None
    try:
        uri = urllib.parse.urlsplit(value)
        password = uri.password
    except ValueError:   # a port that is not a number
        password = uri = None
    if uri is None or uri.scheme not in ("postgresql", "postgres"):
        return 'must be "" (SQLite in state_dir) or a URI postgresql://USER@HOST:PORT/DBNAME'
    if password is not None or "password" in urllib.parse.parse_qs(uri.query):
        # Said without the URI: it would put the password in the log.
        return "must not hold a password: put it in the file database_password_file names"
    return None


_RULES = {
    "database": _database,
    "pool_database": _database,
    "backend": _one_of(*BACKENDS),
    "accel": _one_of("auto", "kvm", "tcg"),
    "auth": _one_of("password", "pam"),
    "log_level": _one_of(*LOG_LEVELS),
    "api_version_default": _one_of(*datamodel.REVISIONS),
    "allow": _networks,
    "tls_allow": _networks,
    "path_roots": _roots,
    "max_request_bytes": lambda v: None if v > 0 else _POSITIVE,
    "sr_overcommit_ratio": lambda v: None if v > 0 else _POSITIVE,
    "state_reserve_bytes": lambda v: None if v >= 0 else _NOT_NEGATIVE,
    "event_log_bytes": lambda v: None if v > 0 else _POSITIVE,
    "request_timeout": _seconds(),
    "database_log_retention": _seconds(),
    # At least three: renewed every third of it, a connection attempt takes up to 2 s.
    "pool_lease_seconds": lambda v: None if v >= 3 else "must be 3 or more (seconds), "
    "not %g" % v,
    "reattach_timeout": _seconds(),
    "console_log_bytes": lambda v: None if v > 0 else _POSITIVE,
    "console_history_bytes": lambda v: None if v > 0 else _POSITIVE,
    "qemu_user": lambda v: None if re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", v)
    else "must be a user name (lower-case letters, digits, _ and -)",
    "restart_min_interval": _seconds(zero_ok=True),
    "keepalive_timeout": _seconds(),
    "max_connections": lambda v: None if v > 0 else _POSITIVE,
    "max_pending_tasks_per_user": lambda v: None if v > 0 else _POSITIVE,
    "max_connections_per_client": lambda v: None if v > 0 else _POSITIVE,
    "max_unauthenticated_connections": lambda v: None if v > 0 else _POSITIVE,
    "first_byte_timeout": _seconds(),
    "session_idle_timeout": _seconds(),
    "session_max_lifetime": _seconds(zero_ok=True),
    "max_sessions_per_user": lambda v: None if v >= 0 else _NOT_NEGATIVE,
    "login_failure_delay": _seconds(zero_ok=True),
    "login_failure_delay_max": _seconds(zero_ok=True),
    "login_lockout_failures": lambda v: None if v >= 0 else _NOT_NEGATIVE,
    "login_lockout_seconds": _seconds(),
    "login_concurrent_checks": lambda v: None if v > 0 else _POSITIVE,
    "shutdown_timeout": _seconds(),
    "sampler_interval": _seconds(),
    "task_max_age": _seconds(),
    "sim_op_seconds": _seconds(zero_ok=True),
    "sim_host_memory": lambda v: None if v >= 0 else _NOT_NEGATIVE,
}


class ConfigError(Exception):
    """The configuration file or a flag is wrong; the message says which key."""


def load(path=None, overrides=None):
    """The effective configuration: DEFAULTS, then the file at ``path``, then ``overrides``.

    A missing file is fine only when ``path`` is the default location; ``config_file``
    is then "" (see reloaded).
    """
    cfg = dict(DEFAULTS)
    path = path or os.environ.get("XEND_CONFIG") or DEFAULT_CONFIG_FILE
    try:
        with open(path, "rb") as f:
            cfg.update(_checked(tomllib.load(f), path))
    except FileNotFoundError:
        if path != DEFAULT_CONFIG_FILE:
            raise ConfigError("config file %s not found" % path) from None
        path = ""
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("%s: %s" % (path, e)) from None
    except OSError as e:   # root's file read by another user, a directory, ...
        raise ConfigError("cannot read config file %s: %s" % (path, e.strerror or e)) \
            from None
    cfg.update(_checked({k: v for k, v in (overrides or {}).items() if v is not None},
                        "command line"))
    _check_tls_pair(cfg, path)
    cfg["config_file"] = path
    return cfg


def run_dir(cfg):
    """The daemon's run directory: the Unix socket's (by default /var/run/xend, on a
    tmpfs that a host boot empties), or the pid file's when the socket is off."""
    path = cfg["socket"] if cfg["socket"] not in ("", "none") else cfg["pid_file"]
    return os.path.dirname(path)


def reloaded(cfg):
    """The line that says a reload applied ``cfg`` (load()'s result), and from where."""
    if cfg.get("config_file"):
        return "configuration reloaded from %s" % cfg["config_file"]
    return ("configuration reloaded: no config file at %s, defaults and command-line "
            "flags kept" % DEFAULT_CONFIG_FILE)


def _check_tls_pair(cfg, where):
    # One without the other would otherwise surface at the first TLS handshake set-up
    # as a bare "No such file or directory" that names neither key nor file.
    for have, missing in (("tls_cert", "tls_key"), ("tls_key", "tls_cert")):
        if cfg[have] and not cfg[missing]:
            raise ConfigError("%s: %s is set but %s is not: give both (a PEM certificate "
                              "and its private key), or neither for a self-signed pair "
                              "made in state_dir" % (where, have, missing))


def check_tls_files(cfg):
    """Check, before the daemon listens, that a configured tls_cert and tls_key are
    readable files that make a certificate and its private key; ConfigError naming
    the key and the file otherwise. Does nothing when the TLS listener is off or no
    pair is configured (the daemon then makes its own). ``cfg`` is load()'s result
    with its paths made absolute."""
    if cfg["tls_listen"] == "none" or not cfg["tls_cert"]:
        return
    for key in ("tls_cert", "tls_key"):
        path = cfg[key]
        try:
            with open(path, "rb"):
                pass
        except OSError as e:
            raise ConfigError("%s = %r cannot be read: %s" % (key, path, e.strerror or e)) \
                from None
        if not os.path.isfile(path):
            raise ConfigError("%s = %r is not a file" % (key, path))
    from ..transport import tls
    problem = tls.pair_problem(cfg["tls_cert"], cfg["tls_key"])
    if problem:
        raise ConfigError("tls_cert = %r and tls_key = %r cannot be used: %s"
                          % (cfg["tls_cert"], cfg["tls_key"], problem))


def database_password(cfg):
    """The password, the first line of the file ``database_password_file`` names, or
    None when no file is named. ConfigError (naming the file, never its content) when
    the file cannot be read or anyone but its owner, the daemon's user, may read or
    write it."""
    path = cfg["database_password_file"]
    if not path:
        return None
    try:
        # O_NONBLOCK: a FIFO in its place is refused below, not waited on.
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise ConfigError("database_password_file = %r is not a file" % path)
            if st.st_uid != os.geteuid() or st.st_mode & 0o077:
                raise ConfigError("database_password_file = %r is readable by others (mode "
                                  "%04o, owner uid %d): make it mode 0600 and the daemon "
                                  "user's" % (path, stat.S_IMODE(st.st_mode), st.st_uid))
            lines = f.read().decode().splitlines()
            return lines[0] if lines else ""
    except OSError as e:
        raise ConfigError("database_password_file = %r cannot be read: %s"
                          % (path, e.strerror or e)) from None
    except UnicodeDecodeError:
        raise ConfigError("database_password_file = %r is not UTF-8 text" % path) from None


def _checked(values, where):
    for key, value in values.items():
        if key not in DEFAULTS:
            raise ConfigError("%s: unknown key %r" % (where, key))
        want = type(DEFAULTS[key])
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
            values[key] = value
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise ConfigError("%s: %s must be %s" % (where, key, _TYPE_NAMES[want]))
        problem = _RULES[key](value) if key in _RULES else None
        if problem:
            raise ConfigError("%s: %s %s" % (where, key, problem))
    return values
