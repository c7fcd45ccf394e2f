"""VCPUs/params parsed and written back (xen/xend/backend/vcpuparams.py)."""

import pytest

from xen.xend.backend import vcpuparams
from xen.xend.backend.vcpuparams import ParamsError, VcpuParams


def test_pairs_separated_by_whitespace_or_semicolons_and_written_back_in_one_spelling():
    params = vcpuparams.parse(" cap=0;weight=256\tcpumap3=6,0-2;cpumap1=all cpumap0=1 ", 4)
    assert params == VcpuParams(weight=256, cap=0, affinity=((0, (1,)), (3, (0, 1, 2, 6))))
    assert params.pinned(3) == (0, 1, 2, 6) and params.pinned(1) is None
    assert vcpuparams.format(params) == "weight=256 cpumap0=1 cpumap3=0-2,6"
    assert vcpuparams.parse(vcpuparams.format(params), 4) == params
    assert vcpuparams.parse("", 1) == VcpuParams()


@pytest.mark.parametrize("text, vcpus_max, pair", [
    ("cap=101", 1, "cap=101"), ("cap=-1", 2, "cap=-1"), ("weight=65536", 1, "weight=65536"),
    ("cpumap1=0", 1, "cpumap1=0"), ("cpumap0=0-", 1, "cpumap0=0-"),
    ("cpumapx=0", 1, "cpumapx=0"), ("=1", 1, "=1"),
])
def test_a_pair_out_of_range_is_named(text, vcpus_max, pair):
    with pytest.raises(ParamsError) as err:
        vcpuparams.parse("weight=1 " + text, vcpus_max)
    assert err.value.pair == pair
