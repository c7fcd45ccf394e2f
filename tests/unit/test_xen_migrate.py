"""The Xen backend's live migration driver (xen/xend/backend/xen/migrate.py): its URIs,
its storage check, and send/receive/finish driving a fake xl (a script speaking
xl_migrate.c's protocol) through the real relays on this host: a migration arrives and
is handed over, a cancel before the switch leaves the guest at the source, and a failed
migration's leftover domain at the target is destroyed."""

import os
import socket
import threading
import types

import harness
import pytest

from xen.xend.backend.base import BackendError
from xen.xend.backend.xen import migrate, migrelay
from xen.xend.util import progress

UUID = "5b7c2d0e-9f4a-4e1b-8c3d-2a6f0e9b1c47"
MIB = 1024 * 1024
SIZE = 4 * MIB          # the bytes the fake xl sends for the guest
ENTRY = {"domid": 7, "name": "guest", "mem_mib": 4, "state": "-b----", "reason": None}

# xl as tools/xl/xl_migrate.c has it (fake_xl.py says what it does).
FAKE_XL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_xl.py")


class FakeXl:
    """What migrate.py asks of Xl: ``path`` (the fake xl), a listing the test sets, and
    the commands it runs (recorded)."""

    def __init__(self, path, listing):
        self.path, self.listing, self.ran, self.incoming = path, listing, [], []

    def list(self, max_age):
        return dict(self.listing)

    def run(self, *args, timeout=None):
        self.ran.append(args)
        return ""

    def forget_listing(self):
        pass


@pytest.fixture
def hosts(tmp_path, monkeypatch):
    """(source, target) FakeXl, both running the fake xl; its marks in tmp_path."""
    xl = FAKE_XL
    (tmp_path / "target").mkdir()
    monkeypatch.setenv("FAKE_XL_MARKS", str(tmp_path))
    monkeypatch.setenv("FAKE_XL_SIZE", str(SIZE))
    target = FakeXl(str(xl), {})
    yield FakeXl(str(xl), {UUID: dict(ENTRY)}), target
    for incoming in target.incoming:
        if incoming.proc.returncode is None:    # left by a failed test
            incoming.end()


def receive(tmp_path, target, address="127.0.0.1", tls=None):
    """migrate.receive at ``target`` (ended at the test's end if still running)."""
    target.incoming.append(migrate.receive(target, UUID, str(tmp_path / "target"), address,
                                           tls))
    return target.incoming[-1]


def mark(tmp_path, name):
    path = tmp_path / name
    return path.read_text() if path.exists() else None


GUEST = types.SimpleNamespace(uuid=UUID, domid=7)


@pytest.mark.parametrize("uri, parsed", [
    ("xl://tok@10.0.0.2:40123", ("tok", "10.0.0.2", 40123)),
    ("xl://a-b_c@host.example:1", ("a-b_c", "host.example", 1)),
    ("xl://tok@[fd00::2]:40123", ("tok", "fd00::2", 40123)),
    ("xl://tok@[::1]:5", ("tok", "::1", 5)),
])
def test_parse_uri(uri, parsed):
    """A receiver's URI gives its token, host (an IPv6 one without brackets) and port."""
    assert migrate.parse_uri(uri) == parsed


@pytest.mark.parametrize("uri", [
    "tcp://tok@10.0.0.2:40123", "xl://10.0.0.2:40123", "xl://tok@10.0.0.2",
    "xl://tok@10.0.0.2:port", "xl://tok@[::1]", "", "qemu+tcp://10.0.0.2:4444"])
def test_parse_uri_refuses_others(uri):
    """Anything but ``xl://TOKEN@HOST:PORT`` is a ValueError."""
    with pytest.raises(ValueError):
        migrate.parse_uri(uri)


def test_only_shared_storage_is_migrated():
    """xl moves no disks: "copy" is VM_MIGRATE_FAILED naming the VM, "shared" passes."""
    migrate.check_storage(UUID, "shared")
    with pytest.raises(BackendError) as e:
        migrate.check_storage(UUID, "copy")
    assert e.value.code == "VM_MIGRATE_FAILED" and e.value.params[0] == UUID


def _has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.parametrize("address, tls", [("127.0.0.1", False), ("127.0.0.1", True),
                                          ("::1", False)], ids=["plain", "tls", "ipv6"])
def test_a_migration_is_sent_received_and_handed_over(tmp_path, hosts, address, tls):
    """receive gives an xl:// URI of its address; send moves the guest through it and
    reports what the relay sent; finish(ok=True) hands over the domain the target's xl
    made, and neither host destroys anything."""
    if address == "::1" and not _has_ipv6_loopback():
        pytest.skip("no IPv6 loopback")
    source, target = hosts
    options = {"max_bandwidth": None, "tls": None}
    target_tls = None
    if tls:
        ca = harness.make_ca(str(tmp_path))
        target_tls = harness.migration_tls(str(tmp_path), "target", ca)
        options["tls"] = harness.migration_tls(str(tmp_path), "source", ca)
    incoming = receive(tmp_path, target, address, target_tls)
    host = "[%s]" % address if ":" in address else address
    assert incoming.uri.startswith("xl://") and "@%s:" % host in incoming.uri
    figures = migrate.send(source, GUEST, incoming.uri, options)
    assert figures["transferred_bytes"] == len(b"%d\n" % SIZE) + SIZE
    assert figures["downtime_ms"] is None and figures["total_time_ms"] >= 0
    assert mark(tmp_path, "migrate-rc") == "0" and mark(tmp_path, "got-ready") == ""
    assert mark(tmp_path, "received-sha256") == mark(tmp_path, "sent-sha256")
    target.listing[UUID] = dict(ENTRY, domid=12, state="r-----")
    assert migrate.finish(target, UUID, incoming, ok=True) == target.listing[UUID]
    assert incoming.proc.returncode == 0
    assert source.ran == [] and target.ran == []


def test_a_cancel_before_the_switch_leaves_the_guest_at_the_source(tmp_path, hosts):
    """A task's cancel while the memory goes (held to 1 MiB/s) is Cancelled: the relay
    abandons (CANCELLED), READY never reaches the source's xl, which fails and resumes
    the guest (exit 1); the source destroys nothing. finish(ok=False) at the target then
    ends its relay and destroys the domain its xl left there."""
    source, target = hosts
    incoming = receive(tmp_path, target)
    sending = threading.Event()
    tracker = progress.Tracker(lambda fraction: sending.set())
    answers = []

    def cancel():
        if sending.wait(60):
            answers.append(tracker.request_cancel())
    canceller = threading.Thread(target=cancel)
    progress.install(tracker)
    try:
        canceller.start()
        with pytest.raises(progress.Cancelled):
            migrate.send(source, GUEST, incoming.uri, {"max_bandwidth": MIB, "tls": None})
    finally:
        progress.install(None)
        sending.set()
        canceller.join()
    assert answers == [True] and tracker.fraction > 0
    assert mark(tmp_path, "migrate-rc") == "1" and mark(tmp_path, "got-ready") is None
    assert mark(tmp_path, "relay-rc") == str(migrelay.CANCELLED)
    assert source.ran == []
    harness.wait_until(lambda: mark(tmp_path, "receiver-eof") is not None, 60,
                       "the target's xl to see the stream end")
    target.listing[UUID] = dict(ENTRY, domid=12, state="--p---")
    assert migrate.finish(target, UUID, incoming, ok=False) is None
    assert incoming.proc.returncode is not None
    assert target.ran == [("destroy", "12")]


def test_a_failed_migration_is_not_handed_over(tmp_path, hosts):
    """finish(ok=True) when the target's relay and xl failed (here: ended before any
    sender came) is VM_MIGRATE_FAILED, and the domain left there is destroyed."""
    _, target = hosts
    incoming = receive(tmp_path, target)
    incoming.end()
    target.listing[UUID] = dict(ENTRY, domid=12, state="--p---")
    with pytest.raises(BackendError) as e:
        migrate.finish(target, UUID, incoming, ok=True)
    assert e.value.code == "VM_MIGRATE_FAILED" and e.value.params[0] == UUID
    assert target.ran == [("destroy", "12")]


def test_a_receiver_that_cannot_listen_is_refused(tmp_path, hosts):
    """An address not of this host: VM_MIGRATE_FAILED with what the relay said."""
    _, target = hosts
    with pytest.raises(BackendError) as e:
        receive(tmp_path, target, "192.0.2.1")
    assert e.value.code == "VM_MIGRATE_FAILED"
    assert "Cannot assign requested address" in e.value.params[1]
