"""CPU cgroups for guests' processes: the credit scheduler's weight and cap on Linux.

Each guest's process gets a cgroup of its own, named by its VM's uuid, in a subtree
that holds guests' cgroups only (``GUESTS``), never a process of the daemon: cgroup
v2's no-internal-process rule forbids processes beside child cgroups that use a
controller. The subtree is ``xend/`` below the hierarchy's root, or, where systemd
runs the daemon with ``Delegate=yes`` and ``DelegateSubgroup=daemon``
(tools/xend.service), ``guests/`` beside the daemon's own ``daemon/`` cgroup in the
service's delegated one.

Two hierarchies, picked once by ``probe`` from what the host mounts:

* cgroup v2 (a ``cgroup2`` mount whose ``cgroup.controllers`` lists ``cpu``):
  weight -> ``cpu.weight`` (credit's 256 is cgroup's 100), cap -> ``cpu.max``;
* cgroup v1 (a ``cgroup`` mount of the ``cpu`` controller): weight -> ``cpu.shares``
  (256 is 1024), cap -> ``cpu.cfs_period_us`` and ``cpu.cfs_quota_us``.

A weight or cap of 0 is unset: the hierarchy's default (an even share, no limit).
"""

import logging
import os

from xen.xend.util.files import read_text

log = logging.getLogger("xend.host.cgroups")

PERIOD_US = 100000          # the CFS period a cap is a quota of: 1000 us per percent
CREDIT_WEIGHT = 256         # the credit scheduler's default weight
GUESTS = "xend"             # the guests' subtree below a hierarchy's root
DAEMON_SUBGROUP = "daemon"  # xend.service's DelegateSubgroup: guests go beside it
DELEGATED_GUESTS = "guests"


def _clamp(value, low, high):
    return max(low, min(high, value))


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


class CpuCgroups:
    """The guests' cgroups of one hierarchy, below directory ``guests``.

    OSError from the kernel (or the file system) is the caller's to report."""

    version = None
    procs = "cgroup.procs"

    def __init__(self, guests):
        self.guests = guests

    def path(self, name):
        """The directory of guest ``name``'s cgroup."""
        return os.path.join(self.guests, name)

    def setup(self):
        """Make the guests' subtree (at daemon start)."""
        os.makedirs(self.guests, exist_ok=True)

    def add(self, name, pid):
        """Guest ``name``'s cgroup, made if missing, with process ``pid`` (all its
        threads) moved into it; at once after QEMU starts, and again when the daemon
        finds it after a restart (the cgroup outlives the daemon)."""
        os.makedirs(self.path(name), exist_ok=True)
        _write(os.path.join(self.path(name), self.procs), str(pid))

    def pids(self, name):
        """The processes in guest ``name``'s cgroup."""
        return [int(p) for p in read_text(os.path.join(self.path(name), self.procs)).split()]

    def remove(self, name):
        """Remove guest ``name``'s cgroup once its process is gone; a missing one is
        fine, one still busy is logged (and left)."""
        try:
            os.rmdir(self.path(name))
        except FileNotFoundError:
            pass
        except OSError as err:
            log.warning("cannot remove the cgroup %s: %s", self.path(name), err)

    def set(self, name, weight, cap):
        """Guest ``name``'s weight (credit's 1..65535) and cap (percent of one CPU),
        0 each for the default."""
        for file, value in self.values(weight, cap):
            _write(os.path.join(self.path(name), file), value)

    def values(self, weight, cap):
        """[(file, text)] that say ``weight`` and ``cap``, in the order written."""
        raise NotImplementedError


class V2(CpuCgroups):
    """cgroup v2's cpu controller, enabled in each parent's subtree_control."""

    version = 2

    def __init__(self, root, guests):
        super().__init__(guests)
        self.root = root

    def setup(self):
        """Make the subtree and enable ``+cpu`` from the root down to it, so that
        each guest's cgroup has cpu.weight and cpu.max."""
        super().setup()
        parent = self.root
        for part in [""] + os.path.relpath(self.guests, self.root).split(os.sep):
            parent = os.path.join(parent, part)
            control = os.path.join(parent, "cgroup.subtree_control")
            if "cpu" not in read_text(control).split():
                _write(control, "+cpu")

    @staticmethod
    def weight(weight):
        """credit's weight as cpu.weight: 256 -> 100 (cgroup's default), 1..10000."""
        return _clamp(weight * 100 // CREDIT_WEIGHT, 1, 10000) if weight else 100

    def values(self, weight, cap):
        quota = str(cap * PERIOD_US // 100) if cap else "max"
        return [("cpu.weight", str(self.weight(weight))),
                ("cpu.max", "%s %d" % (quota, PERIOD_US))]


class V1(CpuCgroups):
    """cgroup v1's cpu controller hierarchy."""

    version = 1

    @staticmethod
    def shares(weight):
        """credit's weight as cpu.shares: 256 -> 1024 (cgroup's default), 2..262144."""
        return _clamp(weight * 4, 2, 262144) if weight else 1024

    def values(self, weight, cap):
        return [("cpu.shares", str(self.shares(weight))),
                ("cpu.cfs_period_us", str(PERIOD_US)),
                ("cpu.cfs_quota_us", str(cap * PERIOD_US // 100) if cap else "-1")]


def _mounts(mounts_file):
    """[(mount point, fs type, options)] of ``mounts_file`` (/proc/self/mounts)."""
    out = []
    with open(mounts_file) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 4:
                out.append((fields[1].replace("\\040", " "), fields[2], fields[3].split(",")))
    return out


def _own(cgroup_file, version):
    """The daemon's own cgroup in hierarchy ``version`` (2, or 1 for cpu's), from
    ``cgroup_file`` (/proc/self/cgroup); "/" when not listed."""
    with open(cgroup_file) as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if (version == 2 and controllers == "") or \
                    (version == 1 and "cpu" in controllers.split(",")):
                return path
    return "/"


def guests_dir(mount, own):
    """The guests' subtree of a hierarchy mounted at ``mount`` for a daemon in cgroup
    ``own``: beside a delegated service's daemon subgroup, else xend/ below the root."""
    if os.path.basename(own) == DAEMON_SUBGROUP:
        return os.path.join(mount + os.path.dirname(own), DELEGATED_GUESTS)
    return os.path.join(mount, GUESTS)


def probe(mounts_file="/proc/self/mounts", cgroup_file="/proc/self/cgroup"):
    """(CpuCgroups, "") for the hierarchy this host offers guests, set up; (None,
    reason) where none has a cpu controller the daemon may use."""
    mounts = _mounts(mounts_file)
    found = None
    for point, fstype, options in mounts:
        if fstype == "cgroup2" and "cpu" in read_text(
                os.path.join(point, "cgroup.controllers")).split():
            found = V2(point, guests_dir(point, _own(cgroup_file, 2)))
            break
    if found is None:
        for point, fstype, options in mounts:
            if fstype == "cgroup" and "cpu" in options:
                found = V1(guests_dir(point, _own(cgroup_file, 1)))
                break
    if found is None:
        return None, "the host mounts no cgroup hierarchy with the cpu controller"
    try:
        found.setup()
    except OSError as err:      # a read-only mount, or a daemon that is not root
        return None, "cannot make the guests' cgroup %s: %s" % (found.guests, err.strerror)
    return found, ""
