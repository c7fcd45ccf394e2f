"""VM configuration files for ``xm create`` and ``xm new``, read as data.

Two formats are accepted:

* the classic xm/xl syntax: ``key = value`` lines, a value being a quoted
  string, a number or a bracketed list of them, ``#`` starting a comment.
  Classic xm exec'd these files as Python; here a small tokenizer and parser
  read them, so a file can only ever produce values, never run code;
* a VM's ``to_XML`` output (a ``<VM>`` element, one child per field).

Both give a ``VmConfig``: the VM record to create (wire field names), the
disks and network interfaces to attach, and warnings about settings that were
ignored. Nothing here talks to the server; a ``ConfigError`` names the file
and line of the problem.
"""

import dataclasses
import os
import re
import xml.etree.ElementTree as ElementTree

from xen.xend.api import datamodel, xmltext
from xen.xend.api.types import Bool, Enum, Int, Map, Ref, Set, String, TypeMismatch

from .client import XmError
from .output import MIB

DEFAULT_BRIDGE = "xenbr0"

_VM = datamodel.CLASSES["VM"]


class ConfigError(XmError):
    """A configuration file that cannot be used; nothing has been created."""


@dataclasses.dataclass
class Disk:
    """A disk of the config: its existing image file (``file:``, ``tap:aio:``,
    ``tap:qcow2:``) or block device (``phy:``), adopted as a VDI that is that file, and
    a VBD. The server finds the image's format (raw or qcow2) itself."""
    path: str
    device: str
    mode: str            # vbd_mode: RW or RO
    driver: str          # driver_type
    write_shared: bool = False   # "w!" was asked for: attached like "w" (see MODES)
    block: bool = False          # phy:, a block device


@dataclasses.dataclass
class Vif:
    """A network interface: the VIF fields it sets and the bridge it connects to."""
    bridge: str
    record: dict
    ignored: list        # keys of the spec xm does not use (ip=, script=, ...)


@dataclasses.dataclass
class VmConfig:
    """What a config file asks for, checked but not yet created."""
    record: dict                                   # VM.create's record
    disks: list = dataclasses.field(default_factory=list)
    vifs: list = dataclasses.field(default_factory=list)
    warnings: list = dataclasses.field(default_factory=list)

    @property
    def name(self):
        return self.record["name_label"]


def load(path):
    """Read the configuration file ``path`` in either format."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError("cannot read %s: %s" % (path, e.strerror))
    except UnicodeDecodeError:
        raise ConfigError("%s is not a text file (UTF-8)" % path)
    if text.lstrip().startswith("<"):
        return from_xml(text, path)
    return from_settings(parse_settings(text, path), path)


# --------------------------------------------------------------------------
# The xm/xl syntax: tokens, then assignments.

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\f]+|\\\r?\n)
  | (?P<comment>\#[^\n]*)
  | (?P<newline>\n)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|[0-9]+(?:\.[0-9]*)?))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[=\[\],;])
""", re.VERBOSE)

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}


def _tokens(text, filename):
    """Yield (kind, value, line); kind is string, number, name, punct, end or eof."""
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            what = ("unterminated string" if text[pos] in "\"'"
                    else "unexpected character %r" % text[pos])
            raise ConfigError("%s:%d: %s" % (filename, line, what))
        kind, value = m.lastgroup, m.group()
        if kind == "string":
            yield kind, re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), e.group()),
                               value[1:-1]), line
        elif kind == "number":
            hexadecimal = value.lstrip("+-")[:2].lower() == "0x"
            yield kind, (float(value) if "." in value
                         else int(value, 16) if hexadecimal else int(value)), line
        elif kind in ("name", "punct"):
            yield ("end" if value == ";" else kind), value, line
        elif kind == "newline":
            yield "end", "\n", line
        line += value.count("\n")
        pos = m.end()
    yield "eof", "", line


class _Parser:
    """Assignments from tokens. Tokens are read as the parser goes, so the
    first problem in the file is the one reported."""

    def __init__(self, text, filename):
        self.filename = filename
        self.tokens = _tokens(text, filename)
        self.next = None

    def peek(self):
        if self.next is None:
            self.next = next(self.tokens)
        return self.next

    def take(self):
        token = self.peek()
        self.next = None
        return token

    def fail(self, line, message):
        raise ConfigError("%s:%d: %s" % (self.filename, line, message))

    def assignments(self):
        out = {}
        while True:
            kind, value, line = self.take()
            if kind == "eof":
                return out
            if kind == "end":
                continue
            if kind != "name":
                self.fail(line, "expected a setting name, found %r" % value)
            if self.take()[:2] != ("punct", "="):
                self.fail(line, "expected '=' after %s" % value)
            out[value] = self.value(value)
            kind, after, line = self.take()
            if kind not in ("end", "eof"):
                self.fail(line, "unexpected %r after the value of %s" % (after, value))
            if kind == "eof":
                return out

    def value(self, key):
        kind, value, line = self.take()
        if kind in ("string", "number"):
            return value
        if (kind, value) == ("punct", "["):
            return self.items(key)
        if kind == "name":
            self.fail(line, "the value of %s must be quoted: %s = \"%s\"" % (key, key, value))
        self.fail(line, "expected a value for %s" % key)

    def items(self, key):
        items = []
        while True:
            kind, value, line = self.skip_newlines()
            if (kind, value) == ("punct", "]"):
                self.take()
                return items
            items.append(self.value(key))
            kind, value, line = self.skip_newlines()
            self.take()
            if (kind, value) == ("punct", "]"):
                return items
            if (kind, value) != ("punct", ","):
                self.fail(line, "expected ',' or ']' in the list of %s" % key)

    def skip_newlines(self):
        """Lists may span lines: skip line ends; returns the next token (not taken)."""
        while self.peek()[:2] == ("end", "\n"):
            self.take()
        if self.peek()[0] == "eof":
            self.fail(self.peek()[2], "a list is not closed with ']'")
        return self.peek()


def parse_settings(text, filename="<config>"):
    """The assignments of an xm/xl configuration as {key: str | int | float | list}."""
    return _Parser(text, filename).assignments()


# --------------------------------------------------------------------------
# From settings to a VmConfig.

def _text(filename, key, value):
    if not isinstance(value, str):
        raise ConfigError("%s: %s must be a quoted string" % (filename, key))
    return value


def _whole(filename, key, value):
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise ConfigError("%s: %s must be a whole number, not %r" % (filename, key, value))
    return value


def _flag(filename, key, value):
    if value in (0, 1):
        return bool(value)
    raise ConfigError("%s: %s must be 0 or 1" % (filename, key))


# xm's spellings of the on_* actions -> the API's enum values.
_ACTION_ALIASES = {"rename-restart": "rename_restart", "coredump-destroy": "coredump_and_destroy",
                   "coredump-restart": "coredump_and_restart"}


def _action(field):
    enum = _VM.field(field).type

    def convert(filename, key, value):
        value = _text(filename, key, value)
        action = _ACTION_ALIASES.get(value, value)
        if action not in enum.values:
            # Listed as a config file spells them (API spellings are accepted too).
            spellings = {api: xm for xm, api in _ACTION_ALIASES.items()}
            raise ConfigError("%s: %s = '%s' is not one of %s" % (
                filename, key, value,
                ", ".join(sorted(spellings.get(v, v) for v in enum.values))))
        return action
    return convert


# Settings that set one VM field each: key -> (wire field, converter).
_SIMPLE = {
    "name": ("name_label", _text),
    "description": ("name_description", _text),
    "kernel": ("kernel_kernel", _text),
    "ramdisk": ("kernel_initrd", _text),
    "builder": ("builder", _text),
    "cdrom": ("bios_cdrom", _text),
    "serial": ("platform_serial", _text),
    "localtime": ("platform_localtime", _flag),
    "stdvga": ("platform_std_VGA", _flag),
    "uuid": ("uuid", _text),
    "on_poweroff": ("actions_after_shutdown", _action("actions_after_shutdown")),
    "on_reboot": ("actions_after_reboot", _action("actions_after_reboot")),
    "on_crash": ("actions_after_crash", _action("actions_after_crash")),
}

# Settings with rules of their own, handled in from_settings.
_SPECIAL = ("memory", "maxmem", "root", "extra", "boot", "disk", "vif", "vcpus", "maxvcpus")

# boot = "dc": its first letter is the device to boot from.
_BOOT_DEVICES = {"a": "floppy", "c": "HD", "d": "CDROM"}


def from_settings(settings, filename="<config>"):
    """Build a VmConfig from parsed xm/xl settings."""
    record, warnings = {}, []
    for key, value in settings.items():
        if key in _SIMPLE:
            field, convert = _SIMPLE[key]
            value = convert(filename, key, value)
            if _VM.field(field).qual == datamodel.RO_RUN:
                warnings.append("%s: %s = %s is ignored: the server sets VM %s itself"
                                % (filename, key, value, _VM.field(field).name))
            else:
                record[field] = value
        elif key not in _SPECIAL:
            warnings.append("%s: %s is not a setting xm knows; ignored" % (filename, key))
    if not record.get("name_label"):
        raise ConfigError("%s: the VM needs a name: name = \"...\"" % filename)
    record.update(_memory(settings, filename))
    record.update(_vcpus(settings, filename))
    record.update(_boot(settings, record, filename))
    config = VmConfig(record, warnings=warnings)
    for spec in _strings(settings.get("disk", []), "disk", filename):
        disk = parse_disk(spec, filename)
        if isinstance(disk, str):          # a CD-ROM image is the VM's bios/cdrom
            record["bios_cdrom"] = disk
        else:
            config.disks.append(disk)
            if disk.write_shared:
                warnings.append("%s: disk '%s': mode w! is attached read-write like w, not "
                                "shared: the server refuses to start a VM with a disk that "
                                "another running or suspended VM writes (VDI_IN_USE)"
                                % (filename, spec))
    for spec in _strings(settings.get("vif", []), "vif", filename):
        vif = parse_vif(spec, filename)
        vif.record["device"] = "eth%d" % len(config.vifs)
        config.vifs.append(vif)
        if vif.ignored:
            warnings.append("%s: vif '%s': ignored: %s"
                            % (filename, spec, "; ".join(vif_ignored(vif.ignored))))
    devices = [d.device for d in config.disks]
    for device in devices:
        if devices.count(device) > 1:
            raise ConfigError("%s: two disks use the device %s" % (filename, device))
    return config


def _vcpus(settings, filename):
    """vcpus is what the VM starts with; maxvcpus (as xl's) the most it may be given
    live, vcpus when absent."""
    fields = {}
    if "vcpus" in settings:
        fields["VCPUs_max"] = _whole(filename, "vcpus", settings["vcpus"])
    if "maxvcpus" in settings:
        most = _whole(filename, "maxvcpus", settings["maxvcpus"])
        if fields.get("VCPUs_max", 0) > most:
            raise ConfigError("%s: vcpus = %d is more than maxvcpus = %d"
                              % (filename, fields["VCPUs_max"], most))
        if "VCPUs_max" in fields:
            fields["VCPUs_at_startup"] = fields["VCPUs_max"]
        fields["VCPUs_max"] = most
    return fields


def _strings(value, key, filename):
    """A list of strings (a single string counts as a list of one)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ConfigError("%s: %s must be a list of quoted strings" % (filename, key))
    return items


def _memory(settings, filename):
    """memory (MiB) is what the VM gets; maxmem (MiB) is the most it may ever get."""
    if "memory" not in settings and "maxmem" not in settings:
        return {}
    memory = _whole(filename, "memory", settings.get("memory", settings.get("maxmem")))
    maxmem = _whole(filename, "maxmem", settings.get("maxmem", memory))
    if memory == 0:
        raise ConfigError("%s: memory must be at least 1 (MiB)" % filename)
    if maxmem < memory:
        raise ConfigError("%s: maxmem = %d is below memory = %d" % (filename, maxmem, memory))
    out = {"memory_static_max": maxmem * MIB, "memory_dynamic_max": memory * MIB,
           "memory_dynamic_min": memory * MIB}
    # The API's default static minimum may be above a small guest's memory.
    static_min = _VM.field("memory_static_min").default_value()
    if memory * MIB < static_min:
        out["memory_static_min"] = memory * MIB
    return out


def _boot(settings, record, filename):
    """A kernel means the external-kernel boot; anything else boots through the BIOS."""
    out = {}
    args = []
    if "root" in settings:
        args.append("root=" + _text(filename, "root", settings["root"]))
    if "extra" in settings:
        args.append(_text(filename, "extra", settings["extra"]))
    if args:
        out["kernel_args"] = " ".join(args)
    if record.get("kernel_kernel"):
        out["boot_method"] = "kernel_external"
        return out
    out["boot_method"] = "bios"
    if "boot" in settings:
        boot = _text(filename, "boot", settings["boot"])
        if not boot or boot[0] not in _BOOT_DEVICES:
            raise ConfigError("%s: boot = '%s': the first letter must be one of a (floppy), "
                              "c (hard disk), d (CD-ROM)" % (filename, boot))
        out["bios_boot"] = _BOOT_DEVICES[boot[0]]
    return out


# The prefixes of a disk line's target: an image file, or a block device (phy:).
DISK_KINDS = ("file", "phy", "tap", "tap2")


def parse_disk(spec, filename="<config>"):
    """'file:/path/img,hda,w' -> a Disk; a ',hdc:cdrom,r' entry -> the image's path."""
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) != 3 or ":" not in parts[0]:
        raise ConfigError("%s: disk '%s' is not 'file:PATH,DEVICE,MODE'" % (filename, spec))
    target, device, mode = parts
    kind, _, path = target.partition(":")
    if kind in ("tap", "tap2"):          # tap:aio:/path, tap:qcow2:/path: an image file too
        _, _, path = path.partition(":")
    elif kind not in DISK_KINDS:
        raise ConfigError("%s: disk '%s': file:, phy:, tap:aio: and tap:qcow2: disks are "
                          "supported, not %s:" % (filename, spec, kind))
    if kind == "phy" and path and not path.startswith("/"):
        path = "/dev/" + path            # classic xm: phy:sdb1 is /dev/sdb1
    if not path:
        raise ConfigError("%s: disk '%s' names no file" % (filename, spec))
    parsed = parse_device(device)
    if parsed is None or mode not in MODES:
        raise ConfigError("%s: disk '%s': the device must be like hda, xvda, ioemu:hda or "
                          "hdc:cdrom and the mode w, w! or r" % (filename, spec))
    device, driver, cdrom = parsed
    path = os.path.abspath(path)
    if cdrom:
        return path
    return Disk(path, device, MODES[mode], driver, write_shared=mode == "w!",
                block=kind == "phy")


_DEVICE = re.compile(r"^(ioemu:)?([a-z]+[0-9]*[a-z]?[0-9]*)(:cdrom)?$")

# xm's disk modes -> vbd_mode. Classic xm's "w!" let several running VMs write one
# disk; the server never does (two writers would corrupt a qcow2 image: VDI_IN_USE), so
# "w!" is read-write like "w", with a warning, and its VDI is not made sharable.
MODES = {"w": "RW", "w!": "RW", "r": "RO"}


def parse_device(text):
    """'hda', 'ioemu:hda' or 'hdc:cdrom' -> (device, driver, is a CD-ROM); None if malformed."""
    m = _DEVICE.match(text)
    if m is None:
        return None
    emulated = bool(m.group(1)) or is_ide_name(m.group(2))
    return m.group(2), "ioemu" if emulated else "paravirtualised", bool(m.group(3))


def is_ide_name(device):
    """Whether ``device`` (hda..hdd, a partition too) names one of the four IDE devices,
    an emulated disk as in xm, not a paravirtualised one."""
    return re.fullmatch(r"hd[a-d][0-9]*", device) is not None


_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
_VIF_TYPES = {"ioemu": "ioemu", "netfront": "paravirtualised", "vif": "paravirtualised",
              "paravirtualised": "paravirtualised"}


def parse_vif(spec, filename="<config>"):
    """'mac=00:16:3e:..,bridge=br0,...' -> a Vif (an empty spec is all defaults)."""
    record, ignored, bridge = {}, [], DEFAULT_BRIDGE
    for item in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep:
            raise ConfigError("%s: vif '%s': '%s' is not key=value" % (filename, spec, item))
        if key == "mac":
            if not _MAC.match(value):
                raise ConfigError("%s: vif '%s': bad MAC address %s" % (filename, spec, value))
            record["MAC"] = value.lower()
        elif key == "bridge":
            bridge = value
        elif key == "vifname":
            record["name"] = value
        elif key == "type":
            if value not in _VIF_TYPES:
                raise ConfigError("%s: vif '%s': type must be ioemu or netfront"
                                  % (filename, spec))
            record["type"] = _VIF_TYPES[value]
        elif key == "mtu":
            record["MTU"] = _whole(filename, "vif mtu", value)
        elif key == "model":
            record["model"] = value       # the server checks it against its backend's
        else:
            ignored.append(key)
    if not bridge:
        raise ConfigError("%s: vif '%s': empty bridge" % (filename, spec))
    return Vif(bridge, record, ignored)


# Classic vif keys xm knows but cannot honour, and why: the daemon runs no dom0
# scripts and manages no guest addresses; its NICs are ports of their network's bridge.
VIF_UNSUPPORTED = {
    "ip": "the daemon neither assigns nor filters guests' addresses: set it in the guest",
    "script": "the daemon runs no vif scripts: the NIC is a port of its network's bridge",
    "rate": "the daemon does not limit a NIC's bandwidth",
    "backend": "the NIC's back end is always this host",
}


def vif_ignored(keys):
    """Why each of ``keys`` (a Vif's ignored keys) is not used: 'ip= (why)' phrases."""
    return ["%s= (%s)" % (key, VIF_UNSUPPORTED.get(key, "not a vif key xm knows"))
            for key in keys]


# --------------------------------------------------------------------------
# to_XML.

def from_xml(text, filename="<config>"):
    """A VmConfig from a VM's to_XML: every field a client may give at creation.

    Fields the server computes (uuid, power_state, ...) are skipped; so are the
    VM's VBDs and VIFs, which name objects of the server the XML came from.
    """
    if re.search(r"<!(DOCTYPE|ENTITY)", text, re.IGNORECASE):
        raise ConfigError("%s: document type declarations are not accepted" % filename)
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as e:
        raise ConfigError("%s: not well-formed XML: %s" % (filename, e))
    if root.tag != "VM":
        raise ConfigError("%s: the root element is <%s>; a VM's to_XML is a <VM> element"
                          % (filename, root.tag))
    record, warnings = {}, []
    for child in root:
        field = _VM.field(child.tag)
        if field is None:
            raise ConfigError("%s: <%s> is not a field of VM" % (filename, child.tag))
        text = child.text or ""
        if field.qual == datamodel.RO_RUN:
            continue
        if isinstance(field.type, Set) and isinstance(field.type.item, Ref):
            if text.strip():
                warnings.append("%s: <%s> names objects of the server the XML came from; "
                                "not copied"
                                % (filename, child.tag))
            continue
        record[field.wire] = _xml_value(field, text, filename)
    if not record.get("name_label"):
        raise ConfigError("%s: the VM has no <name_label>" % filename)
    return VmConfig(record, warnings=warnings)


def _xml_value(field, text, filename):
    """A field's value from its element text (spec §2.15: everything is text)."""
    t = field.type
    if isinstance(t, Set) and isinstance(t.item, Enum):
        items = xmltext.decode_set(text)
        bad = [i for i in items if i not in t.item.values]
        if bad:
            raise ConfigError("%s: <%s>: %s not a %s"
                              % (filename, field.wire, ", ".join(bad), t.item.name))
        return items
    if t is Int:
        try:
            return t.from_wire(text.strip())
        except TypeMismatch:
            raise ConfigError("%s: <%s> must be a whole number, not '%s'"
                              % (filename, field.wire, text)) from None
    if t is Bool:
        if text not in ("true", "false"):
            raise ConfigError("%s: <%s> must be true or false" % (filename, field.wire))
        return text == "true"
    if isinstance(t, Enum):
        if text not in t.values:
            raise ConfigError("%s: <%s> must be one of %s"
                              % (filename, field.wire, ", ".join(t.values)))
        return text
    if t is String:
        return text
    if isinstance(t, Map) and t.key is t.value is String:
        try:
            return xmltext.decode_map(text)
        except ValueError:
            raise ConfigError("%s: <%s> is not a map of strings: '%s'"
                              % (filename, field.wire, text)) from None
    raise ConfigError("%s: <%s> (%s) cannot be read from XML by xm"
                      % (filename, field.wire, t.spec_name()))
