"""A member of a pool on QEMU cut off from the database (docs/pool.md, "Host failure"):
its guest's QEMU is killed before the lease can expire, and stays gone once the database
is back, the VM stored Halted."""

import re

import pytest
from harness import STATE_WAIT, new_tiny_vm, qemu_pids, wait_until

pytestmark = pytest.mark.qemu


def test_a_fenced_host_kills_its_qemu_guest(postgres, make_daemon, tiny_guest, tmp_path):
    d = make_daemon(extra_config=postgres.daemon_config(str(tmp_path))
                    + "pool_lease_seconds = 3\n")
    api = d.api
    vm = new_tiny_vm(api, tiny_guest)
    api.VM.start(vm, False)
    assert qemu_pids(vm)
    postgres.stop()
    try:
        wait_until(lambda: not qemu_pids(vm), STATE_WAIT, "the guest's QEMU to be killed")
        fence = re.search(r"fenced, (-?[\d.]+) s before the lease can expire", d.log_text())
        assert fence and float(fence.group(1)) > 0
    finally:
        postgres.start()
    wait_until(lambda: api.VM.get_power_state(vm) == "Halted", STATE_WAIT,
               "the guest's record to be put right")
    assert not qemu_pids(vm)
