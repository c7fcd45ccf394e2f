"""Disk images in and out of VDIs over HTTP: PUT /import_raw_vdi and GET /export_raw_vdi
on the real daemon, raw and qcow2, file and dir SRs."""

import hashlib
import http.client
import os
import socket
import subprocess
import urllib.parse

import pytest
from harness import MIB, make_user, new_sr, new_vbd, new_vdi, new_vm, wait_until
from xapi_helpers import ROOT_PASSWORD

SIZE = 8 * MIB


# conftest's ``api``: the SDK over the Unix socket, and its interface over JSON-RPC.
API_TRANSPORTS = ("unix", "jsonrpc")


@pytest.fixture(scope="module")
def session(daemon, api):
    """Root's session over TCP (root's password set first)."""
    api.user.set_password(api.user.get_by_short_name("root")[0], ROOT_PASSWORD)
    return daemon.sdk_tcp("root", ROOT_PASSWORD)._session


@pytest.fixture(scope="module")
def file_sr(api):
    return new_sr(api, type="file")


def image(tmp_path, name="disk.raw", size=SIZE):
    """A raw image of ``size`` bytes: its first half data, its second half a hole."""
    path = tmp_path / name
    with open(path, "wb") as f:
        f.write(os.urandom(size // 2))
        f.truncate(size)
    return path


def transfer(daemon, method, path, body=None, headers=None, **query):
    """(status, headers, body) of ``method`` ``path`` with ``query`` over TCP."""
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=60)
    try:
        conn.request(method, path + "?" + urllib.parse.urlencode(query), body=body,
                     headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp, resp.read()
    finally:
        conn.close()


def refused(daemon, length, **query):
    """(status, body) of a PUT /import_raw_vdi of ``length`` bytes whose head alone is
    sent: a refusal comes before the body is read."""
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=60)
    try:
        conn.putrequest("PUT", "/import_raw_vdi?" + urllib.parse.urlencode(query))
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def put(daemon, session, vdi, path, **query):
    with open(path, "rb") as f:
        return transfer(daemon, "PUT", "/import_raw_vdi", f,
                        {"Content-Length": str(os.path.getsize(path))},
                        session_id=session, vdi=vdi, **query)


def export(daemon, session, vdi, **query):
    status, resp, body = transfer(daemon, "GET", "/export_raw_vdi", session_id=session,
                                  vdi=vdi, **query)
    assert status == 200, body
    return body


def digest(data):
    return hashlib.sha256(data).hexdigest()


def vdi_file(daemon, api, vdi):
    """The image file of ``vdi`` in its SR's directory."""
    location = api.SR.get_record(api.VDI.get_SR(vdi))["location"]
    return [os.path.join(location, n) for n in os.listdir(location) if n.startswith(vdi)][0]


def test_raw_round_trip_through_a_qcow2_vdi(daemon, api, session, tmp_path):
    vdi = new_vdi(api, size=SIZE)   # the default SR: dir, qcow2 images
    src = image(tmp_path)
    status, resp, body = put(daemon, session, vdi, src)
    assert status == 200, body
    assert api.task.get_status(resp.getheader("Task-Id"))
    assert digest(export(daemon, session, vdi)) == digest(src.read_bytes())
    assert int(api.VDI.get_virtual_size(vdi)) == SIZE // 512


def test_raw_import_into_a_file_sr_keeps_holes(daemon, api, session, file_sr, tmp_path):
    vdi = new_vdi(api, sr=file_sr, size=SIZE)
    src = image(tmp_path)
    status, _, body = put(daemon, session, vdi, src)
    assert status == 200, body
    assert os.stat(vdi_file(daemon, api, vdi)).st_blocks * 512 <= SIZE // 2 + MIB
    assert int(api.VDI.get_physical_utilisation(vdi)) <= SIZE // 2 + MIB
    assert export(daemon, session, vdi) == src.read_bytes()


def test_qcow2_in_and_out(daemon, api, session, file_sr, tmp_path):
    src = image(tmp_path)
    qcow = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", src, qcow], check=True)
    for sr in (None, file_sr):
        vdi = new_vdi(api, sr=sr, size=2 * SIZE)   # a smaller image: the VDI keeps its size
        status, _, body = put(daemon, session, vdi, qcow, format="qcow2")
        assert status == 200, body
        out = tmp_path / "out.qcow2"
        out.write_bytes(export(daemon, session, vdi, format="qcow2"))
        # Holes send no clusters: the exported image is about its data's size.
        assert os.path.getsize(out) < SIZE // 2 + MIB
        back = tmp_path / "back.raw"
        subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", out, back],
                       check=True)
        assert back.read_bytes() == src.read_bytes() + bytes(SIZE)


def test_a_task_named_by_task_id_reports_the_import(daemon, api, session, tmp_path):
    s = daemon.sdk_tcp("root", ROOT_PASSWORD)
    task = s.xenapi.task.create("upload", "a disk image")
    assert s.xenapi.task.get_status_struct(task)["Progress"] == 0
    status, resp, body = put(daemon, s._session, new_vdi(api, size=SIZE), image(tmp_path),
                             task_id=task)
    assert status == 200, body
    assert resp.getheader("Task-Id") == task
    rec = s.xenapi.task.get_record(task)
    assert (rec["status"], rec["progress"], rec["name_label"]) == ("success", 1.0, "upload")
    # A task is driven once: naming it again is refused before the body is read.
    status, body = refused(daemon, SIZE, session_id=s._session, vdi=new_vdi(api, size=SIZE),
                           task_id=task)
    assert (status, body.split()[0]) == (404, b"HANDLE_INVALID")


def test_another_users_task_is_refused(daemon, api, session, tmp_path):
    _, name, password = make_user(api)
    theirs = daemon.sdk_tcp(name, password).xenapi.task.create("theirs", "")
    status, body = refused(daemon, SIZE, session_id=session, vdi=new_vdi(api, size=SIZE),
                           task_id=theirs)
    assert (status, body.split()[:3]) == (404, [b"HANDLE_INVALID", b"task", theirs.encode()])


def failed_imports(api):
    """The error_info of every failed import task."""
    return [t["error_info"] for t in api.task.get_all_records().values()
            if t["name_label"] == "VDI.import" and t["status"] == "failure"]


def test_a_truncated_upload_leaves_the_vdi_as_it_was(daemon, api, session, file_sr):
    for sr in (None, file_sr):
        vdi = new_vdi(api, sr=sr, size=SIZE)
        before = export(daemon, session, vdi)
        failed = len(failed_imports(api))
        conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=60)
        conn.putrequest("PUT", "/import_raw_vdi?" + urllib.parse.urlencode(
            {"session_id": session, "vdi": vdi}))
        conn.putheader("Content-Length", str(SIZE))
        conn.endheaders(os.urandom(SIZE // 4))
        conn.close()   # the rest never comes
        wait_until(lambda: len(failed_imports(api)) > failed, 30, "the import to fail")
        assert failed_imports(api)[-1][:2] == ["INVALID_VALUE", "body"]
        assert export(daemon, session, vdi) == before
        location = api.SR.get_record(api.VDI.get_SR(vdi))["location"]
        assert not [n for n in os.listdir(location) if n.startswith(".import-")]


def test_refusals(daemon, api, session):
    vdi = new_vdi(api, size=SIZE)
    cases = [({"session_id": "", "vdi": vdi}, 401, [b"SESSION_INVALID"]),
             ({"session_id": session, "vdi": "nope"}, 404, [b"HANDLE_INVALID", b"VDI"]),
             ({"session_id": session, "vdi": vdi, "format": "vmdk"}, 400,
              [b"INVALID_VALUE", b"format", b"vmdk"])]
    for query, code, words in cases:
        status, body = refused(daemon, SIZE, **query)
        assert (status, body.split()[:len(words)]) == (code, words)
        status, _, body = transfer(daemon, "GET", "/export_raw_vdi", **query)
        assert (status, body.split()[:len(words)]) == (code, words)
    status, body = refused(daemon, 2 * SIZE, session_id=session, vdi=vdi)
    assert (status, body.split()) == (413, [b"VDI_TOO_SMALL", vdi.encode(),
                                            str(2 * SIZE).encode()])


def test_no_session_is_refused_before_the_body(daemon, api):
    """With Expect: 100-continue the client learns the refusal without sending a byte."""
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
    try:
        sock.sendall(b"PUT /import_raw_vdi?vdi=%s HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 1000000\r\nExpect: 100-continue\r\n\r\n"
                     % new_vdi(api, size=SIZE).encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 401 ")
    finally:
        sock.close()


def test_a_qcow2_naming_a_backing_file_is_refused(daemon, api, session, tmp_path):
    base = image(tmp_path)
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "raw",
                    overlay], check=True)
    vdi = new_vdi(api, size=SIZE)
    before = export(daemon, session, vdi)
    status, _, body = put(daemon, session, vdi, overlay, format="qcow2")
    assert (status, body.split()[:2]) == (400, [b"INVALID_VALUE", b"body"])
    assert b"backing file" in body
    assert export(daemon, session, vdi) == before


def test_a_vdi_in_use_is_refused(daemon, api, session, tmp_path):
    vdi = new_vdi(api, size=SIZE)
    vm = new_vm(api)
    new_vbd(api, vm, vdi)
    api.VM.start(vm, False)
    try:
        status, body = refused(daemon, SIZE, session_id=session, vdi=vdi)
        assert (status, body.split()) == (409, [b"VDI_IN_USE", vdi.encode(), b"import"])
    finally:
        api.VM.hard_shutdown(vm)


def test_a_dir_vdi_with_a_backing_chain(daemon, api, session, tmp_path):
    """Export reads through the chain; an import replaces the VDI's leaf, its snapshot
    keeps the base it shares."""
    vdi = new_vdi(api, size=SIZE)
    first, second = image(tmp_path, "first.raw"), image(tmp_path, "second.raw")
    assert put(daemon, session, vdi, first)[0] == 200
    snap = api.VDI.snapshot(vdi)
    assert export(daemon, session, vdi) == first.read_bytes()
    assert put(daemon, session, vdi, second)[0] == 200
    assert export(daemon, session, vdi) == second.read_bytes()
    assert export(daemon, session, snap) == first.read_bytes()


def test_an_export_is_an_attachment_named_after_the_vdi(daemon, api, session):
    """A browser saves the export as the VDI's name and format; a name with characters a
    header cannot hold keeps them in filename* and has them replaced in filename."""
    vdi = new_vdi(api, size=SIZE, name_label='disk "one"/é')
    status, resp, _ = transfer(daemon, "GET", "/export_raw_vdi", session_id=session,
                               vdi=vdi, format="qcow2")
    assert status == 200
    assert resp.getheader("Content-Disposition") == (
        "attachment; filename=\"disk _one___.qcow2\"; "
        "filename*=UTF-8''disk%20%22one%22%2F%C3%A9.qcow2")
    assert resp.getheader("Content-Type") == "application/octet-stream"
    assert resp.getheader("X-Content-Type-Options") == "nosniff"
