"""Timestamps as the store keeps them: ISO-8601 UTC strings, as XML-RPC dateTime wants."""

import time


def stamp(seconds):
    """``seconds`` since the epoch as "YYYYMMDDTHH:MM:SSZ" ("" for 0)."""
    if not seconds:
        return ""
    return time.strftime("%Y%m%dT%H:%M:%SZ", time.gmtime(seconds))
