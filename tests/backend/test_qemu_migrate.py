"""Live migration between two QemuBackends of this machine (separate guest state
directories), over 127.0.0.1, with the tiny Linux guest running a counter in its shell.

One guest boots for the whole module's story: a cancelled migration first (the guest
runs on at the source, nothing is left at the target), then a completed one (the
counter, the guest's uptime and its disk carry on at the target).
"""

import dataclasses
import json
import subprocess

import pytest
from harness import READY, as_task, qemu_pids, requires_qemu, type_line
from qemutest import console, start_counting, ticks, wait_console, wait_ticks

from xen.xend.backend.base import BackendError
from xen.xend.util import progress

pytestmark = [pytest.mark.qemu, requires_qemu]

TOKEN = "migrated-disk-7f3a"


def disk_size(path):
    """The virtual size of the image at ``path``."""
    info = subprocess.run(["qemu-img", "info", "-U", "--output=json", path], check=True,
                          capture_output=True, text=True).stdout
    return json.loads(info)["virtual-size"]


def test_cancelled_then_live_migration_carries_the_guest(backend_factory, vms, linux_spec,
                                                         tmp_path):
    source, target = backend_factory(), backend_factory()
    disk = vms.disk(source)
    spec = linux_spec("shell", disks=[disk])
    here = dataclasses.replace(spec, state_dir=str(tmp_path / "target"))
    pid = start_counting(source, spec, TOKEN)

    # Cancelled as soon as it reports progress: the guest runs on at the source.
    incoming = target.migrate_receive(here, "127.0.0.1")
    assert incoming["uri"].startswith("tcp:127.0.0.1:")
    with as_task(lambda fraction: tracker.request_cancel()) as tracker, \
            pytest.raises(progress.Cancelled):
        source.migrate_send(spec.uuid, incoming["uri"], {})
    assert target.migrate_finish(spec.uuid, False) is None
    assert target.power_state(spec.uuid) is None
    assert qemu_pids(spec.uuid) == [pid]
    assert source.power_state(spec.uuid) == "Running"
    counted = len(ticks(spec))
    wait_ticks(spec, counted + 3)

    # Completed: the same guest carries on at the target.
    incoming = target.migrate_receive(here, "127.0.0.1")
    figures = source.migrate_send(spec.uuid, incoming["uri"], {})
    target.migrate_finish(spec.uuid, True)
    assert source.power_state(spec.uuid) is None
    assert target.power_state(spec.uuid) == "Running"
    assert qemu_pids(spec.uuid) == [incoming["pid"]] != [pid]
    assert figures["transferred_bytes"] > 0
    assert figures["total_time_ms"] >= figures["downtime_ms"] > 0
    before = ticks(spec)
    wait_ticks(here, 3)
    after = ticks(here)
    # The counter goes on from where it was (no tick lost but perhaps the one being
    # written at the switch); the guest's clock runs on: it did not boot again.
    assert before[-1][0] < after[0][0] <= before[-1][0] + 2
    assert after[0][1] >= before[-1][1]
    assert READY not in console(here)
    # The disk's contents, read from the image again (the guest's cache dropped).
    type_line(target, here.uuid, 'echo 3 > /proc/sys/vm/drop_caches; read -r l < /dev/vda; '
                            'echo "disk says $l"')
    wait_console(here, "disk says %s" % TOKEN)


def test_migration_with_storage_copy_moves_the_disk_into_the_targets_image(
        backend_factory, vms, linux_spec, tmp_path):
    source, target = backend_factory(), backend_factory()
    disk = vms.disk(source)
    spec = linux_spec("shell", disks=[disk])
    # The target's own image, made empty by the caller, of the same virtual size.
    theirs = dataclasses.replace(disk, path=vms.disk(target, name="target-disk").path)
    here = dataclasses.replace(spec, state_dir=str(tmp_path / "target"), disks=[theirs])
    source.start(spec, paused=False)
    wait_console(spec, READY)
    type_line(source, spec.uuid, "echo %s > /dev/vda; sync; echo written" % TOKEN)
    wait_console(spec, "\nwritten")

    incoming = target.migrate_receive(here, "127.0.0.1", storage="copy")
    assert incoming["nbd"]["exports"] == [disk.vbd]
    figures = source.migrate_send(spec.uuid, incoming["uri"],
                                  {"storage": "copy", "nbd": incoming["nbd"]})
    target.migrate_finish(spec.uuid, True)
    assert target.power_state(spec.uuid) == "Running"
    assert figures["transferred_bytes"] >= disk_size(disk.path)
    # The host sees the token in the target's image, which the guest reads from now on.
    raw = str(tmp_path / "target.raw")
    subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", theirs.path, raw], check=True)
    with open(raw, "rb") as f:
        assert f.read(len(TOKEN)) == TOKEN.encode()
    type_line(target, here.uuid, 'echo 3 > /proc/sys/vm/drop_caches; read -r l < /dev/vda; '
                                 'echo "disk says $l"')
    wait_console(here, "disk says %s" % TOKEN)


def test_unknown_storage_downtime_or_bandwidth_is_refused_before_anything_runs(backend, vms):
    spec = vms.spec()
    with pytest.raises(BackendError) as err:
        backend.migrate_receive(spec, "127.0.0.1", storage="nfs")
    assert err.value.params[:2] == ["storage", "nfs"]
    assert qemu_pids(spec.uuid) == []
    backend.start(spec, paused=False)
    for options, field in (({"storage": "nfs"}, "storage"), ({"downtime_ms": 0}, "downtime_ms"),
                           ({"max_bandwidth": -1}, "max_bandwidth")):
        with pytest.raises(BackendError) as err:
            backend.migrate_send(spec.uuid, "tcp:127.0.0.1:1", options)
        assert (err.value.code, err.value.params[0]) == ("VALUE_NOT_SUPPORTED", field)
    assert backend.power_state(spec.uuid) == "Running"
