"""VCPUs/params: a VM's credit-scheduler settings as one string, parsed and checked here
only (the API's validator and both backends use it).

The string is ``key=value`` pairs separated by whitespace or ``;``, e.g.
``weight=512 cap=50 cpumap0=0-1 cpumap1=all``:

* ``weight``: the VM's share of contended CPU time, 1..65535 (the credit scheduler's
  256 when absent);
* ``cap``: 0 (no cap) or the most CPU the whole VM may use, in percent of one CPU,
  up to VCPUs/max * 100;
* ``cpumapN``: the host CPUs vCPU N (0 <= N < VCPUs/max) may run on, as ``0-3,6`` or
  ``all`` (the default).

docs/api.md says the same for clients.
"""

import dataclasses
import re

WEIGHT_MAX = 65535
DEFAULT_WEIGHT = 256        # the credit scheduler's weight when none is set
_CPUS = re.compile(r"[0-9]+(?:-[0-9]+)?(?:,[0-9]+(?:-[0-9]+)?)*")


class ParamsError(ValueError):
    """A pair of VCPUs/params that is not allowed: ``pair`` and ``reason`` name it."""

    def __init__(self, pair, reason):
        super().__init__("%s (%s)" % (pair, reason))
        self.pair = pair
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class VcpuParams:
    """VCPUs/params, typed. 0 weight or cap and an absent affinity: unset."""
    weight: int = 0
    cap: int = 0
    affinity: tuple = ()     # ((vcpu, (cpu, ...)), ...), sorted by vCPU; "all" is absent

    def pinned(self, vcpu):
        """The CPUs vCPU ``vcpu`` is pinned to, or None (it may run on any)."""
        return dict(self.affinity).get(vcpu)


def parse_cpus(text):
    """``0-3,6`` -> (0, 1, 2, 3, 6); ``all`` -> None. ValueError otherwise."""
    if text == "all":
        return None
    if not _CPUS.fullmatch(text):
        raise ValueError(text)
    cpus = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        if int(high or low) < int(low):
            raise ValueError(text)
        cpus.update(range(int(low), int(high or low) + 1))
    return tuple(sorted(cpus))


def format_cpus(cpus):
    """(0, 1, 2, 3, 6) -> ``0-3,6``; None -> ``all``."""
    if cpus is None:
        return "all"
    runs, start = [], None
    for i, cpu in enumerate(cpus):
        if start is None:
            start = cpu
        if i + 1 == len(cpus) or cpus[i + 1] != cpu + 1:
            runs.append(str(start) if start == cpu else "%d-%d" % (start, cpu))
            start = None
    return ",".join(runs)


def parse(text, vcpus_max):
    """The VcpuParams of string ``text`` for a VM of ``vcpus_max`` vCPUs; ParamsError
    naming the first pair that is not allowed."""
    weight, cap, affinity = 0, 0, {}
    for pair in re.split(r"[\s;]+", text.strip()):
        if not pair:
            continue
        key, sep, value = pair.partition("=")
        if not sep:
            raise ParamsError(pair, "must be key=value: weight, cap or cpumapN")
        if key == "weight":
            if not value.isdigit() or not 1 <= int(value) <= WEIGHT_MAX:
                raise ParamsError(pair, "weight must be 1..%d" % WEIGHT_MAX)
            weight = int(value)
        elif key == "cap":
            most = 100 * vcpus_max
            if not value.isdigit() or int(value) > most:
                raise ParamsError(pair, "cap must be 0..%d: 0 for none, else percent of "
                                        "one CPU up to VCPUs/max * 100" % most)
            cap = int(value)
        elif key.startswith("cpumap") and key[6:].isdigit():
            vcpu = int(key[6:])
            if vcpu >= vcpus_max:
                raise ParamsError(pair, "vCPU %d: the VM has vCPUs 0..%d (VCPUs/max)"
                                  % (vcpu, vcpus_max - 1))
            try:
                cpus = parse_cpus(value)
            except ValueError:
                raise ParamsError(pair, "CPUs must be a list like 0-3,6 or all") from None
            if cpus is None:
                affinity.pop(vcpu, None)
            else:
                affinity[vcpu] = cpus
        else:
            raise ParamsError(pair, "unknown key %s: weight, cap or cpumapN" % key)
    return VcpuParams(weight, cap, tuple(sorted(affinity.items())))


def format(params):
    """The string of ``params`` (VcpuParams), as parse reads it."""
    pairs = (["weight=%d" % params.weight] if params.weight else []) + (
        ["cap=%d" % params.cap] if params.cap else [])
    pairs += ["cpumap%d=%s" % (vcpu, format_cpus(cpus)) for vcpu, cpus in params.affinity]
    return " ".join(pairs)
