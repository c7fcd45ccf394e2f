"""Disk images in and out of a VDI a real QEMU guest uses: the guest reads what was
imported, an import is refused while it runs, the export holds what it wrote."""

import urllib.parse

import pytest
from harness import (
    BOOT_WAIT,
    MIB,
    UnixHTTPConnection,
    console_connect,
    console_query,
    new_tiny_vm,
    new_vbd,
    new_vdi,
    read_until,
    requires_qemu,
    tiny_args,
)

pytestmark = [pytest.mark.qemu, requires_qemu]

SIZE = 4 * MIB
MARKER = b"xend-imported-marker"


def request(daemon, method, path, body=None, headers=None, **query):
    """(status, body) of ``method`` ``path`` over the daemon's Unix socket."""
    conn = UnixHTTPConnection(daemon.socket, timeout=60)
    try:
        conn.request(method, path + "?" + urllib.parse.urlencode(query), body=body,
                     headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def shell(sock, command, until):
    """Type ``command`` into the guest's shell; what it printed up to ``until``."""
    sock.sendall(command + b"\r")
    return read_until(sock, until)


def test_a_guest_reads_the_import_and_the_export_holds_its_writes(api, qemu_daemon,
                                                                    tiny_guest):
    session = qemu_daemon.sdk_unix()._session
    vdi = new_vdi(api, size=SIZE)    # the default SR: qcow2 images
    status, body = request(qemu_daemon, "PUT", "/import_raw_vdi",
                           MARKER + bytes(SIZE - len(MARKER)), session_id=session, vdi=vdi)
    assert status == 200, body
    vm = new_tiny_vm(api, tiny_guest, kernel_args=tiny_args(tiny_guest) + " rdinit=/bin/sh")
    new_vbd(api, vm, vdi)
    api.VM.start(vm, False)
    try:
        con = next(c for c in api.VM.get_consoles(vm)
                   if api.console.get_protocol(c) == "vt100")
        status, sock = console_connect(qemu_daemon, console_query(con, session))
        with sock:
            assert status == 200
            read_until(sock, b"# ", timeout=BOOT_WAIT)
            # The shell is init: the disk's driver and /dev are its to set up.
            shell(sock, b"/bin/busybox mount -t devtmpfs dev /dev; for m in $(/bin/busybox "
                        b"cat /etc/modules); do /bin/busybox insmod /lib/modules/$m; done "
                        b"2>/dev/null; echo loaded", b"\r\nloaded")
            assert MARKER in shell(sock, b"/bin/busybox head -c 20 /dev/vda; echo ' end'",
                                   b" end\r\n")
            shell(sock, b"echo -n guest-wrote-this | /bin/busybox dd of=/dev/vda bs=512 "
                        b"seek=8 conv=fsync; echo written", b"\r\nwritten")
        # Refused on its head: the body is never sent (nor read).
        status, body = request(qemu_daemon, "PUT", "/import_raw_vdi",
                               headers={"Content-Length": str(SIZE)}, session_id=session,
                               vdi=vdi)
        assert (status, body.split()) == (409, [b"VDI_IN_USE", vdi.encode(), b"import"])
    finally:
        api.VM.hard_shutdown(vm)
    status, image = request(qemu_daemon, "GET", "/export_raw_vdi", session_id=session,
                            vdi=vdi)
    assert status == 200 and len(image) == SIZE
    assert image.startswith(MARKER)
    assert image[4096:4096 + 16] == b"guest-wrote-this"
