"""The state dir is the daemon's alone: one another user owns or may write to is refused
with a one-line error, files in it are never opened through a planted symlink, and
loose modes left in it are tightened at start."""

import os
import pwd
import stat


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def _refused(xend, *args):
    """Run ``xend start ARGS``, which must fail; its one line of error."""
    r = xend.xend("start", *args)
    assert r.returncode != 0, r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_a_state_dir_owned_by_another_user_is_refused(xend):
    os.makedirs(xend.state_dir, mode=0o700)
    nobody = pwd.getpwnam("nobody").pw_uid
    os.chown(xend.state_dir, nobody, -1)
    line = _refused(xend)
    assert xend.state_dir in line and "owned by uid %d" % nobody in line
    assert os.listdir(xend.state_dir) == []   # nothing was made in it


def test_a_state_dir_others_may_write_to_is_refused(xend):
    os.makedirs(xend.state_dir)
    os.chmod(xend.state_dir, 0o777)
    line = _refused(xend)
    assert xend.state_dir in line and "writable by other users (mode 0777)" in line
    assert _mode(xend.state_dir) == 0o777 and os.listdir(xend.state_dir) == []


def test_a_regular_file_as_state_dir_is_one_line(xend):
    with open(xend.state_dir, "w") as f:
        f.write("not a directory\n")
    # In the foreground, where an uncaught error would print a traceback.
    line = _refused(xend, "--foreground", "--log-file", os.path.join(xend.dir, "fg.log"))
    assert line == "xend: state dir: %s is not a directory" % xend.state_dir


def test_a_planted_lock_symlink_truncates_nothing(xend):
    victim = os.path.join(xend.dir, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    os.makedirs(xend.state_dir, mode=0o700)
    os.symlink(victim, os.path.join(xend.state_dir, "xend.lock"))
    line = _refused(xend)
    assert "xend.lock" in line
    with open(victim) as f:
        assert f.read() == "precious\n"


def test_loose_modes_in_the_state_dir_are_tightened(xend):
    xend.start()
    xend.stop()
    db = os.path.join(xend.state_dir, "xend.db")
    wal = db + "-wal"
    open(wal, "a").close()
    sr = os.path.join(xend.state_dir, "sr")
    default_sr = os.path.join(sr, os.listdir(sr)[0])
    os.chmod(xend.state_dir, 0o755)
    for path, loose in ((db, 0o644), (wal, 0o666), (xend.log, 0o644), (sr, 0o755),
                        (default_sr, 0o777)):
        os.chmod(path, loose)
    xend.start()
    assert _mode(xend.state_dir) == 0o700
    for path in (db, xend.log):
        assert _mode(path) == 0o600, path
    for path in (sr, default_sr):
        assert _mode(path) == 0o700, path
    xend.sdk().xenapi.VM.get_all()
