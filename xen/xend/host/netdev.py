"""Linux network plumbing for guests: bridges, VLAN devices and tap devices.

Used by the daemon (a network's bridge) and by the QEMU backend (a VIF's tap);
a backend whose hypervisor makes its own interfaces (Xen's hotplug scripts)
needs only the bridges. Everything here is synchronous and Linux-only.

Names (IFNAMSIZ allows 15 characters) come from object uuids, so they are
the same at every start and an administrator can tell whose device it is:

=====================  ===========================================================
``xenbr-`` + 9 hex     the bridge the daemon makes for a network (private or VLAN)
``xvlan-`` + 9 hex     the 802.1Q device a VLAN network's bridge is connected through
``xvif`` + 11 hex      a VIF's tap device
=====================  ===========================================================

Bridges, links and the VLAN device are made with ``ip`` (iproute2) as argv,
never through a shell: it is on every Linux host (Xen's own hotplug scripts
use it too), adds no dependency, and its commands are the ones an
administrator types to look at the result. pyroute2 would save a process per
step but brings a large dependency whose API has broken between releases; a
few ``ip`` runs per VM start are not worth that.

A tap is opened here through /dev/net/tun and handed to the hypervisor as a
file descriptor. It is *not* persistent: the kernel deletes it when the last
descriptor closes, so a tap lives exactly as long as the QEMU that holds it,
whether that QEMU is stopped, crashes or outlives a killed daemon, and a start
that fails half-way leaves no tap behind.
"""

import errno
import fcntl
import os
import struct
import subprocess
import threading

BRIDGE_PREFIX = "xenbr-"
VLAN_PREFIX = "xvlan-"
TAP_PREFIX = "xvif"
IFNAMSIZ = 15
IP_TIMEOUT = 30

_TUN = "/dev/net/tun"
_TUNSETIFF = 0x400454CA
_IFF_TAP = 0x0002
_IFF_NO_PI = 0x1000
_IFF_VNET_HDR = 0x4000     # lets QEMU pass virtio-net offloads through

# One bridge change at a time in this daemon: two starts on one network must
# not both try to make its bridge.
_bridge_lock = threading.Lock()


class NetdevError(Exception):
    """A bridge, VLAN or tap device could not be made; the message says why."""


def _short(uuid, n):
    return uuid.replace("-", "")[:n]


def bridge_name(network):
    """The bridge the daemon makes for ``network`` (a uuid)."""
    return BRIDGE_PREFIX + _short(network, IFNAMSIZ - len(BRIDGE_PREFIX))


def vlan_name(network):
    """The VLAN device of ``network``'s bridge."""
    return VLAN_PREFIX + _short(network, IFNAMSIZ - len(VLAN_PREFIX))


def tap_name(vif):
    """The tap device of ``vif`` (a uuid)."""
    return TAP_PREFIX + _short(vif, IFNAMSIZ - len(TAP_PREFIX))


def exists(name):
    """True if the host has a network interface ``name``."""
    return os.path.exists(os.path.join("/sys/class/net", name))


def is_bridge(name):
    """True if ``name`` is a Linux bridge."""
    return os.path.isdir(os.path.join("/sys/class/net", name, "bridge"))


def master_of(name):
    """The bridge ``name`` is a port of, or ""."""
    try:
        return os.path.basename(os.readlink(os.path.join("/sys/class/net", name, "master")))
    except OSError:
        return ""


def ip(*args):
    """Run ``ip ARGS``; NetdevError with ip's own message if it fails."""
    try:
        out = subprocess.run(["ip", *args], stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=IP_TIMEOUT)
    except FileNotFoundError:
        raise NetdevError("the ip command (iproute2) is not installed") from None
    except subprocess.TimeoutExpired:
        raise NetdevError("ip %s did not finish" % " ".join(args)) from None
    if out.returncode != 0:
        raise NetdevError("ip %s: %s" % (" ".join(args), out.stderr.strip() or "failed"))


def network_bridge(network, nic, vlan):
    """The bridge the VIFs of ``network`` are ports of: the host bridge its ``nic``
    names, or (a private network, or a VLAN on ``nic``) the daemon's own."""
    return nic if nic and not vlan else bridge_name(network)


def prepare_network_bridge(network, nic, vlan):
    """Make sure ``network_bridge`` exists: a host bridge must be there already; the
    daemon's own is made if missing (with its 802.1Q device for a VLAN). NetdevError
    if that cannot be."""
    if nic and not vlan:
        require_bridge(nic)
    else:
        ensure_bridge(bridge_name(network),
                      (vlan_name(network), nic, int(vlan)) if nic else None)


def require_bridge(name):
    """NetdevError unless the host has a bridge ``name`` (one the daemon does not own)."""
    if not exists(name):
        raise NetdevError("the host has no interface %s" % name)
    if not is_bridge(name):
        raise NetdevError("%s is not a bridge: the daemon does not enslave host interfaces, "
                          "which would cut the host's own traffic" % name)


def ensure_bridge(name, vlan=None):
    """Make the daemon's own bridge ``name`` if it is missing, and set it up.

    Without ``vlan`` it is a private bridge, connected to no host interface.
    ``vlan`` = (device name, host interface, VLAN id) connects it through an
    802.1Q device on that interface, so its guests' frames leave tagged.
    A bridge made here but not finished is removed again.
    """
    with _bridge_lock:
        if exists(name):
            if not is_bridge(name):
                raise NetdevError("%s exists and is not a bridge" % name)
            return
        ip("link", "add", "name", name, "type", "bridge", "forward_delay", "0")
        try:
            if vlan is not None:
                device, uplink, vid = vlan
                if not exists(uplink):
                    raise NetdevError("the host has no interface %s" % uplink)
                if exists(device):
                    ip("link", "del", "dev", device)   # left by an earlier, failed attempt
                try:
                    ip("link", "add", "link", uplink, "name", device, "type", "vlan",
                       "id", str(vid))
                except NetdevError as e:
                    raise NetdevError("%s (VLANs need the kernel's 802.1Q support, module "
                                      "8021q)" % e) from None
                ip("link", "set", "dev", device, "master", name, "up")
            ip("link", "set", "dev", name, "up")
        except BaseException:
            _remove(name, vlan[0] if vlan else None)
            raise


def remove_bridge(name, vlan_device=None):
    """Remove the daemon's bridge ``name`` (and its VLAN device), if they exist."""
    with _bridge_lock:
        _remove(name, vlan_device)


def _remove(name, vlan_device):
    for dev in (vlan_device, name):
        if dev and exists(dev):
            ip("link", "del", "dev", dev)


def _tap_mac(guest_mac):
    # A bridge takes the lowest MAC of its ports as its own: a tap starting fe:
    # never lowers it, and differs from the guest's own address.
    return "fe:" + guest_mac.split(":", 1)[1] if guest_mac else None


def open_tap(name, bridge, mtu, guest_mac=""):
    """Make tap ``name``, set its MTU, put it in ``bridge`` and bring it up.

    Returns its file descriptor (close-on-exec): the tap exists while some
    process holds it. On failure nothing is left.
    """
    try:
        fd = os.open(_TUN, os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        raise NetdevError("cannot open %s: %s (tap devices need /dev/net/tun and root)"
                          % (_TUN, e.strerror)) from None
    try:
        flags = _IFF_TAP | _IFF_NO_PI | _IFF_VNET_HDR
        try:
            fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH22x", name.encode(), flags))
        except OSError as e:
            why = " (tap devices need root)" if e.errno == errno.EPERM else ""
            raise NetdevError("cannot create tap %s: %s%s" % (name, e.strerror, why)) from None
        args = ["link", "set", "dev", name]
        mac = _tap_mac(guest_mac)
        if mac:
            args += ["address", mac]
        ip(*args, "mtu", str(int(mtu)), "master", bridge, "up")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _sys_net(name, *path):
    """The text of /sys/class/net/NAME/PATH, stripped; None where there is no such file
    (no such interface)."""
    try:
        with open(os.path.join("/sys/class/net", name, *path)) as f:
            return f.read().strip()
    except OSError:
        return None


def link_counters(name):
    """Bytes through interface ``name`` as the host sees them: {"rx_bytes", "tx_bytes"};
    None if it is gone."""
    rx, tx = (_sys_net(name, "statistics", key) for key in ("rx_bytes", "tx_bytes"))
    if rx is None or tx is None:
        return None
    return {"rx_bytes": int(rx), "tx_bytes": int(tx)}


def tap_counters(name):
    """Bytes through tap ``name`` as the guest sees them: {"rx_bytes", "tx_bytes"}
    (what the host side transmits, the guest receives); None if it is gone."""
    host = link_counters(name)
    return host and {"rx_bytes": host["tx_bytes"], "tx_bytes": host["rx_bytes"]}


def link_mac(name):
    """The MAC address of interface ``name``: "" where the host has no such interface."""
    return _sys_net(name, "address") or ""


def link_mtu(name):
    """The MTU of interface ``name``: 0 where the host has no such interface."""
    mtu = _sys_net(name, "mtu")
    return int(mtu) if mtu else 0


def set_mtu(name, mtu):
    """Set interface ``name``'s MTU; NetdevError with ip's message if the kernel refuses."""
    ip("link", "set", "dev", name, "mtu", str(mtu))
