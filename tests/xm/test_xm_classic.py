"""docs/xm.md's table of Xen 3.1's xm commands agrees with the commands xm has."""

import os
import re

from harness import ROOT

from xen.xm import commands

# Every command of Xen 3.1's xm (its SUBCOMMAND_HELP), the yardstick the table answers.
CLASSIC = """
addlabel block-attach block-configure block-detach block-list cfgbootpolicy console create
debug-keys delete destroy dmesg domid domname dry-run dump-core dumppolicy getlabel help info
labels list loadpolicy log makepolicy mem-max mem-set migrate network-attach network-detach
network-list new pause reboot rename resources restore resume rmlabel save sched-credit
sched-sedf serve shell shutdown start suspend sysrq top trigger unpause uptime vcpu-list
vcpu-pin vcpu-set vnet-create vnet-delete vnet-list vtpm-list
""".split()

ROW = re.compile(r"^\| `([a-z-]+)` \| (yes|differently|no) \|(.*)\|$")


def classic_table():
    """{command: (status, how)} from the section "Classic xm commands" of docs/xm.md."""
    with open(os.path.join(ROOT, "docs", "xm.md")) as f:
        text = f.read()
    section = text.split("## Classic xm commands", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): (m.group(2), m.group(3).strip())
            for m in map(ROW.match, section.splitlines()) if m}


def test_every_classic_command_has_one_row():
    assert len(CLASSIC) == 59
    assert sorted(classic_table()) == sorted(CLASSIC)


def test_the_rows_say_what_xm_has():
    for name, (status, how) in classic_table().items():
        present = name == "help" or name in commands.COMMANDS
        assert present == (status != "no"), (name, status)
        # A difference or an absence is explained; a plain yes may be.
        assert how or status == "yes", name
