"""The daemon's log: one line per message, to a file (reopened on reload) or stderr."""

import logging
import os
import re
import sys

from ..util.files import open_own, tighten

# C0 and C1 control characters (newline and carriage return among them) and DEL.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class OneLineFormatter(logging.Formatter):
    """Every message on one line: control characters in it are escaped (\\n, \\x1b...), so
    that a client's string (a user name, a method name, a ref) can neither forge a log
    line nor hide one. Only a traceback, which the daemon writes, spans lines."""

    def formatMessage(self, record):
        record.message = _CONTROL.sub(
            lambda m: m.group().encode("unicode_escape").decode("ascii"), record.message)
        return super().formatMessage(record)


class OwnFileHandler(logging.FileHandler):
    """A log file that is root's alone (0600, a looser one is tightened) and never
    written through a symlink planted in its place."""

    def _open(self):
        tighten(self.baseFilename, 0o600)
        fd = open_own(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def setup_logging(cfg):
    """Send the root logger to the configured file (reopened: SIGHUP serves logrotate)
    or to stderr, at the configured level."""
    handler = (OwnFileHandler(cfg["log_file"]) if cfg["log_file"]
               else logging.StreamHandler(sys.stderr))
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = [handler]
    root.setLevel(cfg["log_level"].upper())
