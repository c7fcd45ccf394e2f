"""File-system helpers that every layer of the daemon uses alike."""

import os


def unlink_if_exists(path):
    """Remove the file ``path``; one that is not there counts as removed."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
