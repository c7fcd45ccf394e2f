#!/usr/bin/env python3
"""A nested Xen host for xend's tests: built from Debian's packages, booted under QEMU.

Build (``build()``, cached): Debian's Xen 4.17 hypervisor (gunzipped: QEMU's ``-kernel``
loads the multiboot ELF), Debian's kernel (PV dom0 and PV guests alike) and a dom0
initramfs: a ``debootstrap --variant=minbase`` userland with the Xen tools, Python 3 and
the daemon's runtime dependencies, trimmed and packed as a gzip cpio. The dom0 image also
holds a PV test guest in ``GUEST_DIR`` (the same kernel, a busybox initramfs whose /init
obeys ``xend.test=MODE``; see GUEST_INIT). Everything is fetched with ``apt-get download``
and ``debootstrap`` from the Debian mirror in the host's apt sources; nothing is installed
on the host. Needs root (debootstrap, chroot).

The result is cached in ``$XEND_XEN_HOST_CACHE`` (default ``~/.cache/xend-xen-host``)
under a key made of the build recipe's text (the part of this file between the recipe
markers) and the versions apt offers of the packages used, so a second run only asks apt
for versions (about a second) and returns.

Boot (``XenHost``): QEMU (TCG) with 3 GB and 2 CPUs, the repository shared read-only over
9p at ``/mnt/xend`` in dom0, user networking forwarding a loopback port to the daemon's
4464 in dom0, a Linux bridge ``xenbr0`` (192.168.254.1/24) in dom0 for guests. Commands
reach dom0 through a small agent (AGENT below) on a second forwarded port: one TCP
connection per command, authenticated with a random token handed to dom0 in a second,
private 9p share; the serial console only goes to a log file, for debugging.

Usage: ``xenhost.py build`` (prints the image paths), ``xenhost.py boot`` (boots, prints
the URLs, waits for ctrl-C), ``xenhost.py shell`` (boots and runs each line of stdin in
dom0).
"""

import contextlib
import ctypes
import fcntl
import glob
import gzip
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xmlrpc.client

from bootwatch import BootWatch

HERE = os.path.dirname(os.path.abspath(__file__))
# The repository this file belongs to (CI runs from a checkout at any path).
REPO = os.path.dirname(os.path.dirname(HERE))

QEMU = shutil.which("qemu-system-x86_64")
CACHE_DIR = os.environ.get("XEND_XEN_HOST_CACHE") or os.path.expanduser("~/.cache/xend-xen-host")


class XenHostError(Exception):
    """The nested host could not be built, booted or reached."""


class CommandTimeout(XenHostError, TimeoutError):
    """A command run in dom0 outlived its timeout (and was killed there)."""

    def __init__(self, cmd, timeout, out="", err=""):
        super().__init__("command timed out after %ss in dom0: %s" % (timeout, cmd))
        self.cmd, self.timeout, self.stdout, self.stderr = cmd, timeout, out, err


class CommandFailed(XenHostError):
    """A command run in dom0 with ``check=True`` exited with a non-zero status."""

    def __init__(self, cmd, rc, out, err):
        super().__init__("command failed in dom0 (exit %s): %s\nstdout: %s\nstderr: %s"
                         % (rc, cmd, out[-2000:], err[-2000:]))
        self.cmd, self.rc, self.stdout, self.stderr = cmd, rc, out, err


# --- build recipe: the cache key covers the text from here to the end marker ---------------

SUITE = "bookworm"
XEN = "4.17"
HYPERVISOR_PKG = "xen-hypervisor-%s-amd64" % XEN
KERNEL_META = "linux-image-amd64"
BUSYBOX_PKG = "busybox-static"

# dom0's userland. debootstrap does not resolve virtual packages: python3-cffi-backend
# is what provides python3-cryptography's cffi ABI dependency.
DOM0_PACKAGES = [
    "xen-utils-%s" % XEN, "xenstore-utils", "kmod", "iproute2", "procps", "busybox", "python3",
    "python3-lxml", "python3-psutil", "python3-daemon", "python3-pyxs", "python3-cffi-backend",
    "python3-cryptography", "qemu-utils",
    # The pool's store (a member of a pool of Xen hosts): psycopg's C library.
    "libpq5",
    # NFS: the client (mount.nfs) for "nfs" SRs, and the kernel server's tools, with
    # which one host of a pool exports a directory to the others (xenpool.py).
    "nfs-kernel-server",
    # Xen's device model: the qdisk backend (qcow2 disks for PV guests) and HVM guests.
    "qemu-system-xen",
]
# Python packages the daemon needs that Debian does not package: pure Python, installed
# from PyPI into dom0's /usr/local at the versions this checkout's virtualenv has.
DOM0_PIP = ["qemu.qmp", "wsproto", "h11",
            # Debian's python3-psycopg (3.1) is older than the daemon needs.
            "psycopg", "typing_extensions"]

# Kernel modules dom0 loads at boot, in this order (their dependencies come along).
DOM0_MODULES = [
    "xenfs", "xen-privcmd", "xen-evtchn", "xen-gntdev", "xen-gntalloc", "xen-blkback",
    "xen-netback", "virtio_pci", "virtio_net", "9pnet_virtio", "9p", "bridge", "tun", "loop",
    "nbd", "nfsv4", "nfsd",
]
# The test guest's modules; the guest insmods them in dependency order.
GUEST_MODULES = ["xen-blkfront", "xen-netfront", "xenfs"]

# Where the test guest lives in dom0's image.
GUEST_DIR = "/opt/xend-guest"

# Left out of dom0's image: documentation, translations, apt's caches and lists, udev's
# hardware database (no udev runs).
TRIM = [
    "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian",
    "usr/share/bash-completion", "var/cache/apt", "var/lib/apt/lists", "usr/lib/udev/hwdb.d",
    "usr/lib/udev/hwdb.bin", "var/cache/debconf", "var/log",
]

# dom0's /init (bash as PID 1: it also reaps the orphans xl leaves behind).
DOM0_INIT = r"""#!/bin/bash
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "xend-dom0: $*"; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
# /tmp off the root file system, which holds the whole image (a core dump there fills it).
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /run/lock /var/log
# Without these the hotplug scripts' locking loops forever and devices time out.
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
hostname xend-dom0
for m in $(cat /etc/xend-dom0/modules); do modprobe "$m" || say "modprobe $m failed"; done
mount -t xenfs xenfs /proc/xen
mkdir -p /run/xen /run/xenstored /var/lib/xen /var/lib/xenstored /var/log/xen/console
/usr/lib/xen-4.17/bin/xenstored --pid-file /run/xenstored.pid
/usr/lib/xen-4.17/bin/xen-init-dom0
/usr/lib/xen-4.17/bin/xenconsoled --log=guest --pid-file=/run/xenconsoled.pid
ip link set lo up
# QEMU's user networking: fixed addresses, no DHCP wait.
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
ip link add xenbr0 type bridge
ip link set xenbr0 type bridge forward_delay 0 stp_state 0
ip addr add 192.168.254.1/24 dev xenbr0
ip link set xenbr0 up
mkdir -p /mnt/xend /mnt/xendctl /var/lib/xend
mount -t tmpfs -o mode=0700 tmpfs /var/lib/xend
opts=trans=virtio,version=9p2000.L,msize=262144,ro
mount -t 9p -o $opts xendrepo /mnt/xend || say "cannot mount the repository"
mount -t 9p -o $opts xendctl /mnt/xendctl || say "cannot mount the control share"
say "up in $(cut -d' ' -f1 /proc/uptime) s"
# The command agent comes from the control share, written there at each boot.
python3 /mnt/xendctl/agent.py /mnt/xendctl/token >/var/log/xend-agent.log 2>&1 </dev/null &
while :; do sleep 3600 & wait $!; done
"""

# The test guest's /init (busybox sh as PID 1). Modes, from xend.test= on the kernel
# command line (several may be given, comma-separated, e.g. xend.test=write,net):
#   poweroff  powers off at once;
#   reboot    reboots once: the first boot writes a marker into the first sector of
#             /dev/xvda and reboots, a boot that finds the marker stays up (idle);
#             without a disk it reboots on every boot;
#   panic     crashes the kernel (sysrq c);
#   write     writes to /dev/xvda (from 1 MiB on) forever;
#   net       gives eth0 the address xend.ip= (a /24) and pings xend.peer= forever;
#   count     counts, twice a second, into its xenstore data/counter, with its uptime in
#             data/uptime (a migrated guest goes on counting; a new boot starts at 1),
#             and, with a disk, "xend-count N" into the first sector of /dev/xvda;
#   anything else: stays up, idle.
# Every boot first writes the tools version into xenstore, as a guest agent would
# (attr/PVAddons/{Major,Minor,Micro}Version = 1, 0, 0, relative to its domain's path), and
# then prints "xend-test: ready domid=N mode=M disk=xvda|none" on its console (hvc0),
# where a shell then runs each line typed.
# A clean shutdown request (control/shutdown = poweroff) makes the kernel run
# /sbin/poweroff, which says "xend-test: powering off"; a reboot request makes it run
# /sbin/reboot, which says "xend-test: reboot requested" (so does /init on ctrl-alt-del).
GUEST_INIT = r"""#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/sbin:/bin LD_LIBRARY_PATH=/lib/x86_64-linux-gnu
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /etc/modules); do insmod "/lib/modules/$m" 2>/dev/null; done
mount -t xenfs xenfs /proc/xen 2>/dev/null
echo 0 > /proc/sys/kernel/ctrl-alt-del
# Each last word is followed by a second's pause: the domain goes away with the reboot or
# power-off, and xenconsoled needs a moment to copy the console ring to its log.
trap 'echo "xend-test: reboot requested"; sleep 1; busybox reboot -f' INT
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
writer() {
    while :; do dd if=/dev/zero of=/dev/xvda bs=64k seek=16 count=16 conv=fsync 2>/dev/null; done
}
pinger() {
    while :; do ping -q -s 1000 -i 0.2 "$1" >/dev/null 2>&1; sleep 1; done
}
counter() {
    i=0
    while :; do
        i=$((i+1))
        xenstore-write data/counter $i data/uptime "$(cut -d' ' -f1 /proc/uptime)"
        [ -b /dev/xvda ] && echo "xend-count $i" | dd of=/dev/xvda conv=fsync 2>/dev/null
        sleep 0.5
    done
}
mode=$(arg xend.test)
# blkfront finds its disks asynchronously: give xvda a moment to appear, if it has one.
if xenstore-list device/vbd >/dev/null 2>&1; then
    i=0; while [ ! -b /dev/xvda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
fi
xenstore-write attr/PVAddons/MajorVersion 1 attr/PVAddons/MinorVersion 0 \
    attr/PVAddons/MicroVersion 0 || echo "xend-test: xenstore-write failed"
disk=none; [ -b /dev/xvda ] && disk=xvda
echo "xend-test: ready domid=$(xenstore-read domid) mode=$mode disk=$disk"
for m in $(echo "$mode" | tr , ' '); do
    case "$m" in
    poweroff) busybox poweroff -f ;;
    reboot)
        if [ $disk = xvda ] && head -c 512 /dev/xvda | grep -q xend-test-rebooted; then
            echo "xend-test: rebooted before, staying up"
        else
            [ $disk = xvda ] && echo xend-test-rebooted | dd of=/dev/xvda conv=fsync 2>/dev/null
            echo "xend-test: rebooting"; sleep 1; busybox reboot -f
        fi ;;
    panic) echo c > /proc/sysrq-trigger ;;
    write) writer & ;;
    net)
        i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
        ip addr add "$(arg xend.ip)/24" dev eth0
        ip link set eth0 up
        pinger "$(arg xend.peer)" & ;;
    count) counter & ;;
    esac
done
# A shell reading the console: a line typed into it runs (the console tests type one).
sh </dev/hvc0 >/dev/hvc0 2>&1 &
# wait returns early when the INT trap fires; loop so init never exits.
while :; do sleep 3600 & wait $!; done
"""

# What the kernel runs when asked to power off or reboot (with no console of its own).
GUEST_POWEROFF = """#!/bin/sh
echo 'xend-test: powering off' >/dev/console
sleep 1
exec /bin/busybox poweroff -f
"""
GUEST_REBOOT = """#!/bin/sh
echo 'xend-test: reboot requested' >/dev/console
sleep 1
exec /bin/busybox reboot -f
"""


def _log(msg):
    print("xenhost: %s" % msg, file=sys.stderr, flush=True)


def _run(argv, **kw):
    """Run ``argv``; its stdout. CalledProcessError carries stderr."""
    try:
        return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout
    except subprocess.CalledProcessError as e:
        raise XenHostError("%s failed (%s): %s" % (" ".join(argv), e.returncode,
                                                  (e.stderr or e.stdout or "")[-3000:])) from None


def mirror():
    """The Debian mirror of the host's apt sources that serves SUITE (one-line or deb822)."""
    files = sorted(glob.glob("/etc/apt/sources.list.d/*.list")) + ["/etc/apt/sources.list"]
    for path in files:
        try:
            text = open(path).read()
        except OSError:
            continue
        for line in text.splitlines():
            parts = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == SUITE:
                return parts[1]
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        try:
            text = open(path).read()
        except OSError:
            continue
        for stanza in re.split(r"\n\s*\n", text):
            fields = {}
            for line in stanza.splitlines():
                if ":" in line and not line.startswith("#"):
                    k, v = line.split(":", 1)
                    fields[k.strip().lower()] = v.split()
            if "deb" in fields.get("types", []) and SUITE in fields.get("suites", []) \
                    and fields.get("uris"):
                return fields["uris"][0]
    raise XenHostError("no Debian %s mirror in /etc/apt/sources.list*" % SUITE)


def _madison(packages):
    """``apt-cache madison`` of ``packages``: every version apt knows, and from where."""
    return _run(["apt-cache", "madison"] + list(packages))


def _pip_pins():
    """DOM0_PIP pinned to the versions installed here: ["name==version", ...]."""
    from importlib import metadata
    return ["%s==%s" % (name, metadata.version(name)) for name in DOM0_PIP]


def _key_inputs():
    """The versions apt offers of every package the image is made of (updating apt's lists
    once if it knows none of them)."""
    pkgs = [KERNEL_META, HYPERVISOR_PKG, BUSYBOX_PKG] + DOM0_PACKAGES
    text = _madison(pkgs)
    if HYPERVISOR_PKG not in text or KERNEL_META not in text:
        _run(["apt-get", "update", "-qq"])
        text = _madison(pkgs)
        if HYPERVISOR_PKG not in text:
            raise XenHostError("apt knows no %s: is a Debian %s mirror configured?"
                               % (HYPERVISOR_PKG, SUITE))
    return text + "\n".join(_pip_pins())


def _kernel_package():
    """The versioned kernel package linux-image-amd64 depends on."""
    for line in _run(["apt-cache", "depends", KERNEL_META]).splitlines():
        dep = line.strip()
        if dep.startswith("Depends:") and "linux-image-" in dep:
            return dep.split(":", 1)[1].strip()
    raise XenHostError("cannot tell which kernel %s depends on" % KERNEL_META)


def _download(specs, where):
    """``apt-get download`` each spec ("pkg" or "pkg=version") into ``where``; {pkg: deb}."""
    os.chmod(where, 0o755)    # apt's _apt user downloads into it
    _run(["apt-get", "download", "-q"] + specs, cwd=where)
    debs = {}
    for spec in specs:
        pkg = spec.split("=")[0]
        found = glob.glob(os.path.join(where, pkg + "_*.deb"))
        if not found:
            raise XenHostError("apt-get download left no %s" % pkg)
        debs[pkg] = found[0]
    return debs


def _installed_version(root, pkg):
    """The version of ``pkg`` in the chroot ``root``'s dpkg database."""
    out = _run(["dpkg-query", "--admindir", os.path.join(root, "var/lib/dpkg"),
                "-W", "-f=${Version}", pkg])
    return out.strip()


def _modinfo(data):
    """{key: value} of a kernel module's .modinfo strings ("name", "depends"): the last
    of each key, since other strings of the module may look alike (nfs.ko prints
    "name=%02x:...")."""
    info = {}
    for key in (b"name", b"depends"):
        found = re.findall(rb"(?:^|\0)" + key + rb"=([^\0]*)\0", data)
        if found:
            info[key.decode()] = found[-1].decode()
    return info


def _module_index(kroot, kver):
    """{module name: (path relative to the version's dir, [dependencies])} for every
    module of the unpacked kernel; names use "_" as modprobe does."""
    base = os.path.join(kroot, "lib/modules", kver)
    index = {}
    for dirpath, _, files in os.walk(os.path.join(base, "kernel")):
        for f in files:
            if f.endswith(".ko"):
                path = os.path.join(dirpath, f)
                with open(path, "rb") as fh:
                    info = _modinfo(fh.read())
                name = info.get("name") or f[:-3].replace("-", "_")
                deps = [d for d in info.get("depends", "").split(",") if d]
                index[name] = (os.path.relpath(path, base), deps)
    return index


def _closure(index, wanted):
    """The modules ``wanted`` with their dependencies, each after what it depends on."""
    order = []

    def visit(name):
        name = name.replace("-", "_")
        if name in order:
            return
        if name not in index:
            raise XenHostError("kernel module %s not found" % name)
        for dep in index[name][1]:
            visit(dep)
        order.append(name)
    for w in wanted:
        visit(w)
    return order


def _cpio(entries):
    """A newc cpio archive from [(path, mode, data, (rdev major, minor))]."""
    out = io.BytesIO()

    def pad(n):
        out.write(b"\0" * ((4 - n % 4) % 4))
    for ino, (path, mode, data, rdev) in enumerate(entries + [("TRAILER!!!", 0, b"", (0, 0))], 1):
        name = path.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name), 0]
        out.write(b"070701" + b"".join(b"%08X" % f for f in fields))
        out.write(name)
        pad(110 + len(name))
        out.write(data)
        pad(len(data))
    return out.getvalue()


def _guest_initramfs(root, busybox, modules):
    """The test guest's gzip cpio: static busybox, the xenstore client (with its libraries,
    taken from dom0's userland), the modules in load order and /init."""
    entries = [(d, 0o40755, b"", (0, 0)) for d in
               ["bin", "sbin", "dev", "etc", "proc", "sys", "tmp", "lib", "lib/modules",
                "lib/x86_64-linux-gnu", "lib64", "usr", "usr/bin"]]
    entries.append(("dev/console", 0o20600, b"", (5, 1)))
    entries.append(("bin/busybox", 0o100755, busybox, (0, 0)))
    entries.append(("bin/sh", 0o120777, b"busybox", (0, 0)))
    entries.append(("init", 0o100755, GUEST_INIT.encode(), (0, 0)))
    entries.append(("sbin/poweroff", 0o100755, GUEST_POWEROFF.encode(), (0, 0)))
    entries.append(("sbin/reboot", 0o100755, GUEST_REBOOT.encode(), (0, 0)))
    # The xenstore client dispatches on its name; its libraries as ldd finds them in dom0.
    with open(os.path.join(root, "usr/bin/xenstore"), "rb") as f:
        entries.append(("usr/bin/xenstore", 0o100755, f.read(), (0, 0)))
    for tool in ("read", "write", "ls", "list", "rm", "exists"):
        entries.append(("bin/xenstore-" + tool, 0o120777, b"/usr/bin/xenstore", (0, 0)))
    for line in _run(["chroot", root, "ldd", "/usr/bin/xenstore"]).splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if not m:
            continue
        lib = m.group(1)
        with open(os.path.realpath(os.path.join(root, lib.lstrip("/"))), "rb") as f:
            data = f.read()
        where = "lib64/" if lib.startswith("/lib64/") else "lib/x86_64-linux-gnu/"
        entries.append((where + os.path.basename(lib), 0o100755, data, (0, 0)))
    names = []
    for path, data in modules:
        names.append(os.path.basename(path))
        entries.append(("lib/modules/" + names[-1], 0o100644, data, (0, 0)))
    entries.append(("etc/modules", 0o100644, ("\n".join(names) + "\n").encode(), (0, 0)))
    return gzip.compress(_cpio(entries), compresslevel=6)


def _build_into(staging, log):
    """Build every part into the directory ``staging``: xen, vmlinuz, dom0.cpio.gz and the
    guest's vmlinuz and initrd.gz (also inside dom0's image, in GUEST_DIR)."""
    work = os.path.join(staging, "work")
    root = os.path.join(work, "root")
    os.makedirs(work)
    t0 = time.monotonic()
    url = mirror()

    kernel_pkg = _kernel_package()
    debs = _download([kernel_pkg, BUSYBOX_PKG], work)
    log("downloaded %s and %s" % (kernel_pkg, BUSYBOX_PKG))

    debcache = os.path.join(CACHE_DIR, "debootstrap-debs")
    os.makedirs(debcache, exist_ok=True)
    argv = ["debootstrap", "--variant=minbase", "--cache-dir=" + debcache,
            "--include=" + ",".join(DOM0_PACKAGES), SUITE, root, url]
    log("debootstrap from %s (about a minute)" % url)
    _run(argv)
    log("debootstrap done after %.0f s" % (time.monotonic() - t0))
    python = os.path.basename(glob.glob(os.path.join(root, "usr/lib/python3.[0-9]*"))[0])
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile",
          "--target", os.path.join(root, "usr/local/lib", python, "dist-packages")]
         + _pip_pins())

    # The hypervisor of the tools' own version, if apt still offers it.
    tools = _installed_version(root, "xen-utils-%s" % XEN)
    try:
        hyp = _download(["%s=%s" % (HYPERVISOR_PKG, tools)], work)[HYPERVISOR_PKG]
    except XenHostError:
        log("%s %s is gone from apt: taking its candidate" % (HYPERVISOR_PKG, tools))
        hyp = _download([HYPERVISOR_PKG], work)[HYPERVISOR_PKG]
    hroot = os.path.join(work, "hyp")
    _run(["dpkg-deb", "-x", hyp, hroot])
    xen_gz = glob.glob(os.path.join(hroot, "boot/xen-%s-amd64.gz" % XEN))
    if not xen_gz:
        raise XenHostError("no boot/xen-%s-amd64.gz in %s" % (XEN, hyp))
    with gzip.open(xen_gz[0]) as src, open(os.path.join(staging, "xen"), "wb") as dst:
        shutil.copyfileobj(src, dst)

    # The kernel and modules: dom0's with their dependencies (depmod in the chroot), the
    # guest's in load order.
    kroot = os.path.join(work, "kernel")
    _run(["dpkg-deb", "-x", debs[kernel_pkg], kroot])
    vmlinuz = glob.glob(os.path.join(kroot, "boot/vmlinuz-*"))[0]
    kver = os.path.basename(vmlinuz)[len("vmlinuz-"):]
    shutil.copyfile(vmlinuz, os.path.join(staging, "vmlinuz"))
    index = _module_index(kroot, kver)
    kbase = os.path.join(kroot, "lib/modules", kver)
    mbase = os.path.join(root, "lib/modules", kver)
    for name in _closure(index, DOM0_MODULES):
        dest = os.path.join(mbase, index[name][0])
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(os.path.join(kbase, index[name][0]), dest)
    for f in ("modules.builtin", "modules.builtin.modinfo", "modules.order"):
        if os.path.exists(os.path.join(kbase, f)):
            shutil.copyfile(os.path.join(kbase, f), os.path.join(mbase, f))
    _run(["chroot", root, "depmod", kver])
    os.makedirs(os.path.join(root, "etc/xend-dom0"), exist_ok=True)
    with open(os.path.join(root, "etc/xend-dom0/modules"), "w") as f:
        f.write("\n".join(DOM0_MODULES) + "\n")

    # The test guest.
    bb = os.path.join(work, "busybox")
    _run(["dpkg-deb", "-x", debs[BUSYBOX_PKG], bb])
    with open(os.path.join(bb, "bin/busybox"), "rb") as f:
        busybox = f.read()
    gmods = []
    for name in _closure(index, GUEST_MODULES):
        with open(os.path.join(kbase, index[name][0]), "rb") as f:
            gmods.append((index[name][0], f.read()))
    initrd = _guest_initramfs(root, busybox, gmods)
    gdir = os.path.join(root, GUEST_DIR.lstrip("/"))
    os.makedirs(gdir, exist_ok=True)
    for where in (gdir, staging):
        shutil.copyfile(vmlinuz, os.path.join(where, "guest-vmlinuz" if where == staging
                                              else "vmlinuz"))
        with open(os.path.join(where, "guest-initrd.gz" if where == staging
                               else "initrd.gz"), "wb") as f:
            f.write(initrd)

    # dom0's own files, then the trim and the archive.
    with open(os.path.join(root, "init"), "w") as f:
        f.write(DOM0_INIT)
    os.chmod(os.path.join(root, "init"), 0o755)
    for path in TRIM:
        full = os.path.join(root, path)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
            os.makedirs(full)
        elif os.path.lexists(full):
            os.unlink(full)
    shutil.rmtree(os.path.join(root, "debootstrap"), ignore_errors=True)
    log("packing dom0's initramfs")
    with open(os.path.join(staging, "dom0.cpio.gz"), "wb") as out:
        find = subprocess.Popen(["find", ".", "-mindepth", "1"], cwd=root,
                                stdout=subprocess.PIPE)
        cpio = subprocess.Popen(["cpio", "--quiet", "-o", "-H", "newc"], cwd=root,
                                stdin=find.stdout, stdout=subprocess.PIPE)
        find.stdout.close()
        gz = subprocess.Popen(["gzip", "-3"], stdin=cpio.stdout, stdout=out)
        cpio.stdout.close()
        if gz.wait() or cpio.wait() or find.wait():
            raise XenHostError("packing dom0's initramfs failed")
    size = int(_run(["du", "-sm", root]).split()[0])
    return {"kernel": kver, "hypervisor": os.path.basename(hyp), "xen_utils": tools,
            "dom0_tree_mb": size}

# --- end of build recipe -----------------------------------------------------------------


def _recipe_text():
    """The build recipe: the text of this file between the recipe markers."""
    with open(os.path.abspath(__file__)) as f:
        text = f.read()
    start = text.index("# --- build recipe")
    return text[start:text.index("# --- end of build recipe", start)]


def cache_key():
    """The cache entry's name: a hash of the recipe, the mirror and apt's versions."""
    h = hashlib.sha256()
    for part in (_recipe_text(), mirror(), _key_inputs()):
        h.update(part.encode())
        h.update(b"\0")
    return "xen%s-%s" % (XEN, h.hexdigest()[:16])


def _prune(keep):
    """Remove cached builds (about 120 MB each) unused for a day, and beyond the three
    most recently used. Not simply every other one: checkouts of other versions of this
    recipe on the same machine share the cache and would rebuild in turn."""
    entries = []
    for name in os.listdir(CACHE_DIR):
        path = os.path.join(CACHE_DIR, name)
        if name.startswith("xen") and name != keep and os.path.isdir(path):
            entries.append((os.path.getmtime(path), path))
    entries.sort(reverse=True)
    for i, (mtime, path) in enumerate(entries):
        if i >= 2 or time.time() - mtime > 86400:
            shutil.rmtree(path, ignore_errors=True)


class Image(dict):
    """A built host: {"dir", "xen", "vmlinuz", "dom0_initrd", "guest_kernel",
    "guest_initrd", "manifest"}; the guest_* paths are the host's copies, its paths in
    dom0 are ``GUEST_KERNEL`` and ``GUEST_INITRD``."""


GUEST_KERNEL = GUEST_DIR + "/vmlinuz"
GUEST_INITRD = GUEST_DIR + "/initrd.gz"
# The guest's kernel arguments besides xend.test= (its console is hvc0). A quiet console
# boots in two thirds of the time under TCG.
GUEST_CMDLINE = "console=hvc0 quiet mitigations=off"


def _image(directory):
    img = Image(dir=directory, xen=os.path.join(directory, "xen"),
                vmlinuz=os.path.join(directory, "vmlinuz"),
                dom0_initrd=os.path.join(directory, "dom0.cpio.gz"),
                guest_kernel=os.path.join(directory, "guest-vmlinuz"),
                guest_initrd=os.path.join(directory, "guest-initrd.gz"))
    try:
        with open(os.path.join(directory, "manifest.json")) as f:
            img["manifest"] = json.load(f)
    except (OSError, ValueError):
        return None
    return img


def build(log=_log):
    """Build the host (or find it in the cache); its Image. Raises XenHostError."""
    if os.geteuid() != 0:
        raise XenHostError("building the Xen host needs root (debootstrap, chroot)")
    for tool in ("debootstrap", "cpio", "apt-get", "dpkg-deb", "chroot"):
        if shutil.which(tool) is None:
            raise XenHostError("building the Xen host needs %s (apt-get install %s)"
                               % (tool, tool))
    os.makedirs(CACHE_DIR, exist_ok=True)
    key = cache_key()
    target = os.path.join(CACHE_DIR, key)
    img = _image(target)
    if img:
        os.utime(target)        # in use: see _prune
        return img
    # One build at a time per cache; whoever waited finds the other's result.
    with open(os.path.join(CACHE_DIR, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        img = _image(target)
        if img:
            return img
        t0 = time.monotonic()
        staging = tempfile.mkdtemp(dir=CACHE_DIR, prefix=".build-")
        try:
            manifest = _build_into(staging, log)
            shutil.rmtree(os.path.join(staging, "work"))
            manifest.update(key=key, built=time.strftime("%Y-%m-%d %H:%M:%S"),
                            build_seconds=round(time.monotonic() - t0, 1),
                            dom0_initrd_mb=round(os.path.getsize(
                                os.path.join(staging, "dom0.cpio.gz")) / 2 ** 20, 1))
            with open(os.path.join(staging, "manifest.json"), "w") as f:
                json.dump(manifest, f, indent=1)
            os.rename(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _prune(key)
        log("built %s in %.0f s" % (key, time.monotonic() - t0))
    return _image(target)


# --- booting -------------------------------------------------------------------------------

# The command agent dom0 runs (from the control share, so editing it needs no rebuild).
# One request per connection: a JSON line {"token", "cmd", "timeout", "input"} in, a JSON
# line {"rc", "out", "err", "timed_out"} out. Each command runs under bash in a session of
# its own; on timeout the whole session is killed.
AGENT = r'''
import hmac, json, os, signal, socketserver, subprocess, sys

TOKEN = open(sys.argv[1]).read().strip()
ENV = dict(os.environ, PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           HOME="/root", LANG="C.UTF-8")


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        try:
            req = json.loads(self.rfile.readline())
        except ValueError:
            return
        if not hmac.compare_digest(str(req.get("token", "")), TOKEN):
            return
        data = req.get("input")
        p = subprocess.Popen(["/bin/bash", "-c", req["cmd"]], cwd="/", env=ENV,
                             stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        timed_out = False
        try:
            out, err = p.communicate(data.encode() if data is not None else None,
                                     timeout=req.get("timeout", 60))
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                out, err = p.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                # Something outside the session holds the pipes: give up on them.
                p.kill()
                out, err = b"", b""
        reply = {"rc": p.wait(), "out": out.decode(errors="replace"),
                 "err": err.decode(errors="replace"), "timed_out": timed_out}
        self.wfile.write(json.dumps(reply).encode() + b"\n")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


Server(("0.0.0.0", 4465), Handler).serve_forever()
'''

# QEMU's CPU model. Without -smap dom0 dies at its first instruction under TCG. Without
# -xsave (and the AVX family, which needs it) processes in dom0 crash at random once guests
# run: vector registers come back corrupted after Xen switches between domains (QEMU 7.2's
# TCG; seen as segfaults and "malloc(): ... corrupted" in python3, grep, xl).
CPU = os.environ.get("XEND_XEN_HOST_CPU", "max,-smap,-xsave,-xsaveopt,-xgetbv1,-avx,-avx2,"
                                          "-fma,-f16c,-vaes")
# More Xen command line.
XEN_ARGS = os.environ.get("XEND_XEN_HOST_XEN_ARGS", "")

AGENT_PORT = 4465
API_PORT = 4464
# Where things are in dom0.
REPO_IN_DOM0 = "/mnt/xend"
BRIDGE = "xenbr0"
BRIDGE_ADDRESS = "192.168.254.1"
DAEMON_CONFIG = "/etc/xen/xend-test.toml"
DAEMON_LOG = "/var/log/xend.log"
DAEMON_OUT = "/var/log/xend.out"
DAEMON_STATE = "/var/lib/xend"
# Bytecode of the shared (read-only) repository: compiling it under TCG takes longer than
# importing it, so a restarted daemon reuses what the first start compiled.
PYCACHE = "/var/cache/xend-pyc"
# Files of the guests tests make by hand with xl (outside the daemon's state).
HAND_MADE = "/var/lib/xend-tests"
ROOT_PASSWORD = "xend-xen-tier"
# The wire between the hosts of a pool of nested hosts (XenHost's ``link``), and where
# their shared directory is mounted.
LINK_NET = "10.231.1"
SHARED_IN_DOM0 = "/mnt/shared"


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mem_available():
    """The host's MemAvailable in bytes."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def _die_with_parent():
    # QEMU gets SIGKILL when the process that started it dies: no 3 GB orphan.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG


class XenHost:
    """One nested Xen host under QEMU.

    ``XenHost(image).boot()``; then ``run(cmd)`` in dom0, ``api_url`` for the daemon,
    ``start_daemon()`` / ``kill_daemon()`` / ``restart_daemon()``, ``close()``.
    """

    def __init__(self, image, repo=REPO, memory_mb=3072, cpus=2, workdir=None, cpu=CPU,
                 xen_args=XEN_ARGS, link=None, shared_dir=None):
        self.image = image
        # A second NIC (dom0's eth1) on a wire to other hosts: (QEMU's "listen" or
        # "connect", the loopback port of the wire, this host's number on it).
        self.link = link
        # A host directory shared read-write with other hosts (SHARED_IN_DOM0).
        self.shared_dir = shared_dir
        self.cpu = cpu
        self.xen_args = xen_args
        self.repo = repo
        self.memory_mb = memory_mb
        self.cpus = cpus
        self.workdir = workdir or tempfile.mkdtemp(prefix="xend-xen-host-")
        self.console_log = os.path.join(self.workdir, "console.log")
        self.qemu_log = os.path.join(self.workdir, "qemu.log")
        self.token = secrets.token_hex(16)
        self.proc = None
        self.api_port = self.agent_port = None
        self.daemon_pid = None
        self.daemon_config = None
        self.boot_seconds = None
        self._launched = None      # when launch() started QEMU

    # -- life -------------------------------------------------------------------------------

    @property
    def api_url(self):
        """The daemon's URL in dom0, forwarded to the host's loopback."""
        return "http://127.0.0.1:%d/" % self.api_port

    @property
    def repo_in_dom0(self):
        """Where the repository is mounted (read-only) in dom0."""
        return REPO_IN_DOM0

    def argv(self):
        """QEMU's command line for this host."""
        ctl = os.path.join(self.workdir, "ctl")
        fwd = "hostfwd=tcp:127.0.0.1:%d-:%d,hostfwd=tcp:127.0.0.1:%d-:%d" % (
            self.api_port, API_PORT, self.agent_port, AGENT_PORT)
        return [
            QEMU or "qemu-system-x86_64", "-accel", "tcg", "-machine", "q35",
            "-cpu", self.cpu, "-m", str(self.memory_mb), "-smp", str(self.cpus),
            "-display", "none", "-nodefaults", "-no-reboot",
            "-serial", "file:" + self.console_log, "-monitor", "none",
            "-kernel", self.image["xen"],
            "-append", "console=com1 com1=115200 dom0_mem=1024M,max:1024M loglvl=all "
                       "guest_loglvl=all " + self.xen_args,
            "-initrd", "%s console=hvc0 earlyprintk=xen,%s" % (self.image["vmlinuz"],
                                                             self.image["dom0_initrd"]),
            "-virtfs", "local,path=%s,mount_tag=xendrepo,security_model=none,readonly=on"
                       % self.repo,
            "-virtfs", "local,path=%s,mount_tag=xendctl,security_model=none,readonly=on" % ctl,
            "-netdev", "user,id=n0," + fwd, "-device", "virtio-net-pci,netdev=n0",
        ] + self._link_argv() + ([
            "-virtfs", "local,path=%s,mount_tag=xendshared,security_model=none"
                       % self.shared_dir] if self.shared_dir else [])

    def _link_argv(self):
        """QEMU's arguments of the wire to other hosts: a socket netdev (one end listens
        on the loopback port, the other connects), its MAC made of the host's number."""
        if self.link is None:
            return []
        mode, port, number = self.link
        return ["-netdev", "socket,id=n1,%s=127.0.0.1:%d" % (mode, port),
                "-device", "virtio-net-pci,netdev=n1,mac=52:54:00:23:10:%02x" % number]

    @property
    def link_address(self):
        """dom0's address on the wire (LINK_NET.number), None without one."""
        return "%s.%d" % (LINK_NET, self.link[2]) if self.link else None

    def bring_up_link(self):
        """Give dom0's eth1 its address on the wire and mount the shared directory."""
        if self.link:
            self.check("ip addr add %s/24 dev eth1 && ip link set eth1 up" % self.link_address)
        if self.shared_dir:
            self.check("mkdir -p %s && mount -t 9p -o trans=virtio,version=9p2000.L,"
                       "msize=262144 xendshared %s" % (SHARED_IN_DOM0, SHARED_IN_DOM0))

    def boot(self):
        """Start QEMU and wait until dom0's agent answers and ``xl`` works; ``self``.

        A boot whose console keeps growing gets more time; one that stays silent fails
        (bootwatch.BootWatch has the rule). A failure kills QEMU and carries the end of
        the console, read before the work dir goes."""
        return self.launch().wait_booted()

    def launch(self):
        """Start QEMU; ``self``. (QEMU is killed when the thread that launched it ends:
        launch hosts booted side by side from one thread, then wait for each.)"""
        ctl = os.path.join(self.workdir, "ctl")
        os.makedirs(ctl, mode=0o700, exist_ok=True)
        with open(os.path.join(ctl, "agent.py"), "w") as f:
            f.write(AGENT)
        fd = os.open(os.path.join(ctl, "token"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.token)
        t0 = time.monotonic()
        for attempt in range(3):
            # A port taken between free_port() and QEMU's bind makes QEMU exit: retry.
            self.api_port, self.agent_port = free_port(), free_port()
            with open(self.qemu_log, "w") as log:
                self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT,
                                             preexec_fn=_die_with_parent)
            time.sleep(1)
            if self.proc.poll() is None or "forwarding" not in self._qemu_log():
                break
        self._launched = t0
        return self

    def wait_booted(self):
        """Wait until the launched host's dom0 answers and ``xl`` works; ``self``."""
        t0 = self._launched
        watch = BootWatch(t0)
        while True:
            if self.proc.poll() is not None:
                raise XenHostError("QEMU exited (%s): %s\nconsole:\n%s" % (
                    self.proc.returncode, self._qemu_log()[-2000:], self.console_tail()))
            try:
                rc, _, _ = self.run("xl list >/dev/null", timeout=30)
                if rc == 0:
                    break
            except (OSError, ValueError, XenHostError):
                pass
            failure = watch.verdict(time.monotonic(), self.console_size())
            if failure:
                console = self.console_tail()
                self.close()
                raise XenHostError("dom0 %s; console:\n%s" % (failure, console))
            time.sleep(1)
        self.boot_seconds = time.monotonic() - t0
        return self

    def close(self):
        """Kill QEMU (and with it every guest and the daemon) and remove the work dir."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None
        if not os.environ.get("XEND_XEN_HOST_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _qemu_log(self):
        try:
            with open(self.qemu_log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def console_size(self):
        """How many bytes the serial console log holds so far (0 before it exists)."""
        try:
            return os.path.getsize(self.console_log)
        except OSError:
            return 0

    def console_tail(self, chars=6000):
        """The end of the serial console log (Xen's and dom0's messages)."""
        try:
            with open(self.console_log, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - chars))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    # -- commands in dom0 ----------------------------------------------------------------

    def run(self, cmd, timeout=60, input=None, check=False):
        """Run ``cmd`` under bash in dom0 (as root, cwd /); (rc, stdout, stderr).

        The command and everything it starts is killed after ``timeout`` seconds and
        CommandTimeout is raised. Processes meant to outlive the command must redirect
        their output (``>file 2>&1 </dev/null &``): the reply waits for the pipes to close.
        With ``check``, a non-zero status raises CommandFailed.
        """
        req = {"token": self.token, "cmd": cmd, "timeout": timeout, "input": input}
        with socket.create_connection(("127.0.0.1", self.agent_port), timeout=10) as s:
            s.settimeout(timeout + 30)
            s.sendall(json.dumps(req).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(1 << 16)
                if not chunk:
                    raise XenHostError("the dom0 agent closed the connection (%r)" % cmd)
                buf += chunk
        reply = json.loads(buf)
        if reply["timed_out"]:
            raise CommandTimeout(cmd, timeout, reply["out"], reply["err"])
        if check and reply["rc"] != 0:
            raise CommandFailed(cmd, reply["rc"], reply["out"], reply["err"])
        return reply["rc"], reply["out"], reply["err"]

    def check(self, cmd, timeout=60, input=None):
        """``run(cmd, check=True)``'s stdout."""
        return self.run(cmd, timeout=timeout, input=input, check=True)[1]

    def write_file(self, path, text, mode=0o644):
        """Write ``text`` to ``path`` in dom0."""
        self.check("mkdir -p \"$(dirname %s)\" && cat > %s && chmod %o %s"
                   % (path, path, mode, path), input=text)

    def wait_for(self, cmd, timeout=60, interval=1.0, what=None):
        """Run ``cmd`` until it exits 0; its stdout. XenHostError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            rc, out, err = self.run(cmd, timeout=max(10, timeout))
            if rc == 0:
                return out
            if time.monotonic() > deadline:
                raise XenHostError("timed out after %ss waiting for %s: %s"
                                   % (timeout, what or cmd, (out + err)[-1000:]))
            time.sleep(interval)

    def guest_console(self, name):
        """The console log (hvc0) of guest ``name`` so far, as xenconsoled records it."""
        return self.run("cat /var/log/xen/console/guest-%s.log 2>/dev/null" % name)[1]

    # -- test guests made by hand with xl ------------------------------------------------

    @staticmethod
    def guest_config(name, mode="", memory_mb=128, disks=(), vifs=("bridge=" + BRIDGE,),
                     extra=""):
        """An xl configuration of the PV test guest (GUEST_KERNEL, GUEST_INITRD) running
        ``mode``; ``disks`` and ``vifs`` are xl's device specifications."""
        def strings(items):
            return "[%s]" % ", ".join('"%s"' % i for i in items)
        args = GUEST_CMDLINE + (" xend.test=%s" % mode if mode else "")
        return "\n".join([
            'name = "%s"' % name, 'type = "pv"', 'kernel = "%s"' % GUEST_KERNEL,
            'ramdisk = "%s"' % GUEST_INITRD, 'cmdline = "%s"' % args,
            "memory = %d" % memory_mb, "vcpus = 1", "disk = " + strings(disks),
            "vif = " + strings(vifs), extra, ""])

    def xl_create(self, name, config, paused=False, timeout=300):
        """``xl create`` (``-p``: paused) the configuration text ``config`` (saved as
        ``HAND_MADE/NAME.cfg``) and return the new domain's id."""
        path = "%s/%s.cfg" % (HAND_MADE, name)
        self.write_file(path, config)
        self.check("xl create %s%s" % ("-p " if paused else "", path), timeout=timeout)
        return self.domid(name)

    def domid(self, name):
        """The id of the domain called ``name``, None if there is none."""
        rc, out, _ = self.run("xl domid %s" % name)
        return int(out) if rc == 0 else None

    def domains(self):
        """Every domain, from ``xl list -v``: {uuid: {"name", "domid", "state",
        "reason"}}; ``state`` is xl's six flags (r b p s c d, "-" for unset)."""
        out = {}
        for line in self.check("xl list -v").splitlines()[1:]:
            f = line.split()
            if len(f) >= 8:
                out[f[6]] = {"name": f[0], "domid": int(f[1]), "state": f[4], "reason": f[7]}
        return out

    def domain(self, uuid):
        """The domain of VM ``uuid`` (see ``domains``), None if it has none."""
        return self.domains().get(uuid)

    def wait_guest_ready(self, name, count=1, timeout=240):
        """Wait until the test guest ``name`` said it is ready ``count`` times on its
        console (a reboot says it again); the console text."""
        return self.wait_for("test $(grep -c 'xend-test: ready' "
                             "/var/log/xen/console/guest-%s.log 2>/dev/null) -ge %d && "
                             "cat /var/log/xen/console/guest-%s.log" % (name, count, name),
                             timeout=timeout, interval=1,
                             what="%s to say it is ready" % name)

    # -- the daemon in dom0 --------------------------------------------------------------

    def daemon_config_text(self, extra=""):
        """The daemon's TOML config in dom0: the xen backend, listening on every address
        (the forwarded port arrives from QEMU's 10.0.2.2), state on a tmpfs."""
        return "\n".join([
            'backend = "xen"',
            'listen = "0.0.0.0:%d"' % API_PORT,
            'allow = ["0.0.0.0/0"]',
            'state_dir = "%s"' % DAEMON_STATE,
            'log_file = "%s"' % DAEMON_LOG,
            'log_level = "debug"',
            'login_failure_delay = 0.05',
            'pid_file = "/run/xend/xend.pid"',
            extra, ""])

    def start_daemon(self, extra_config=None, timeout=120):
        """Start ``python3 -m xen.xend start --foreground`` in dom0 from the shared
        repository and wait until it answers over the forwarded port with root's password
        set (ROOT_PASSWORD); its pid. ``extra_config`` (TOML lines) sticks for restarts."""
        if extra_config is not None or self.daemon_config is None:
            self.daemon_config = self.daemon_config_text(extra_config or "")
        self.write_file(DAEMON_CONFIG, self.daemon_config)
        # A simple command put in the background, so that $! is the daemon itself (setsid
        # does not fork: the job is no process group leader) and nothing holds our pipes.
        out = self.check(
            "cd %s || exit 1; PYTHONPATH=%s PYTHONPYCACHEPREFIX=%s setsid python3 -m xen.xend "
            "start --foreground --config %s >>%s 2>&1 </dev/null & echo $!"
            % (REPO_IN_DOM0, REPO_IN_DOM0, PYCACHE, DAEMON_CONFIG, DAEMON_OUT))
        self.daemon_pid = int(out.split()[-1])
        deadline = time.monotonic() + timeout
        # Wait through the forwarded port, as the host's clients will use it; root's
        # password is kept in the daemon's state, so only a first start sets it.
        while True:
            try:
                proxy = xmlrpc.client.ServerProxy(self.api_url)
                reply = proxy.session.login_with_password("root", ROOT_PASSWORD)
                if reply.get("Status") == "Success":
                    proxy.session.logout(reply["Value"])
                    return self.daemon_pid
                if reply.get("ErrorDescription", [""])[0] == "SESSION_AUTHENTICATION_FAILED":
                    self.check(SET_ROOT_PASSWORD % (ROOT_PASSWORD,))
                    continue
                raise XenHostError("the daemon refused root's login: %r" % (reply,))
            except (OSError, xmlrpc.client.Error):
                pass      # not listening yet (QEMU accepts and then drops the connection)
            if self.run("kill -0 %d" % self.daemon_pid)[0] != 0:
                raise XenHostError("the daemon exited in dom0:\n%s" % self.daemon_log_tail())
            if time.monotonic() > deadline:
                raise XenHostError("the daemon does not answer on %s after %ss:\n%s"
                                   % (self.api_url, timeout, self.daemon_log_tail()))
            time.sleep(0.5)

    def daemon_running(self):
        """True if the daemon started last is alive in dom0."""
        return self.daemon_pid is not None and self.run("kill -0 %d" % self.daemon_pid)[0] == 0

    def kill_daemon(self, sig=9):
        """Send ``sig`` (SIGKILL by default) to the daemon and wait until it is gone."""
        if self.daemon_pid is None:
            return
        self.run("kill -%d %d" % (sig, self.daemon_pid))
        self.wait_for("! kill -0 %d 2>/dev/null" % self.daemon_pid, timeout=90,
                      what="the daemon to exit")
        self.daemon_pid = None

    def stop_daemon(self):
        """SIGTERM the daemon (guests keep running) and wait until it is gone."""
        self.kill_daemon(signal.SIGTERM)

    def restart_daemon(self, sig=9, timeout=120):
        """Kill the daemon with ``sig`` (kill -9 by default) and start it again on the same
        config and state; the new pid."""
        self.kill_daemon(sig)
        return self.start_daemon(timeout=timeout)

    def daemon_log_tail(self, chars=6000):
        """The end of the daemon's log file in dom0 (and of its stderr)."""
        rc, out, _ = self.run("tail -c %d %s; echo '--- stderr:'; tail -c 2000 %s"
                              % (chars, DAEMON_LOG, DAEMON_OUT))
        return out

    def session(self):
        """A XenAPI SDK session logged in as root over the forwarded port."""
        import XenAPI
        s = XenAPI.Session(self.api_url)
        s.xenapi.login_with_password("root", ROOT_PASSWORD, "0.2", "xend-xen-tests")
        return s


# Root is trusted on the Unix socket: set its password there so that the host's clients can
# log in over TCP. Plain xmlrpc.client over AF_UNIX (dom0 has no XenAPI SDK).
SET_ROOT_PASSWORD = r"""python3 - <<'EOF'
import http.client, socket, sys, xmlrpc.client

class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect("/var/run/xend/xen-api.sock")

class Transport(xmlrpc.client.Transport):
    def make_connection(self, host):
        return Conn("localhost")

x = xmlrpc.client.ServerProxy("http://localhost/", transport=Transport())
def ok(r):
    if r.get("Status") != "Success":
        sys.exit("failure: %%r" %% (r,))
    return r["Value"]
s = ok(x.session.login_with_password("root", ""))
root = ok(x.user.get_by_short_name(s, "root"))[0]
ok(x.user.set_password(s, root, "%s"))
ok(x.session.logout(s))
EOF"""


def _main(argv):
    cmds = ("build", "boot", "shell")
    if len(argv) != 1 or argv[0] not in cmds:
        sys.exit("usage: xenhost.py build|boot|shell")
    t0 = time.monotonic()
    img = build()
    _log("image ready after %.1f s: %s" % (time.monotonic() - t0, img["dir"]))
    if argv[0] == "build":
        print(json.dumps(img, indent=1))
        return
    host = XenHost(img)
    try:
        host.boot()
        _log("dom0 up after %.1f s; console log %s" % (host.boot_seconds, host.console_log))
        _log("daemon URL (once started in dom0): %s; agent port %d"
             % (host.api_url, host.agent_port))
        if argv[0] == "boot":
            _log("ctrl-C stops the host")
            while host.proc.poll() is None:
                time.sleep(1)
            return
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                rc, out, err = host.run(line, timeout=600)
                sys.stdout.write(out)
                sys.stderr.write(err)
                if rc:
                    _log("exit %d" % rc)
            except XenHostError as e:
                _log(str(e))
    except KeyboardInterrupt:
        pass
    finally:
        host.close()


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        _main(sys.argv[1:])
