"""Hostile disk images sent to PUT /import_raw_vdi: refused with a structured error,
never followed to a host file, never a traceback, and the VDI left as it was."""

import os
import struct
import subprocess
import urllib.parse

import pytest
from harness import MIB, new_sr, new_vdi
from secutil import body_of, exchange, status_of, unexpected_tracebacks

SIZE = 4 * MIB


@pytest.fixture(scope="module")
def api(root):
    return root


@pytest.fixture(scope="module")
def session(daemon):
    return daemon.sdk_unix()._session


def put(daemon, session, vdi, body, fmt="qcow2", headers=b""):
    """(status, body) of a raw PUT of ``body`` into ``vdi``."""
    query = urllib.parse.urlencode({"session_id": session, "vdi": vdi, "format": fmt})
    reply = exchange(daemon.port, b"PUT /import_raw_vdi?%s HTTP/1.1\r\nHost: x\r\n%s"
                     b"Content-Length: %d\r\n\r\n%s" % (query.encode(), headers, len(body), body))
    return status_of(reply), body_of(reply)


def qcow2(tmp_path, *options, size=SIZE):
    """The bytes of a qcow2 image made by qemu-img with ``options``."""
    path = tmp_path / "hostile.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", *options, str(path), str(size)],
                   check=True)
    return path.read_bytes()


def unchanged(daemon, session, api, vdi, check):
    """Run ``check`` and require the VDI's image to be as before, no scratch file left."""
    location = api.SR.get_record(api.VDI.get_SR(vdi))["location"]
    before = {n: open(os.path.join(location, n), "rb").read() for n in os.listdir(location)}
    check()
    after = {n: open(os.path.join(location, n), "rb").read() for n in os.listdir(location)}
    assert after == before


@pytest.mark.parametrize("sr_type", ["dir", "file"])
def test_hostile_qcow2_bodies_are_refused(daemon, session, api, tmp_path, sr_type):
    sr = new_sr(api, type=sr_type)
    vdi = new_vdi(api, sr=sr, size=SIZE)
    secret = tmp_path / "secret"
    secret.write_bytes(b"host secret\n" * 1000)
    valid = qcow2(tmp_path)
    lying_l1 = bytearray(valid)
    struct.pack_into(">Q", lying_l1, 40, 2 ** 60)   # the L1 table's offset, far past the end
    cases = [
        (b"not an image at all" * 100, b"no qcow2 header"),
        (valid[:40], b"shorter than a qcow2 header"),
        (qcow2(tmp_path, "-b", str(secret), "-F", "raw"), b"backing file"),
        (qcow2(tmp_path, "-o", "data_file=%s,data_file_raw=on" % (tmp_path / "data")),
         b"external data file"),
        (bytes(lying_l1), b"qemu-img finds it damaged"),
    ]
    for body, why in cases:
        def check():
            status, reply = put(daemon, session, vdi, body)
            assert (status, reply.split()[:2]) == (400, [b"INVALID_VALUE", b"body"]), reply
            assert why in reply and b"/" not in reply   # no host path told
        unchanged(daemon, session, api, vdi, check)
    # An image larger than the VDI, however small its body: its virtual size is named.
    def too_large():
        status, reply = put(daemon, session, vdi, qcow2(tmp_path, size=2 * SIZE))
        assert (status, reply.split()) == (413, [b"VDI_TOO_SMALL", vdi.encode(),
                                                 str(2 * SIZE).encode()])
    unchanged(daemon, session, api, vdi, too_large)
    assert not unexpected_tracebacks(daemon.log_text())


def test_bodies_refused_by_their_head(daemon, session, api):
    vdi = new_vdi(api, size=SIZE)
    query = urllib.parse.urlencode({"session_id": session, "vdi": vdi}).encode()
    head = b"PUT /import_raw_vdi?%s HTTP/1.1\r\nHost: x\r\n" % query
    for extra, status in [(b"Transfer-Encoding: chunked\r\n", 411), (b"", 411),
                          (b"Content-Length: 1" + b"0" * 30 + b"\r\n", 413),
                          (b"Content-Length: %d\r\n" % (SIZE + 1), 413),
                          (b"Content-Length: 5\r\nExpect: magic\r\n", 417)]:
        reply = exchange(daemon.port, head + extra + b"\r\n" + b"x" * 5)
        assert status_of(reply) == status, (extra, reply)
    assert not unexpected_tracebacks(daemon.log_text())


def test_bytes_beyond_the_content_length_are_the_next_request(daemon, session, api):
    """The image is Content-Length bytes; what follows is read as the next request."""
    vdi = new_vdi(api, size=MIB)
    query = urllib.parse.urlencode({"session_id": session, "vdi": vdi}).encode()
    reply = exchange(daemon.port, b"PUT /import_raw_vdi?%s HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (query, MIB, b"\x01" * MIB)
                     + b"GET /xen-api.dtd HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(reply) == 200, reply
    assert reply.count(b"HTTP/1.1 200 OK") == 2 and b"<!ELEMENT" in reply
