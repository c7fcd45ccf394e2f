"""The conversions between the two names of one stored value (datamodel ``Renamed``).

Xen-API 1.0 renamed some of the draft's fields and changed how a few of them are
spelled on the wire (a string of pairs became a map, sectors became bytes). The
value is stored once, under the draft's name; these pure functions turn it into
the 1.0 spelling (``read``: the source values in, the value out) and back
(``write``: the value and the stored record in, ``{source: value}`` out).
"""


from . import errors  # a module: errors imports the datamodel, which imports this
from .enums import cpu_feature

# VM.VCPUs_params: "weight=512 cap=50" (0.2) / {"weight": "512", "cap": "50"} (1.0).

def pairs_to_map(text):
    """"k=v k=v" (whitespace or ";" between pairs) as a map; a later key wins, and a
    word without "=" is a key with an empty value (the draft's checks refuse it)."""
    out = {}
    for pair in text.replace(";", " ").split():
        key, _, value = pair.partition("=")
        out[key] = value
    return out


def map_to_pairs(mapping, record=None):
    """A map as VCPUs/params' "k=v" pairs, in the map's order."""
    return {"VCPUs_params": " ".join("%s=%s" % kv for kv in mapping.items())}


# VDI.virtual_size: sectors of sector_size bytes (0.2) / bytes (1.0).

def sectors_to_bytes(sectors, sector_size):
    return sectors * sector_size


def bytes_to_sectors(size, record):
    """Bytes as whole sectors of the VDI's sector size, rounded up: a disk is never
    made smaller than asked."""
    sector = (record or {}).get("sector_size") or 512
    return {"virtual_size": -(-size // sector)}


# SR.type: the daemon's "dir" (0.2) / xend 3.1's name for its local file SR, "local" (1.0).

def dir_to_local(sr_type):
    return "local" if sr_type == "dir" else sr_type


def local_to_dir(sr_type, record):
    return {"type": "dir" if sr_type == "local" else sr_type}


# task.progress: a fraction 0.0-1.0 (the later API's) / a percentage 0-100 (1.0).

def fraction_to_percent(fraction):
    return int(fraction * 100)


# host_cpu.features: a set of cpu_feature names (0.2) / a bitmap (1.0): 32-bit words in
# hexadecimal joined by ":", bit N of the whole being the enumeration's N-th value.

_FEATURE_BITS = {name: i for i, name in enumerate(cpu_feature.values)}


def features_to_bitmap(features):
    bits = 0
    for name in features:
        bits |= 1 << _FEATURE_BITS[name]
    words = (len(_FEATURE_BITS) + 31) // 32
    return ":".join("%08x" % ((bits >> (32 * i)) & 0xFFFFFFFF) for i in range(words))


# VM's boot fields: the draft's boot_method / 1.0's PV_bootloader and HVM_boot_policy.
# grub is 1.0's "pygrub" boot loader, bios its "BIOS order" policy; a VM that is neither
# (kernel_external, kernel_internal) has both empty. Writes that empty a name move a VM
# off that method to a direct kernel boot; other writes of "" leave the method as it is,
# so a 1.0 record that gives "" for the method it does not use changes nothing.

BOOTLOADER = "pygrub"
BOOT_POLICY = "BIOS order"


def method_to_bootloader(method):
    return BOOTLOADER if method == "grub" else ""


def bootloader_to_method(name, record):
    """"pygrub" (or a path to it) boots grub; "" leaves a grub VM for kernel_external."""
    if name == "":
        return {"boot_method": "kernel_external"} if record.get("boot_method") == "grub" else {}
    if name.rsplit("/", 1)[-1] != BOOTLOADER:
        raise errors.ApiError("VALUE_NOT_SUPPORTED", "PV_bootloader", name,
                       "the boot loader is %s (or \"\" for none)" % BOOTLOADER)
    return {"boot_method": "grub"}


def method_to_policy(method):
    return BOOT_POLICY if method == "bios" else ""


def policy_to_method(policy, record):
    """"BIOS order" boots bios; "" leaves a bios VM for kernel_external."""
    if policy == BOOT_POLICY:
        return {"boot_method": "bios"}
    if policy == "":
        return {"boot_method": "kernel_external"} if record.get("boot_method") == "bios" else {}
    raise errors.ApiError("VALUE_NOT_SUPPORTED", "HVM_boot_policy", policy,
                   "the policies are \"%s\" and \"\" (no BIOS)" % BOOT_POLICY)


# VM.bios_boot (one device) / HVM_boot_params {"order": letters}, as QEMU's -boot order.

BOOT_LETTERS = {"floppy": "a", "HD": "c", "CDROM": "d"}
_BOOT_DEVICES = {letter: device for device, letter in BOOT_LETTERS.items()}


def device_to_params(device):
    return {"order": BOOT_LETTERS[device]}


def params_to_device(params, record):
    """The first letter of "order" is the device the BIOS boots (bios/boot holds one);
    {} is the default, the hard disk."""
    unknown = sorted(set(params) - {"order"})
    if unknown:
        raise errors.ApiError("INVALID_VALUE", "HVM_boot_params",
                       "%s (the one key is order)" % unknown[0])
    order = params.get("order", "c") or "c"
    if order[0] not in _BOOT_DEVICES:
        raise errors.ApiError("VALUE_NOT_SUPPORTED", "HVM_boot_params", "order=" + order,
                       "the boot devices are a (floppy), c (hard disk) and d (CD-ROM)")
    return {"bios_boot": _BOOT_DEVICES[order[0]]}


# VM's platform/* fields / 1.0's platform map, keyed as xend 3.1 keyed it.

# Every guest has these, on both backends: a key may be given only as "1".
PLATFORM_ALWAYS = ("acpi", "apic", "pae")
PLATFORM_KEYS = ("stdvga", "serial", "localtime", "rtc_timeoffset", "soundhw", "vnc", "sdl"
                 ) + PLATFORM_ALWAYS
SOUND_CARD = "ac97"      # the one emulated card (docs/vm-mapping.md, platform/enable_audio)
PLATFORM_SOURCES = ("platform_std_VGA", "platform_serial", "platform_localtime",
                    "platform_clock_offset", "platform_enable_audio", "platform_display")


def _flag(value):
    return "1" if value else "0"


def fields_to_platform(std_vga, serial, localtime, clock_offset, audio, display):
    out = dict.fromkeys(PLATFORM_ALWAYS, "1")
    out.update(stdvga=_flag(std_vga), localtime=_flag(localtime))
    if not clock_offset:    # true carries no amount to show (and no backend takes it)
        out["rtc_timeoffset"] = "0"
    if serial:
        out["serial"] = serial
    if audio:
        out["soundhw"] = SOUND_CARD
    if display != "auto":
        out["vnc"] = _flag(display == "vnc")
    return out


def _parse_flag(key, value):
    if value.lower() in ("1", "true"):
        return True
    if value.lower() in ("0", "false", ""):
        return False
    raise errors.ApiError("INVALID_VALUE", "platform", "%s=%s (1 or 0)" % (key, value))


def platform_to_fields(platform, record):
    """The whole map sets every platform field: a key left out is its default. A key
    xend 3.1 did not have, or a value no backend can give, is refused; nothing is set."""
    for key in platform:
        if key not in PLATFORM_KEYS:
            raise errors.ApiError("INVALID_VALUE", "platform", "%s (the keys are %s)"
                           % (key, ", ".join(PLATFORM_KEYS)))
    for key in PLATFORM_ALWAYS + ("sdl",):
        if key in platform and _parse_flag(key, platform[key]) != (key != "sdl"):
            raise errors.ApiError("VALUE_NOT_SUPPORTED", "platform", "%s=%s" % (key, platform[key]),
                           "every guest has ACPI, an APIC and PAE, and no SDL window")
    sound = platform.get("soundhw", "")
    if sound not in ("", SOUND_CARD):
        raise errors.ApiError("VALUE_NOT_SUPPORTED", "platform", "soundhw=" + sound,
                       "the one sound card is %s" % SOUND_CARD)
    offset = platform.get("rtc_timeoffset", "0")
    if not offset.lstrip("-").isdigit():
        raise errors.ApiError("INVALID_VALUE", "platform", "rtc_timeoffset=%s (seconds)" % offset)
    display = "auto"
    if "vnc" in platform:
        display = "vnc" if _parse_flag("vnc", platform["vnc"]) else "none"
    return dict(zip(PLATFORM_SOURCES, (
        _parse_flag("stdvga", platform.get("stdvga", "0")), platform.get("serial", ""),
        _parse_flag("localtime", platform.get("localtime", "0")), int(offset) != 0,
        bool(sound), display)))


# VM.other_config's auto_poweron key (docs/api.md, Autostart) / 1.0's auto_power_on.

def config_to_autostart(other_config):
    return other_config.get("auto_poweron") == "true"


def autostart_to_config(on, record):
    config = {k: v for k, v in (record.get("other_config") or {}).items()
              if k != "auto_poweron"}
    if on:
        config["auto_poweron"] = "true"
    return {"other_config": config}


# PIF.VLAN: the network's VLAN, a string ("" for none; the draft's) / an Int, -1 for none
# (1.0's PIF).

def vlan_to_tag(vlan):
    return int(vlan) if vlan else -1


def tag_to_vlan(tag, record=None):
    """A PIF's VLAN tag as its network's VLAN: -1 is none; a tag is 0 to 4094."""
    if tag == -1:
        return {"VLAN": ""}
    if not 0 <= tag <= 4094:
        raise errors.ApiError("VLAN_TAG_INVALID", str(tag))
    return {"VLAN": str(tag)}
