"""The simulated guests' vt100 console (backend/sim.py): a banner at start, each line
typed echoed, EOF when the guest stops; no rfb, no console for a guest not running."""

import uuid as uuidlib

import pytest
from harness import read_until

from xen.xend.backend.base import BackendError
from xen.xend.backend.sim import SimBackend
from xen.xend.backend.spec import DomainSpec


@pytest.fixture
def sim(tmp_path):
    backend = SimBackend(str(tmp_path))
    yield backend
    backend.close()


def started(sim):
    spec = DomainSpec(uuid=str(uuidlib.uuid4()))
    sim.start(spec, paused=False)
    return spec.uuid


def test_the_console_shows_the_banner_and_echoes_each_line(sim):
    vm = started(sim)
    with sim.open_console(vm, "vt100") as console:
        assert read_until(console, b"\r\n") == b"xend simulated guest %s\r\n" % vm.encode()
        console.sendall(b"hel")
        console.sendall(b"lo\r\n")
        assert read_until(console, b"hello\r\n") == b"echo: hello\r\n"


def test_a_reader_sees_the_writers_lines_and_the_guest_stopping_ends_both(sim):
    vm = started(sim)
    writer, reader = sim.open_console(vm, "vt100"), sim.open_console(vm, "vt100", False)
    reader.sendall(b"ignored\n")
    writer.sendall(b"uname\n")
    assert read_until(reader, b"echo: uname\r\n").endswith(b"\r\necho: uname\r\n")
    sim.hard_shutdown(vm)
    for sock in (writer, reader):
        assert b"ignored" not in read_until(sock, b"never")    # then EOF
        sock.close()


def test_only_a_running_guests_vt100_console_opens(sim):
    vm = started(sim)
    sim.open_console(vm, "vt100").close()
    with pytest.raises(BackendError) as err:
        sim.open_console(vm, "rfb")
    assert err.value.code == "VALUE_NOT_SUPPORTED" and err.value.params[:2] == ["console", "rfb"]
    sim.hard_shutdown(vm)
    with pytest.raises(BackendError) as err:
        sim.open_console(vm, "vt100")
    assert err.value.params[:2] == ["console", "vt100"]
