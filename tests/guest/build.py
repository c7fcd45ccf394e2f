#!/usr/bin/env python3
"""Build the tiny Linux test guest: an ELF vmlinux and a busybox initramfs.

Everything comes from Debian packages, downloaded with ``apt-get download`` and
unpacked with ``dpkg-deb``; nothing is installed on the host. The result is
cached in ``$XEND_GUEST_CACHE`` (default ``~/.cache/xend-test-guest``) under a
key made of the package versions and a hash of this recipe, so a second run
only resolves versions and returns.

The guest's /init (see INIT below) loads the drivers the QEMU backend uses,
prints ``xend-test: ready`` on the serial console and then:

* powers off (``poweroff -f``) when the ACPI power button is pressed,
* reboots (``reboot -f``) on ctrl-alt-del, which the kernel hands to init as
  SIGINT because /init turns the kernel's own C-A-D handling off,
* reads a little of /dev/vda, if there is one, before saying ready,
* reports its block and network devices on the console, as
  ``xend-test: devices: vda eth0:1500 ...`` (disks, then NICs with their
  MTU), once at ready and again whenever the set changes (hot-plug);
  IDE disks (ata_piix, loaded once ready) are sdX,
* reports its online CPUs as ``xend-test: cpus: cpu0 cpu1 ...`` the same way,
  taking a hot-plugged CPU online first (as udev would),
* reports the driver of each NIC at boot, as ``xend-test: nics: eth0:e1000``
  (virtio_net, e1000, 8139cp),
* with ``xend.ip=ADDR/PREFIX`` on the kernel command line, gives eth0 that
  address and brings it up before saying ready,
* obeys ``xend.test=MODE`` on the kernel command line, once ready:
  ``panic`` panics (sysrq c), ``reboot`` reboots (so it reboots on every
  boot), ``poweroff`` powers off, ``s3`` suspends to RAM, ``burn`` keeps
  one CPU busy, ``ping`` pings ``xend.peer=ADDR`` once a second for ever,
  saying ``xend-test: ping ADDR ok`` at the first reply, ``mount`` loads the
  LATE_MODULES and STORAGE_MODULES, waits (at most 20 s) for a CD-ROM drive, mounts
  each virtio disk and CD-ROM read-only and says ``xend-test: read DEV: TEXT`` with
  the first line of its file ``xend-test.txt`` (or ``xend-test: mount DEV
  failed``), then ``xend-test: mounted``, ``shell`` runs a shell on the serial
  console, which runs each line typed there.

Usage: ``build.py`` prints the JSON ``{"kernel": PATH, "initrd": PATH,
"cmdline": ARGS}``; ``build()`` returns the same dict. Needs root and apt.
"""

import gzip
import hashlib
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

KERNEL_META = "linux-image-amd64"
BUSYBOX = "busybox-static"

# Load order matters: each module follows the ones it depends on.
MODULES = [
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "drivers/block/virtio_blk.ko",
    "drivers/virtio/virtio_balloon.ko",
    "net/core/failover.ko",
    "drivers/net/net_failover.ko",
    "drivers/net/virtio_net.ko",
    "drivers/net/ethernet/intel/e1000/e1000.ko",
    "drivers/acpi/button.ko",
    "drivers/input/evdev.ko",
    "drivers/misc/pvpanic/pvpanic.ko",
    "drivers/misc/pvpanic/pvpanic-mmio.ko",
    # The NIC models (VIF/model) beside e1000 and virtio.
    "drivers/net/mii.ko",
    "drivers/net/ethernet/realtek/8139cp.ko",
]

# IDE disks (driver ioemu) as sdX: loaded once the guest is ready, so that probing the
# IDE channels, which every guest has, adds nothing to any guest's boot; its disks are
# reported (as a change of the devices) when found.
LATE_MODULES = [
    "drivers/scsi/scsi_common.ko",
    "drivers/scsi/scsi_mod.ko",
    "drivers/ata/libata.ko",
    "drivers/ata/ata_piix.ko",
    "crypto/crct10dif_common.ko",
    "crypto/crct10dif_generic.ko",
    "lib/crc-t10dif.ko",
    "lib/crc64.ko",
    "crypto/crc64_rocksoft_generic.ko",
    "lib/crc64-rocksoft.ko",
    "block/t10-pi.ko",
    "drivers/scsi/sd_mod.ko",
]

# Loaded only by ``xend.test=mount``, after the LATE_MODULES (booting every guest with
# them would cost each boot their load time): ext4 (for ext2/3/4 images) and the IDE
# CD-ROM drive with its ISO 9660 file system. Load order as above.
STORAGE_MODULES = [
    "crypto/crc32c_generic.ko",
    "lib/crc16.ko",
    "fs/mbcache.ko",
    "fs/jbd2/jbd2.ko",
    "fs/ext4/ext4.ko",
    "drivers/cdrom/cdrom.ko",
    "drivers/scsi/sr_mod.ko",
    "fs/isofs/isofs.ko",
]

# Kernel arguments that make the guest boot quickly under TCG: no delay loop calibration,
# no crypto self-tests (cryptomgr), and no initcalls the tests have no use for that cost
# most of a second together (the AMD IOMMU v2 driver, the kprobe tracer's self-test,
# encrypted keys, the KDF self-test).
CMDLINE = ("console=ttyS0 panic=-1 quiet lpj=4000000 tsc=reliable "
           "no_timer_check mitigations=off i8042.noaux cryptomgr.notests "
           "initcall_blacklist=amd_iommu_v2_init,init_kprobe_trace,init_encrypted,"
           "crypto_kdf108_init")

INIT = r"""#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /etc/modules); do insmod "/lib/modules/$m" 2>/dev/null; done
# Let init, not the kernel, handle ctrl-alt-del: it arrives as SIGINT.
echo 0 > /proc/sys/kernel/ctrl-alt-del
trap 'echo "xend-test: ctrl-alt-del, rebooting"; reboot -f' INT
button=""
for d in /sys/class/input/event*; do
    [ "$(cat "$d/device/name" 2>/dev/null)" = "Power Button" ] && button=/dev/input/${d##*/}
done
if [ -n "$button" ]; then
    # Open the device before saying ready: evdev drops events nobody has open.
    exec 3< "$button"
    ( dd of=/dev/null bs=24 count=1 <&3 2>/dev/null
      echo "xend-test: power button, powering off"; poweroff -f ) &
    exec 3<&-
fi
# Some disk reads, so block counters have something to count.
[ -b /dev/vda ] && dd if=/dev/vda of=/dev/null bs=64k count=16 2>/dev/null
arg() { sed -n "s/.*xend\.$1=\([0-9a-z./]*\).*/\1/p" /proc/cmdline; }
ip=$(arg ip)
if [ -n "$ip" ]; then
    ip addr add "$ip" dev eth0 && ip link set eth0 up
fi
# Shell builtins only (globs, read), but for sleep: cheap enough to poll under TCG.
devices() {
    now=""
    for d in /sys/block/vd* /sys/block/sd*; do [ -e "$d" ] && now="$now ${d##*/}"; done
    for n in /sys/class/net/eth*; do [ -e "$n" ] && read m < "$n/mtu" && now="$now ${n##*/}:$m"; done
    echo "$now"
}
# The online CPUs; a hot-plugged one is taken online first, as udev would.
cpus() {
    now=""
    for c in /sys/devices/system/cpu/cpu[0-9]*; do
        o=1
        [ -e "$c/online" ] && read o < "$c/online"
        [ "$o" = 0 ] && echo 1 > "$c/online" 2>/dev/null && read o < "$c/online"
        [ "$o" = 1 ] && now="$now ${c##*/}"
    done
    echo "$now"
}
last=$(devices)
echo "xend-test: devices:$last"
lastcpus=$(cpus)
echo "xend-test: cpus:$lastcpus"
# Which driver each NIC has: the model the guest sees.
nics=""
for n in /sys/class/net/eth*; do
    [ -e "$n/device/driver" ] && d=$(readlink "$n/device/driver") && nics="$nics ${n##*/}:${d##*/}"
done
echo "xend-test: nics:$nics"
( while :; do
    sleep 0.5
    now=$(devices)
    [ "$now" != "$last" ] && echo "xend-test: devices:$now" && last="$now"
    now=$(cpus)
    [ "$now" != "$lastcpus" ] && echo "xend-test: cpus:$now" && lastcpus="$now"
  done ) &
echo "xend-test: ready"
( for m in $(cat /etc/modules.late); do insmod "/lib/modules/$m" 2>/dev/null; done ) &
case "$(arg test)" in
    panic) echo c > /proc/sysrq-trigger ;;
    reboot) reboot -f ;;
    poweroff) poweroff -f ;;
    s3) echo mem > /sys/power/state ;;
    burn) ( while :; do :; done ) & ;;
    write) ( while :; do dd if=/dev/zero of=/dev/vda bs=64k count=16 conv=fsync 2>/dev/null; done ) & ;;
    mount) # A module the background loader has loaded already fails here, harmlessly.
           for m in $(cat /etc/modules.late /etc/modules.storage); do
               insmod "/lib/modules/$m" 2>/dev/null
           done
           i=0
           while [ ! -b /dev/sr0 ] && [ $i -lt 80 ]; do sleep 0.25; i=$((i+1)); done
           for dev in /dev/vd? /dev/sr?; do
               [ -b "$dev" ] || continue
               name=${dev##*/}
               mkdir -p "/mnt/$name"
               if mount -o ro "$dev" "/mnt/$name" 2>/dev/null; then
                   read -r text < "/mnt/$name/xend-test.txt"
                   echo "xend-test: read $name: $text"
               else
                   echo "xend-test: mount $name failed"
               fi
           done
           echo "xend-test: mounted" ;;
    ping) peer=$(arg peer)
          ( said=""
            while :; do
                if ping -c 1 -W 2 "$peer" >/dev/null 2>&1 && [ -z "$said" ]; then
                    echo "xend-test: ping $peer ok"; said=1
                fi
                sleep 1
            done ) & ;;
    # Its input from the console: a background job's would be /dev/null.
    shell) ( while :; do sh < /dev/console; done ) & ;;
esac
# wait returns early when the INT trap fires; loop so init never exits.
while :; do sleep 3600 & wait $!; done
"""


def _run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout


def _apt_update():
    _run(["apt-get", "update", "-qq"])


def _candidates():
    """[(package, candidate version)] for the kernel meta-package and busybox.

    The meta-package's version pins the exact kernel package it depends on, so
    these two versions identify the guest; one apt-cache call keeps a cached run fast.
    """
    out, pkg = [], None
    for line in _run(["apt-cache", "policy", KERNEL_META, BUSYBOX]).splitlines():
        if not line.startswith(" "):
            pkg = line.rstrip(":")
        elif line.strip().startswith("Candidate:"):
            version = line.split(":", 1)[1].strip()
            if version == "(none)":
                raise LookupError(pkg)
            out.append((pkg, version))
    if len(out) != 2:
        raise LookupError(KERNEL_META)
    return out


def _kernel_package():
    """The versioned kernel package linux-image-amd64 depends on."""
    for line in _run(["apt-cache", "depends", KERNEL_META]).splitlines():
        dep = line.strip()
        if dep.startswith("Depends:") and "linux-image-" in dep:
            return dep.split(":", 1)[1].strip()
    raise LookupError(KERNEL_META)


def _download(pkgs, where):
    """apt-get download [(package, version or "")] into ``where``; return {package: deb}."""
    _run(["apt-get", "download"] + [f"{p}={v}" if v else p for p, v in pkgs], cwd=where)
    debs = {}
    for name in os.listdir(where):
        for pkg, _ in pkgs:
            if name.startswith(pkg + "_") and name.endswith(".deb"):
                debs[pkg] = os.path.join(where, name)
    return debs


def _members(deb, wanted):
    """Stream a .deb's data tar; return {member name: bytes} for names ``wanted(name)``."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    found = {}
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for member in tar:
            name = member.name.lstrip("./")
            if member.isfile() and wanted(name):
                found[name] = tar.extractfile(member).read()
    proc.stdout.close()
    if proc.wait() != 0:
        raise RuntimeError(f"dpkg-deb failed on {deb}")
    return found


def _vmlinux(bzimage):
    """The ELF kernel inside a bzImage whose payload is xz-compressed."""
    start = bzimage.find(b"\xfd7zXZ\x00")
    if start < 0:
        raise RuntimeError("no xz payload in the kernel image")
    elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(bzimage[start:])
    if not elf.startswith(b"\x7fELF"):
        raise RuntimeError("xz payload is not an ELF kernel")
    return elf


def _cpio(entries):
    """A newc cpio archive from [(path, mode, data_or_target, rdev)]."""
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


def _initramfs(busybox, listings):
    """The initramfs: busybox, /init, and the kernel modules of ``listings``
    ({"etc/modules": [(path, bytes)], ...}), each list named in its listing file."""
    dirs = ["bin", "dev", "etc", "proc", "sys", "lib", "lib/modules", "mnt"]
    entries = [(d, 0o40755, b"", (0, 0)) for d in dirs]
    # The kernel opens /dev/console for init before /init can mount devtmpfs.
    entries.append(("dev/console", 0o20600, b"", (5, 1)))
    entries.append(("bin/busybox", 0o100755, busybox, (0, 0)))
    entries.append(("bin/sh", 0o120777, b"busybox", (0, 0)))
    entries.append(("init", 0o100755, INIT.encode(), (0, 0)))
    for listing, loaded in listings.items():
        names = []
        for path, data in loaded:
            names.append(os.path.basename(path))
            entries.append(("lib/modules/" + names[-1], 0o100644, data, (0, 0)))
        entries.append((listing, 0o100644, ("\n".join(names) + "\n").encode(), (0, 0)))
    return gzip.compress(_cpio(entries), compresslevel=6)


def _recipe_hash():
    # This file is the whole recipe: any edit to it makes a new cache entry.
    with open(__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def build(cache_dir=None):
    """Build (or reuse) the guest; return {"kernel", "initrd", "cmdline"}."""
    cache_dir = cache_dir or os.environ.get("XEND_GUEST_CACHE") or os.path.expanduser(
        "~/.cache/xend-test-guest")
    try:
        pkgs = _candidates()
    except LookupError:
        _apt_update()
        pkgs = _candidates()
    key = "_".join(f"{p}-{v}" for p, v in pkgs).replace(":", "%") + "_" + _recipe_hash()
    target = os.path.join(cache_dir, key)
    result = {"kernel": os.path.join(target, "vmlinux"),
              "initrd": os.path.join(target, "initrd.gz"), "cmdline": CMDLINE}
    if os.path.exists(result["kernel"]) and os.path.exists(result["initrd"]):
        return result

    kernel_pkg = _kernel_package()
    wanted = [(kernel_pkg, ""), (BUSYBOX, pkgs[1][1])]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            debs = _download(wanted, tmp)
        except subprocess.CalledProcessError:
            _apt_update()
            debs = _download(wanted, tmp)
        lists = {"etc/modules": MODULES, "etc/modules.late": LATE_MODULES,
                 "etc/modules.storage": STORAGE_MODULES}
        wanted_modules = [m for names in lists.values() for m in names]
        kfiles = _members(debs[kernel_pkg], lambda n: n.startswith("boot/vmlinuz-")
                          or any(n.endswith("/kernel/" + m) for m in wanted_modules))
        vmlinuz = next(v for n, v in kfiles.items() if n.startswith("boot/vmlinuz-"))
        listings = {listing: [next((n, v) for n, v in kfiles.items()
                                   if n.endswith("/kernel/" + m)) for m in names]
                    for listing, names in lists.items()}
        busybox = _members(debs[BUSYBOX], lambda n: n == "bin/busybox")["bin/busybox"]

        os.makedirs(cache_dir, exist_ok=True)
        staging = tempfile.mkdtemp(dir=cache_dir, prefix=".build-")
        with open(os.path.join(staging, "vmlinux"), "wb") as f:
            f.write(_vmlinux(vmlinuz))
        with open(os.path.join(staging, "initrd.gz"), "wb") as f:
            f.write(_initramfs(busybox, listings))
        # Publish atomically so a concurrent or interrupted build never leaves half a guest.
        try:
            os.rename(staging, target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not os.path.exists(result["kernel"]):
                raise
    # Older builds are dead weight (65 MB each); only this recipe's entries are touched.
    for name in os.listdir(cache_dir):
        if name != key and name.startswith(KERNEL_META + "-"):
            shutil.rmtree(os.path.join(cache_dir, name), ignore_errors=True)
    return result


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit("usage: build.py   (cache dir from $XEND_GUEST_CACHE)")
    print(json.dumps(build()))
