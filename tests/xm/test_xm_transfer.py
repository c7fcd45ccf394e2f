"""xm vdi-import and vdi-export over the Unix socket, --uri http:// and https://."""

import os
import subprocess

import pytest
from harness import MIB, free_port, new_sr, new_vbd, new_vdi, new_vm, serving
from xmtools import Xm

from xen.xend.transport import tls

SIZE = 4 * MIB
PASSWORD = "root pw"


@pytest.fixture(scope="module")
def daemon():
    """The module's daemon, with a TLS listener too."""
    port = free_port()
    with serving(extra_config='tls_listen = "127.0.0.1:%d"\n' % port) as d:
        d.tls_url = "https://127.0.0.1:%d/" % port
        d.api.user.set_password(d.api.user.get_by_short_name("root")[0], PASSWORD)
        yield d


@pytest.fixture(scope="module")
def api(daemon):
    return daemon.api


@pytest.fixture
def src(tmp_path):
    """A raw image: 1 MiB of data, then a hole."""
    path = tmp_path / "in.raw"
    with open(path, "wb") as f:
        f.write(os.urandom(MIB))
        f.truncate(SIZE)
    return path


def over(daemon, how):
    """xm's options and environment for one way of reaching the daemon."""
    env = {"XEND_PASSWORD": PASSWORD}
    if how == "tcp":
        return ["--uri", daemon.url, "--user", "root"], env, False
    if how == "tls":
        cert = os.path.join(daemon.state_dir, "xend-cert.pem")
        return (["--uri", daemon.tls_url, "--user", "root", "--fingerprint",
                 tls.fingerprint(cert)], env, False)
    return [], None, True


@pytest.mark.parametrize("how", ["unix", "tcp", "tls"])
def test_import_then_export_gives_the_image_back(daemon, api, src, tmp_path, how):
    xm = Xm(daemon.socket)
    vdi = new_vdi(api, size=SIZE, name_label="disk-" + how)
    where, env, socket = over(daemon, how)
    xm("vdi-import", "disk-" + how, str(src), *where, env=env, socket=socket)
    out = tmp_path / "out.raw"
    xm("vdi-export", vdi, str(out), *where, env=env, socket=socket)
    assert out.read_bytes() == src.read_bytes()
    assert os.stat(out).st_blocks * 512 <= 2 * MIB      # the hole stayed a hole


def test_qcow2_by_its_extension(daemon, api, src, tmp_path):
    xm = Xm(daemon.socket)
    new_vdi(api, sr=new_sr(api, type="file"), size=SIZE, name_label="raw-disk")
    qcow = tmp_path / "in.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", src, qcow], check=True)
    xm("vdi-import", "raw-disk", str(qcow))
    out = tmp_path / "out.qcow2"
    xm("vdi-export", "raw-disk", str(out))
    back = tmp_path / "back.raw"
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", out, back], check=True)
    assert back.read_bytes() == src.read_bytes()


def test_errors_are_one_line(daemon, api, src, tmp_path):
    xm = Xm(daemon.socket)
    small = new_vdi(api, size=SIZE // 2)
    assert xm.error_line("vdi-import", small, str(src)) == (
        "Error: VDI_TOO_SMALL: VDI %s is too small: the image holds %d bytes" % (small, SIZE))
    vm = new_vm(api)
    used = new_vdi(api, size=SIZE)
    new_vbd(api, vm, used)
    api.VM.start(vm, False)
    assert xm.error_line("vdi-import", used, str(src)) == (
        "Error: VDI_IN_USE: VDI %s is in use; import is refused" % used)
    api.VM.hard_shutdown(vm)
    assert "INVALID_VALUE" in xm.error_line("vdi-import", small, str(src), "--format", "qcow2")
    assert "cannot read" in xm.error_line("vdi-import", small, str(tmp_path / "none"))
    out = tmp_path / "out.raw"
    out.write_bytes(b"mine")
    assert "cannot write" in xm.error_line("vdi-export", small, str(out))
    assert out.read_bytes() == b"mine"
    assert "no VDI" in xm.error_line("vdi-export", "no-such-disk", str(tmp_path / "x"))
    assert not os.path.exists(tmp_path / "x")
