"""The daemon's configuration: defaults, the TOML file, then command-line flags.

Every key is listed in DEFAULTS with its default; ``tools/examples/xend.toml``
documents each one. An unknown key or a value of the wrong type in the file is
an error at start, not a silent default.
"""

import os
import tomllib

DEFAULT_CONFIG_FILE = "/etc/xen/xend.toml"

DEFAULTS = {
    "state_dir": "/var/lib/xend",
    "socket": "/var/run/xend/xen-api.sock",
    "listen": "127.0.0.1:4464",            # "none" turns the TCP listener off
    "tls_listen": "none",                  # HTTPS ADDR:PORT, e.g. "0.0.0.0:4465"
    "tls_cert": "",                        # PEM certificate; "" makes a self-signed one
    "tls_key": "",                         # PEM private key of tls_cert
    "backend": "auto",                     # auto | qemu | sim
    "accel": "auto",                       # qemu: auto (KVM where usable) | kvm | tcg
    "qemu_binary": "qemu-system-x86_64",
    "log_file": "",                        # "" logs to stderr
    "log_level": "info",
    "pid_file": "/var/run/xend/xend.pid",
    "auth": "password",                    # password | pam
    "session_idle_timeout": 86400,         # seconds
    "login_failure_delay": 1.0,            # seconds before a failed login is answered
    "shutdown_timeout": 60,                # seconds a clean shutdown/reboot may take
    "host_shutdown_command": "",           # argv run by host.shutdown, e.g. "systemctl poweroff"
    "host_reboot_command": "",
    "sampler_interval": 2.0,               # seconds between metric samples
    "task_workers": 4,                     # threads running Async calls
    "max_pending_tasks": 200,              # more queued or running tasks -> TOO_MANY_PENDING_TASKS
    "task_max_age": 3600.0,                # seconds a finished task is kept
    "task_max_finished": 1000,             # finished tasks kept at most
    "event_log_size": 20000,               # events kept for event.from / event.next
    "sim_op_seconds": 0.0,                 # sim backend: how long each operation takes
    "max_request_bytes": 8 * 2 ** 20,      # largest request body accepted
    "request_timeout": 30.0,               # seconds to read one request's headers and body
    "keepalive_timeout": 300.0,            # seconds an idle keep-alive connection is kept
}


class ConfigError(Exception):
    """The configuration file or a flag is wrong; the message says which key."""


def load(path=None, overrides=None):
    """The effective configuration: DEFAULTS, then the file at ``path``, then ``overrides``.

    A missing file is fine only when ``path`` is the default location.
    """
    cfg = dict(DEFAULTS)
    path = path or os.environ.get("XEND_CONFIG") or DEFAULT_CONFIG_FILE
    try:
        with open(path, "rb") as f:
            cfg.update(_checked(tomllib.load(f), path))
    except FileNotFoundError:
        if path != DEFAULT_CONFIG_FILE:
            raise ConfigError("config file %s not found" % path) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("%s: %s" % (path, e)) from None
    cfg.update(_checked({k: v for k, v in (overrides or {}).items() if v is not None},
                        "command line"))
    cfg["config_file"] = path
    return cfg


def _checked(values, where):
    for key, value in values.items():
        if key not in DEFAULTS:
            raise ConfigError("%s: unknown key %r" % (where, key))
        want = type(DEFAULTS[key])
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
            values[key] = value
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise ConfigError("%s: %s must be a %s" % (where, key, want.__name__))
    return values
