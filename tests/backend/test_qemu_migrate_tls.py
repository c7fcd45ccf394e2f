"""Live migration over TLS between two QemuBackends of this machine, over 127.0.0.1,
each end with a certificate of its own signed by a CA the test makes (as a pool's
members have theirs), with the tiny Linux guest running a counter in its shell.

One guest boots for the module's story: a target whose certificate another CA signed
is refused (the guest runs on at the source, nothing is left at the target); then the
migration goes through a TCP relay that records what passes, and carries the guest
(its counter goes on); then the guest goes back with its disk copied, the NBD copy
over TLS too.
"""

import dataclasses
import socket
import subprocess
import threading

import pytest
from harness import READY, make_ca, migration_tls, qemu_pids, requires_qemu
from qemutest import console, start_counting, ticks, wait_ticks

from xen.xend.backend.base import BackendError

pytestmark = [pytest.mark.qemu, requires_qemu]

TOKEN = "tls-disk-5c21"
# The first bytes of QEMU's plain migration stream (QEMU_VM_FILE_MAGIC): not a TLS
# record's header (whose first byte is 20-23).
PLAIN_MAGIC = b"QEVM"


def tls_record_types(data):
    """The content type of each TLS record ``data`` holds, in order; AssertionError
    where it is not a whole sequence of TLS records (5-byte headers: type 20-23,
    version 3.x, a length of at most 2^14 + 2048)."""
    types, at = [], 0
    while at < len(data):
        kind, major, length = data[at], data[at + 1], int.from_bytes(data[at + 3:at + 5])
        assert kind in (20, 21, 22, 23) and major == 3 and length <= (1 << 14) + 2048, \
            "no TLS record at byte %d: %r" % (at, bytes(data[at:at + 16]))
        types.append(kind)
        at += 5 + length
    assert at == len(data), "a TLS record cut short at the end"
    return types


class Relay:
    """A TCP relay on 127.0.0.1 to ``port`` that keeps every byte the client sends
    (``sent``); serves one connection."""

    def __init__(self, port):
        self.sent = bytearray()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._target = port
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        client, _ = self._server.accept()
        self._server.close()
        with client, socket.create_connection(("127.0.0.1", self._target)) as upstream:
            back = threading.Thread(target=self._pump, args=(upstream, client, None),
                                    daemon=True)
            back.start()
            self._pump(client, upstream, self.sent)
            back.join()

    @staticmethod
    def _pump(source, sink, record):
        """Copy ``source`` into ``sink`` until either end closes (into ``record``
        too), then close ``sink`` for writing."""
        try:
            while data := source.recv(1 << 16):
                if record is not None:
                    record += data
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass        # the other end went: nothing more to relay

    def close(self):
        self._thread.join(timeout=30)


def test_tls_migration_refuses_a_foreign_ca_and_carries_the_guest_encrypted(
        backend_factory, vms, linux_spec, tmp_path):
    source, target = backend_factory(), backend_factory()
    ca = make_ca(tmp_path)
    theirs = migration_tls(tmp_path, "target", ca)
    ours = migration_tls(tmp_path, "source", ca)
    disk = vms.disk(source)
    spec = linux_spec("shell", disks=[disk])
    here = dataclasses.replace(spec, state_dir=str(tmp_path / "target"))
    pid = start_counting(source, spec, TOKEN)

    # A target whose certificate and CA are another pool's: the source refuses it.
    stranger = migration_tls(tmp_path, "stranger", make_ca(tmp_path, "another CA"))
    incoming = target.migrate_receive(here, "127.0.0.1", tls=stranger)
    with pytest.raises(BackendError) as err:
        source.migrate_send(spec.uuid, incoming["uri"], {"tls": ours})
    assert err.value.code == "VM_MIGRATE_FAILED"
    assert target.migrate_finish(spec.uuid, False) is None
    assert qemu_pids(spec.uuid) == [pid]
    assert source.power_state(spec.uuid) == "Running"
    wait_ticks(spec, len(ticks(spec)) + 3)
    # Nothing of the credentials is left in either guest's state directory.
    assert not list((tmp_path / "target").glob("migration-tls*"))

    # Through the relay: what passes is TLS (a handshake record first), not QEMU's
    # plain stream, and the guest carries on at the target.
    incoming = target.migrate_receive(here, "127.0.0.1", tls=theirs)
    relay = Relay(int(incoming["uri"].rsplit(":", 1)[1]))
    figures = source.migrate_send(spec.uuid, "tcp:127.0.0.1:%d" % relay.port, {"tls": ours})
    target.migrate_finish(spec.uuid, True)
    relay.close()
    assert target.power_state(spec.uuid) == "Running"
    assert qemu_pids(spec.uuid) == [incoming["pid"]]
    assert len(relay.sent) >= figures["transferred_bytes"] > 0
    # Every byte is in a TLS record, the handshake first, the guest's state as
    # application data; none is QEMU's plain stream, which begins with its magic.
    records = tls_record_types(relay.sent)
    assert records[0] == 22 and records.count(23) > len(records) // 2
    assert not relay.sent.startswith(PLAIN_MAGIC)
    before = ticks(spec)
    wait_ticks(here, 3)
    after = ticks(here)
    assert before[-1][0] < after[0][0] <= before[-1][0] + 2
    assert READY not in console(here)

    # Back to the source with the disk copied: NBD over TLS as well.
    mine = dataclasses.replace(disk, path=vms.disk(source, name="back-disk").path)
    back = dataclasses.replace(spec, state_dir=str(tmp_path / "back"), disks=[mine])
    incoming = source.migrate_receive(back, "127.0.0.1", storage="copy", tls=ours)
    source_side = incoming["nbd"]
    target.migrate_send(spec.uuid, incoming["uri"],
                        {"storage": "copy", "nbd": source_side, "tls": theirs})
    source.migrate_finish(spec.uuid, True)
    raw = str(tmp_path / "back.raw")
    subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", mine.path, raw], check=True)
    with open(raw, "rb") as f:
        assert f.read(len(TOKEN)) == TOKEN.encode()
    wait_ticks(back, 3)


def test_tls_option_without_its_files_is_refused_before_anything_runs(backend, vms):
    spec = vms.spec()
    with pytest.raises(BackendError) as err:
        backend.migrate_receive(spec, "127.0.0.1", tls={"cert": "/c.pem"})
    assert (err.value.code, err.value.params[0]) == ("VALUE_NOT_SUPPORTED", "tls")
    assert qemu_pids(spec.uuid) == []
