"""The host files a user other than root may point a guest at, end to end on the sim
backend with the default configuration (``path_roots`` empty): only regular files under
the daemon's boot directory (STATE_DIR/boot), reached without symbolic links, checked
when a path is set and again when the guest starts; root names any file. A refusal reads
the same whether the path is there or not. The start check's own cases are in
tests/unit/test_start_checks.py; configured ``path_roots`` in test_paths.py."""

import os
import stat

import pytest
import XenAPI
from harness import make_user, serving, unique

PATH_FIELDS = ("kernel_kernel", "kernel_initrd", "bios_cdrom")
# The API field a start refusal names, and the VM fields that make a guest open it.
BOOTS = {"kernel_kernel": ("kernel/kernel", {"boot_method": "kernel_external"}),
         "kernel_initrd": ("kernel/initrd", {"boot_method": "kernel_external"}),
         "bios_cdrom": ("bios/cdrom", {"boot_method": "bios"})}


@pytest.fixture(scope="module")
def daemon():
    with serving() as d:
        yield d


@pytest.fixture(scope="module")
def boot(daemon):
    """The boot directory, with a kernel in it."""
    path = os.path.join(daemon.state_dir, "boot")
    os.makedirs(path, exist_ok=True)    # test_the_boot_directory_is_made says who makes it
    with open(os.path.join(path, "vmlinuz"), "wb") as f:
        f.write(b"kernel")
    return path


@pytest.fixture(scope="module")
def user(daemon):
    """A user other than root."""
    _, name, password = make_user(daemon.api)
    return daemon.sdk_tcp(name, password).xenapi


def failure(call, *args):
    with pytest.raises(XenAPI.Failure) as e:
        call(*args)
    return e.value.details


def outside_paths(daemon, boot):
    """Files a user must not reach: secrets, a disk, the daemon's own database, and links
    under the boot directory that lead to them."""
    paths = ["/etc/shadow", "/root/.ssh/id_rsa", "/dev/vda", "/dev/loop0",
             os.path.join(daemon.state_dir, "xend.db"), os.path.join(boot, "escape", "shadow"),
             os.path.join(boot, "shadow")]
    if not os.path.lexists(os.path.join(boot, "escape")):
        os.symlink("/etc", os.path.join(boot, "escape"))
        os.symlink("/etc/shadow", os.path.join(boot, "shadow"))
    return paths


def block_device_under(boot):
    """A block device node in the boot directory (root could put one there)."""
    path = os.path.join(boot, "disk")
    if not os.path.lexists(path):
        try:
            os.mknod(path, 0o600 | stat.S_IFBLK, os.makedev(7, 0))
        except OSError as e:
            pytest.skip("cannot make a block device node here: %s" % e)
    return path


def refusal(boot, path):
    """How a refused path shows in INVALID_VALUE (cut to 80 characters): the same
    whatever it leads to."""
    text = "%s (not a regular file under %s)" % (path, boot)
    return text if len(text) <= 80 else text[:77] + "..."


def test_the_boot_directory_is_made_readable_by_all_and_writable_by_root(daemon):
    st = os.stat(os.path.join(daemon.state_dir, "boot"))
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o755
    assert st.st_uid == os.geteuid()


@pytest.mark.parametrize("field", PATH_FIELDS)
def test_a_user_cannot_point_a_guest_at_a_host_file(daemon, boot, user, field):
    kernel = os.path.join(boot, "vmlinuz")
    vm = user.VM.create({"name_label": unique("paths"), field: kernel})
    for path in outside_paths(daemon, boot) + [block_device_under(boot)]:
        shown = refusal(boot, path)
        assert failure(user.VM.create, {"name_label": "bad", field: path}) == \
            ["INVALID_VALUE", field, shown], path
        assert failure(getattr(user.VM, "set_" + field), vm, path) == \
            ["INVALID_VALUE", field, shown], path
        assert getattr(user.VM, "get_" + field)(vm) == kernel
    assert not user.VM.get_by_name_label("bad")


@pytest.mark.parametrize("field", PATH_FIELDS)
def test_root_may_point_a_guest_at_any_file(daemon, field):
    vm = daemon.api.VM.create({"name_label": unique("root-paths"), field: "/etc/shadow"})
    getattr(daemon.api.VM, "set_" + field)(vm, "/dev/vda")
    assert getattr(daemon.api.VM, "get_" + field)(vm) == "/dev/vda"


def test_a_refusal_does_not_tell_whether_the_file_exists(boot, user):
    vm = user.VM.create({"name_label": unique("probe")})
    # Each pair the same length: an error parameter is cut to 80 characters.
    for there, missing in (("/etc/shadow", "/etc/shadoz"), ("/dev/vda", "/dev/vdz"),
                           (os.path.join(boot, "escape", "passwd"),
                            os.path.join(boot, "escape", "passwz"))):
        assert os.path.exists(there) and not os.path.exists(missing)
        said = [[str(p).replace(path, "PATH") for p in
                 failure(user.VM.set_kernel_kernel, vm, path)] for path in (there, missing)]
        assert said[0] == said[1]


@pytest.mark.parametrize("field", PATH_FIELDS)
def test_a_users_file_in_the_boot_directory_boots(daemon, boot, user, field):
    vm = user.VM.create(dict(BOOTS[field][1], name_label=unique("boots"),
                             **{field: os.path.join(boot, "vmlinuz")}))
    user.VM.start(vm, False)
    assert user.VM.get_power_state(vm) == "Running"
    user.VM.hard_shutdown(vm)


@pytest.mark.parametrize("field", PATH_FIELDS)
def test_a_link_planted_after_the_set_fails_the_start_like_a_missing_file(boot, user, field):
    api_field, boot_fields = BOOTS[field]
    planted, missing = (os.path.join(boot, unique(field)) for _ in range(2))
    vms = [user.VM.create(dict(boot_fields, name_label=unique("planted"), **{field: path}))
           for path in (planted, missing)]
    os.symlink("/etc/shadow", planted)
    said = [failure(user.VM.start, vm, False) for vm in vms]
    assert said[0][:3] == ["VALUE_NOT_SUPPORTED", api_field, planted]
    assert said[1][:3] == ["VALUE_NOT_SUPPORTED", api_field, missing]
    assert said[0][3] == said[1][3]
    assert [user.VM.get_power_state(vm) for vm in vms] == ["Halted", "Halted"]


def test_who_named_a_path_survives_a_restart_and_a_users_write_resets_it(daemon, boot, user):
    link = os.path.join(boot, unique("link"))
    os.symlink(os.path.join(boot, "vmlinuz"), link)
    vm = daemon.api.VM.create({"name_label": unique("named"), "boot_method": "kernel_external",
                               "kernel_kernel": link})
    daemon.restart()
    root = daemon.relogin()
    # Root named the link: it is opened as it is, after the restart too.
    root.VM.start(vm, False)
    root.VM.hard_shutdown(vm)
    # The user's path, made a link after it was set, is the user's: refused at start.
    later = os.path.join(boot, unique("later"))
    user.VM.set_kernel_kernel(vm, later)     # the SDK logs in again after the restart
    os.symlink(os.path.join(boot, "vmlinuz"), later)
    assert failure(user.VM.start, vm, False)[:3] == \
        ["VALUE_NOT_SUPPORTED", "kernel/kernel", later]
