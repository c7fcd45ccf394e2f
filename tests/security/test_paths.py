"""File paths that reach QEMU or the disk, checked end to end: a daemon with
``path_roots`` refuses a relative path, a path with control characters and (to a user
other than root) a path outside its roots in every VM path field (create and set), and
root's SR.create and SR.clone a location outside them, with INVALID_VALUE naming the
field, and nothing changes: no object, no field, no directory. values.check_path's own
cases are in test_units.py; the rule for users' guest files with the default roots is
test_guest_paths.py's."""

import os

import pytest
import XenAPI
from harness import make_user, serving
from secutil import unexpected_tracebacks

PATH_FIELDS = ("kernel_kernel", "kernel_initrd", "bios_cdrom")


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """(the configured root, a directory beside it that is not a root)."""
    base = tmp_path_factory.mktemp("paths")
    inside, outside = base / "images", base / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    (inside / "vmlinuz").write_bytes(b"")
    (outside / "vmlinuz").write_bytes(b"")
    # A link inside the root that leads out of it: refused like the path it leads to.
    (inside / "escape").symlink_to(outside)
    return str(inside), str(outside)


@pytest.fixture(scope="module")
def daemon(roots):
    with serving(login=False, extra_config='path_roots = ["%s"]\n' % roots[0]) as d:
        yield d


@pytest.fixture(scope="module")
def api(daemon):
    return daemon.relogin()


@pytest.fixture(scope="module")
def user_api(daemon, api):
    """A user other than root: VM paths outside path_roots are refused to such a user."""
    _, name, password = make_user(api)
    return daemon.sdk_tcp(name, password).xenapi


def bad_paths(roots, outside_reason="not under"):
    """(path, the error's value parameter) for each kind of path the daemon must refuse.
    (No ESC or NUL: XML 1.0 cannot carry them, and the wire refuses them before any
    field.) A malformed path is shown cut, then its reason; a path outside the roots is
    shown with the roots, cut as a whole (values._show)."""
    inside, outside = roots

    def malformed(shown, reason):
        return "%s (%s)" % (cut(shown), reason)

    return [("vmlinuz", malformed("vmlinuz", "must be absolute")),
            ("./vmlinuz", malformed("./vmlinuz", "must be absolute")),
            (inside + "/vm\nlinuz", malformed(ascii(inside + "/vm\nlinuz"), "must be printable")),
            (inside + "/vm\tlinuz", malformed(ascii(inside + "/vm\tlinuz"), "must be printable")),
            (inside + "/vm\u2028linuz",
             malformed(ascii(inside + "/vm\u2028linuz"), "must be printable")),
            (inside + "/../elsewhere/vmlinuz",
             malformed(inside + "/../elsewhere/vmlinuz", "must not have . or .. components")),
            (outside + "/vmlinuz", cut("%s/vmlinuz (%s %s)" % (outside, outside_reason, inside))),
            (inside + "/escape/vmlinuz", cut("%s/escape/vmlinuz (%s %s)"
                                             % (inside, outside_reason, inside)))]


def cut(text):
    """``text`` as an error parameter shows it: at most 80 characters (values._show)."""
    return text if len(text) <= 80 else text[:77] + "..."


def refused(call, *args):
    """The ErrorDescription of a call that must fail."""
    with pytest.raises(XenAPI.Failure) as e:
        call(*args)
    return e.value.details


@pytest.mark.parametrize("field", PATH_FIELDS)
def test_vm_path_fields_refuse_bad_paths_on_create_and_set(user_api, roots, field):
    api = user_api
    good = roots[0] + "/vmlinuz"
    vm = api.VM.create({"name_label": "paths-" + field, field: good})
    assert getattr(api.VM, "get_" + field)(vm) == good
    setter = getattr(api.VM, "set_" + field)
    for path, shown in bad_paths(roots, "not a regular file under"):
        before = sorted(api.VM.get_all())
        details = refused(api.VM.create, {"name_label": "bad", field: path})
        assert details == ["INVALID_VALUE", field, shown], path
        assert sorted(api.VM.get_all()) == before
        details = refused(setter, vm, path)
        assert details == ["INVALID_VALUE", field, shown], path
        assert getattr(api.VM, "get_" + field)(vm) == good
    setter(vm, "")        # "" means no file, and is always allowed
    assert getattr(api.VM, "get_" + field)(vm) == ""


@pytest.mark.parametrize("field", PATH_FIELDS)
def test_root_names_vm_paths_outside_path_roots_but_never_malformed_ones(api, roots, field):
    vm = api.VM.create({"name_label": "root-paths-" + field})
    setter = getattr(api.VM, "set_" + field)
    inside, outside = roots
    # Well-formed paths that are only outside the roots (the error text shows the roots
    # cut at 80 characters, so it cannot tell them apart where the temporary dir is long).
    outside_roots = (outside + "/vmlinuz", inside + "/escape/vmlinuz")
    for path, shown in bad_paths(roots):
        if path in outside_roots:
            setter(vm, path)
            assert getattr(api.VM, "get_" + field)(vm) == path
        else:
            assert refused(setter, vm, path) == ["INVALID_VALUE", field, shown], path


def test_sr_create_and_clone_refuse_bad_locations(api, roots):
    inside, outside = roots
    before = sorted(api.SR.get_all())
    for path, _ in bad_paths(roots):
        target = path.replace("vmlinuz", "new-sr")
        details = refused(api.SR.create, {"name_label": "bad-sr", "type": "dir",
                                          "location": target})
        assert details[:2] == ["INVALID_VALUE", "location"], (target, details)
        details = refused(api.SR.clone, before[0], target, "bad-clone")
        assert details[:2] == ["INVALID_VALUE", "loc"], (target, details)
        assert not os.path.lexists(os.path.join(outside, "new-sr")), target
    # SR.create takes "" as "in the daemon's own directory"; a clone needs a place.
    assert refused(api.SR.clone, before[0], "", "bad-clone")[:2] == ["INVALID_VALUE", "loc"]
    assert sorted(api.SR.get_all()) == before
    assert sorted(os.listdir(inside)) == ["escape", "vmlinuz"]
    assert os.listdir(outside) == ["vmlinuz"]
    # Under the root, the same call works: the refusals above were about the paths.
    sr = api.SR.create({"name_label": "good-sr", "type": "dir",
                        "location": inside + "/new-sr"})
    assert api.SR.get_location(sr) == inside + "/new-sr" and os.path.isdir(inside + "/new-sr")


def test_no_traceback(daemon, api):
    assert api.VM.get_all() is not None
    assert not unexpected_tracebacks(daemon.log_text())
