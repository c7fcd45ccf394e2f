"""The Unix listener's file modes (listeners.UnixListener): the socket 0600, its directory 0700
when the directory is xend's own, whatever the umask or an earlier mkdir left."""

import logging
import os
import socket
import stat
import types

import pytest

from xen.xend.daemon import config as configmod
from xen.xend.transport import listeners


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def listen(monkeypatch):
    """listen(path): a UnixListener on ``path``, closed at the test's end."""
    made = []
    monkeypatch.setattr(os, "umask", os.umask)   # restored however a test changes it

    def start(path):
        app = types.SimpleNamespace(config=dict(configmod.DEFAULTS))
        made.append(listeners.UnixListener(app, str(path)))
        return made[-1]
    yield start
    for listener in made:
        listener.server_close()


def test_a_directory_it_creates_is_0700_and_the_socket_0600(tmp_path, listen):
    old = os.umask(0)     # a permissive umask must not loosen either
    try:
        sock = tmp_path / "run" / "xend" / "xen-api.sock"
        listen(sock)
    finally:
        os.umask(old)
    assert stat.S_ISSOCK(os.lstat(sock).st_mode)
    assert _mode(sock) == 0o600
    assert _mode(sock.parent) == 0o700


def test_its_own_directory_made_0755_beforehand_becomes_0700(tmp_path, listen):
    own = tmp_path / "xend"           # as /var/run/xend left by an older package
    own.mkdir()
    os.chmod(own, 0o755)
    listen(own / "xen-api.sock")
    assert _mode(own) == 0o700
    assert _mode(own / "xen-api.sock") == 0o600


def test_a_shared_directory_is_left_alone_with_a_warning(tmp_path, listen, caplog):
    shared = tmp_path / "shared"      # as /tmp: chmod 0700 would lock everyone else out
    shared.mkdir()
    os.chmod(shared, 0o755)
    with caplog.at_level(logging.WARNING, logger="xend.server"):
        listen(shared / "xen-api.sock")
    assert _mode(shared) == 0o755
    assert _mode(shared / "xen-api.sock") == 0o600
    assert any("not xend's own" in r.getMessage() for r in caplog.records)


def test_a_file_at_the_socket_path_is_never_removed(tmp_path, listen):
    """A mistyped ``socket`` setting naming a real file: refused, the file untouched."""
    victim = tmp_path / "xend.toml"
    victim.write_text("important\n")
    with pytest.raises(RuntimeError, match="not a socket"):
        listen(victim)
    assert victim.read_text() == "important\n"


def test_a_socket_left_by_a_killed_daemon_is_replaced(tmp_path, listen):
    path = tmp_path / "xen-api.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))        # bound, never listening, as after a kill -9
    stale.close()
    listen(path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.connect(str(path))     # the new listener answers on it
    probe.close()
