"""``make install DESTDIR=... PREFIX=/usr`` lays out what a distro package holds,
and what it installs runs."""

import glob
import gzip
import os
import shutil
import subprocess
import sys

import pytest
from harness import ROOT, scratch_dir

from xen.xend.transport import webui

MAN_PAGES = ("tools/man/xend.8", "tools/man/xm.1")


@pytest.fixture(scope="module")
def destdir():
    """A copy of the work tree installed into a scratch DESTDIR with PREFIX=/usr.

    The copy keeps pip's in-tree build files (build/, *.egg-info) out of the
    real tree. PYTHON is this interpreter, so the installed scripts' shebang
    has the dependencies; a real /etc/xen/xend.toml is there first, as it
    would be on an upgrade."""
    scratch = scratch_dir()
    tree = os.path.join(scratch, "src")
    build_files = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                         ".pytest_cache", ".hypothesis")

    def ignore(path, names):
        # A state dir that `make run` left at the top; xen/xend/state is the package.
        return build_files(path, names) | ({"state"} if path == ROOT else set())
    shutil.copytree(ROOT, tree, ignore=ignore)
    dest = os.path.join(scratch, "root")
    os.makedirs(os.path.join(dest, "etc", "xen"))
    with open(os.path.join(dest, "etc", "xen", "xend.toml"), "w") as f:
        f.write("# the admin's own\n")
    r = subprocess.run(["make", "--no-print-directory", "install", "DESTDIR=" + dest,
                        "PREFIX=/usr", "PYTHON=" + sys.executable], cwd=tree,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    with open(os.path.join(scratch, "make-install.out"), "w") as f:
        f.write(r.stdout)
    yield dest
    shutil.rmtree(scratch, ignore_errors=True)


def _site_packages(dest):
    found = glob.glob(os.path.join(dest, "usr", "lib", "python3*", "*-packages"))
    assert len(found) == 1, found
    return found[0]


def test_every_file_is_in_place(destdir):
    site = _site_packages(destdir)
    for module in ("xen/xend/daemon/cli.py", "xen/xend/api/datamodel.py",
                   "xen/xend/api/handlers/vm.py", "xen/xend/backend/sim.py",
                   "xen/xm/main.py", "xen/xm/commands/vm.py"):
        assert os.path.isfile(os.path.join(site, module)), module
    # The built web console (make install builds it) is package data.
    for name in webui.FILES:
        assert os.path.isfile(os.path.join(site, "xen/xend/webui/static", name)), name
    for script in ("xend", "xm"):
        assert os.access(os.path.join(destdir, "usr", "bin", script), os.X_OK)

    with open(os.path.join(destdir, "usr/lib/systemd/system/xend.service")) as f:
        unit = f.read()
    assert "\nExecStart=/usr/bin/xend start --foreground\n" in unit
    assert "\nType=notify\n" in unit

    with open(os.path.join(destdir, "etc/xen/xend.toml")) as f:
        assert f.read() == "# the admin's own\n"
    with open(os.path.join(destdir, "etc/xen/xend.toml.example")) as f, \
            open(os.path.join(ROOT, "tools/examples/xend.toml")) as g:
        assert f.read() == g.read()

    for installed, source in (("usr/share/man/man8/xend.8.gz", "tools/man/xend.8"),
                              ("usr/share/man/man1/xm.1.gz", "tools/man/xm.1")):
        with gzip.open(os.path.join(destdir, installed), "rt") as f, \
                open(os.path.join(ROOT, source)) as g:
            assert f.read() == g.read()
    with open(os.path.join(destdir, "usr/share/bash-completion/completions/xm")) as f:
        assert "complete -F _xm xm" in f.read()


def test_the_package_holds_no_build_path_and_says_how_to_enable_the_unit(destdir):
    site = _site_packages(destdir)
    # pip records where it installed from (direct_url.json): the build tree, not the
    # package's business.
    assert glob.glob(os.path.join(site, "*.dist-info", "direct_url.json")) == []
    for path in glob.glob(os.path.join(site, "*.dist-info", "*")):
        with open(path, "rb") as f:
            assert os.path.dirname(destdir).encode() not in f.read(), path
    with open(os.path.join(os.path.dirname(destdir), "make-install.out")) as f:
        assert "systemctl enable --now xend" in f.read()


def test_installing_keeps_the_installing_pythons_own_xend(destdir):
    """make run after make test: the dev virtualenv that ran make install still
    has its xend and xm (pip would otherwise uninstall them first)."""
    r = subprocess.run([sys.executable, "-m", "pip", "show", "-f", "xend"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for script in ("xend", "xm"):
        assert os.access(os.path.join(os.path.dirname(sys.executable), script), os.X_OK)


def test_the_installed_scripts_run(destdir):
    env = dict(os.environ, PYTHONPATH=_site_packages(destdir))
    out = subprocess.run([os.path.join(destdir, "usr/bin/xend"), "--version"], env=env,
                         cwd=destdir, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("xend ")
    probe = "import xen.xend.daemon.cli as m; print(m.__file__)"
    where = subprocess.run([sys.executable, "-c", probe],
                           env=env, cwd=destdir, capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(destdir)        # the installed copy, not the work tree
    xm = subprocess.run([os.path.join(destdir, "usr/bin/xm"), "help"], env=env, cwd=destdir,
                        capture_output=True, text=True, timeout=60)
    assert xm.returncode == 0 and "event-monitor" in xm.stdout, xm.stderr


@pytest.mark.skipif(not shutil.which("groff"), reason="groff is not installed")
@pytest.mark.parametrize("page", MAN_PAGES)
def test_the_man_pages_render_without_warnings(page):
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", os.path.join(ROOT, page)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
