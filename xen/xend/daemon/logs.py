"""The daemon's log: one line per message, to a file (reopened on reload) or stderr."""

import logging
import os
import re
import sys

from ..util.files import open_own, tighten

# C0 and C1 control characters (newline, carriage return and NEL among them), DEL, and
# the line and paragraph separators U+2028 and U+2029: every character that a reader
# splitting lines (Python's splitlines, editors, log viewers) may take for a line break.
# Also the bidirectional embeddings, overrides and isolates (U+202A-U+202E,
# U+2066-U+2069), which make a terminal show a line's text in another order than it has.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class OneLineFormatter(logging.Formatter):
    """Every message on one line: control characters and line separators in it are escaped
    (\\n, \\x1b, \\u2028...), so that a client's string (a user name, a method name, a
    ref) can neither forge a log line nor hide one. Only a traceback, which the daemon
    writes, spans lines."""

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
