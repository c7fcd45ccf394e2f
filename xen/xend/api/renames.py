"""The conversions between the two names of one stored value (datamodel ``Renamed``).

Xen-API 1.0 renamed some of the draft's fields and changed how a few of them are
spelled on the wire (a string of pairs became a map, sectors became bytes). The
value is stored once, under the draft's name; these pure functions turn it into
the 1.0 spelling (``read``: the source values in, the value out) and back
(``write``: the value and the stored record in, ``{source: value}`` out).
"""

import calendar
import time

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


# task.progress: a fraction 0.0-1.0 (the later API's) / a percentage 0-100 (1.0).

def fraction_to_percent(fraction):
    return int(fraction * 100)


# session.last_active: an XML-RPC dateTime (the later API's) / seconds since the epoch (1.0).

def stamp_to_seconds(stamp):
    if not stamp:
        return 0
    return calendar.timegm(time.strptime(stamp, "%Y%m%dT%H:%M:%SZ"))


# host_cpu.features: a set of cpu_feature names (0.2) / a bitmap (1.0): 32-bit words in
# hexadecimal joined by ":", bit N of the whole being the enumeration's N-th value.

_FEATURE_BITS = {name: i for i, name in enumerate(cpu_feature.values)}


def features_to_bitmap(features):
    bits = 0
    for name in features:
        bits |= 1 << _FEATURE_BITS[name]
    words = (len(_FEATURE_BITS) + 31) // 32
    return ":".join("%08x" % ((bits >> (32 * i)) & 0xFFFFFFFF) for i in range(words))
