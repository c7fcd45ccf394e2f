"""xm's VM commands against the real daemon: list, create/new, the lifecycle, settings."""

import json
import os
import re
import signal

from harness import MIB, ROOT, STATE_WAIT, Daemon, crash_sim_guest, guest_records, wait_until
from xmtools import Shell, table

from xen.xend.api.lifecycle import CONTROL_DOMAIN
from xen.xm.output import vm_state


def new_vm(xm, tmp_path, name, extra=""):
    """A Halted VM made with "xm new"; returns its UUID."""
    cfg = tmp_path / (name + ".cfg")
    cfg.write_text('name = "%s"\nmemory = 64\n%s' % (name, extra))
    out = xm("new", str(cfg))
    assert out.startswith("Created VM %s (" % name)
    return out.strip().rsplit("(", 1)[1].rstrip(")")


def wait_for_state(root, vm, state, timeout=STATE_WAIT):
    """Wait until ``vm`` is in ``state``."""
    wait_until(lambda: root.VM.get_power_state(vm) == state, timeout,
               lambda: "%s to be %s (it is %s)" % (vm, state, root.VM.get_power_state(vm)))


def row(xm, name):
    """The "xm list" row of one VM."""
    rows = table(xm("list", name))
    assert len(rows) == 1
    return rows[0]


def test_list_columns_ids_and_states(xm, root, tmp_path):
    for name in ("ls-a", "ls-b", "ls-c"):
        new_vm(xm, tmp_path, name)
    xm("start", "ls-b")
    xm("start", "--paused", "ls-c")
    out = xm("list", "ls-a", "ls-b", "ls-c")
    assert out.splitlines()[0].split() == ["Name", "ID", "Mem", "VCPUs", "State", "Time(s)"]
    rows = {r["Name"]: r for r in table(out)}
    assert rows["ls-a"]["ID"] == "-" and rows["ls-a"]["State"] == "------"
    assert rows["ls-a"]["Mem"] == "64"
    assert rows["ls-b"]["State"] in ("r-----", "-b----")
    assert rows["ls-c"]["State"] == "--p---"
    assert {rows["ls-b"]["ID"], rows["ls-c"]["ID"]} == {"1", "2"}


def test_list_shows_domain0_domids_cpu_time_and_filters_by_state(xm, root, tmp_path):
    vm = new_vm(xm, tmp_path, "dom-run")
    new_vm(xm, tmp_path, "dom-halted")
    xm("start", "dom-run")
    rows = table(xm("list"))
    assert rows[0]["Name"] == "Domain-0" and rows[0]["ID"] == "0"
    assert rows[0]["State"] == "r-----" and int(rows[0]["Mem"]) > 0
    assert int(rows[0]["VCPUs"]) == len(root.host_cpu.get_all())
    assert float(rows[0]["Time(s)"]) > 0.0      # the machine's busy CPU seconds, read
    assert int(rows[0]["Mem"]) == int(root.VM.get_memory_actual(CONTROL_DOMAIN)) // MIB
    (named,) = table(xm("list", "Domain-0"))     # the control domain's VM, by name
    assert (named["Name"], named["ID"], named["State"]) == ("Domain-0", "0", "r-----")
    mine = {r["Name"]: r for r in rows}
    assert mine["dom-run"]["ID"] == root.VM.get_domid(vm)
    assert float(mine["dom-run"]["Time(s)"]) >= 0.0
    assert mine["dom-halted"]["ID"] == "-" and mine["dom-halted"]["Time(s)"] == "0.0"
    running = [r["Name"] for r in table(xm("list", "--state", "running"))]
    assert running[0] == "Domain-0" and "dom-run" in running and "dom-halted" not in running
    halted = [r["Name"] for r in table(xm("list", "--state", "Halted"))]
    assert "dom-halted" in halted and "Domain-0" not in halted and "dom-run" not in halted
    assert [r["Name"] for r in table(xm("list", "--state", "running", "dom-halted"))] == []
    err = xm.fails("list", "--state", "asleep")
    assert "invalid choice: 'asleep'" in err and "crashed" in err and "running" in err


def test_a_crashed_guest_kept_shows_c(xm, root, tmp_path, daemon):
    vm = new_vm(xm, tmp_path, "dom-crash", 'on_crash = "preserve"\n')
    xm("start", "dom-crash")
    crash_sim_guest(daemon, vm)
    wait_until(lambda: root.VM.get_crashed(vm), STATE_WAIT, "the guest to be kept crashed")
    assert root.VM.get_power_state(vm) == "Paused"
    assert row(xm, "dom-crash")["State"] == "----c-"
    assert "dom-crash" in [r["Name"] for r in table(xm("list", "--state", "crashed"))]
    assert "dom-crash" not in [r["Name"] for r in table(xm("list", "--state", "paused"))]
    xm("destroy", "dom-crash")
    assert root.VM.get_crashed(vm) is False
    assert row(xm, "dom-crash")["State"] == "------"


def test_domid_domname_and_ids_wherever_a_vm_is_named(xm, root, tmp_path):
    vm = new_vm(xm, tmp_path, "dom-ids")
    xm("start", "dom-ids")
    domid = root.VM.get_domid(vm)
    assert xm("domid", "dom-ids").strip() == domid
    assert xm("domname", domid).strip() == "dom-ids"
    assert xm("domname", "0").strip() == "Domain-0"
    assert xm("domid", "Domain-0").strip() == "0"
    assert row(xm, domid)["Name"] == "dom-ids"          # an ID names the VM in xm
    xm("pause", domid)
    assert root.VM.get_power_state(vm) == "Paused"
    # A name comes first: a VM named like another's ID is found by its name.
    new_vm(xm, tmp_path, domid)
    assert xm.fails("domid", domid).strip() == "Error: %s is Halted; it has no domain ID" % domid
    assert xm.fails("domname", "99999").strip() == "Error: there is no VM named '99999'"


def test_uptime_of_resident_vms(xm, root, tmp_path):
    new_vm(xm, tmp_path, "up-run")
    new_vm(xm, tmp_path, "up-halted")
    xm("start", "up-run")
    rows = {r["Name"]: r for r in table(xm("uptime"))}
    assert "up-halted" not in rows
    # The control domain's VM, up since the machine booted (perhaps days: spaces).
    line = next(ln for ln in xm("uptime").splitlines() if ln.startswith("Domain-0 "))
    assert re.fullmatch(r"Domain-0\s+0\s+(\d+ days?, )?\d+:\d\d:\d\d", line.strip()), line
    assert re.fullmatch(r"\d+:\d\d:\d\d", rows["up-run"]["Uptime"]), rows
    named = table(xm("uptime", "up-run", "up-halted"))
    assert [r["Uptime"] for r in named][1] == "-"


def test_top_without_a_terminal_prints_samples_and_exits(xm, root, tmp_path):
    new_vm(xm, tmp_path, "top-run")
    xm("start", "top-run")
    rows = table(xm("top"))
    assert "top-run" in [r["NAME"] for r in rows]
    assert (rows[0]["NAME"], rows[0]["ID"]) == ("Domain-0", "0")
    assert int(rows[0]["VCPUS"]) == len(root.host_cpu.get_all())
    assert set(rows[0]) >= {"CPU(sec)", "CPU(%)", "MEM(k)", "VCPUS", "NETRX(k/s)"}
    samples = [json.loads(line) for line in
               xm("top", "--json", "--iterations", "2", "--delay", "0.1").splitlines()]
    assert len(samples) == 2 and "top-run" in [r["NAME"] for r in samples[1]]
    assert "is not a number of seconds" in xm.fails("top", "--delay", "0")


def test_top_at_a_terminal_quits_on_q_and_restores_the_terminal(daemon, root, tmp_path, xm):
    new_vm(xm, tmp_path, "top-tty")
    xm("start", "top-tty")
    shell = Shell(daemon.socket)
    try:
        modes = shell.run("stty -a")
        shell.xm("top", "--delay", "0.2")
        shell.expect("top-tty")
        shell.expect("xm top - ")       # it refreshes
        shell.child.send("q")
        shell.expect_prompt()
        assert shell.run("stty -a") == modes
    finally:
        shell.close()


def test_list_json_and_long(xm, root, tmp_path):
    uuid = new_vm(xm, tmp_path, "ls-json")
    records = json.loads(xm("list", "--json"))
    mine = [r for r in records if r["uuid"] == uuid]
    assert mine and mine[0]["name_label"] == "ls-json"
    assert mine[0]["memory_dynamic_max"] == 64 * MIB          # a number, not a string
    assert mine[0]["power_state"] == "Halted"
    fields = {}
    for line in xm("list", "--long", "ls-json").splitlines():
        key, _, value = line.partition(" : ")
        fields[key.strip(" :")] = value
    assert fields["uuid"] == uuid and fields["name_label"] == "ls-json"
    assert fields["memory_dynamic_max"] == str(64 * MIB)


def test_list_of_a_missing_vm_is_an_error(xm):
    err = xm.fails("list", "no-such-vm")
    assert err.strip() == "Error: there is no VM named 'no-such-vm'"


def test_ambiguous_name_lists_the_uuids(xm, root):
    refs = [root.VM.create({"name_label": "twin"}) for _ in range(2)]
    err = xm.fails("start", "twin")
    assert "2 VMs are named 'twin'" in err
    for ref in refs:
        assert ref in err
    xm("start", refs[0])                                       # a UUID always works
    assert root.VM.get_power_state(refs[0]) == "Running"


def test_lifecycle(xm, root, tmp_path):
    vm = new_vm(xm, tmp_path, "life")
    xm("start", "life")
    assert root.VM.get_power_state(vm) == "Running"
    xm("pause", "life")
    assert row(xm, "life")["State"] == "--p---"
    xm("unpause", "life")
    xm("reboot", "-w", "life")
    assert root.VM.get_power_state(vm) == "Running"
    xm("suspend", "life")
    assert root.VM.get_power_state(vm) == "Suspended"
    assert row(xm, "life")["State"] == "---s--" and row(xm, "life")["ID"] == "-"
    xm("resume", "-p", "life")
    assert root.VM.get_power_state(vm) == "Paused"
    xm("destroy", "life")
    assert root.VM.get_power_state(vm) == "Halted"
    xm("start", "-p", "life")
    xm("unpause", "life")
    xm("shutdown", "-w", "life")
    assert root.VM.get_power_state(vm) == "Halted"
    xm("start", "life")
    xm("shutdown", "life")                # returns at once: the shutdown goes on
    wait_for_state(root, vm, "Halted")
    xm("delete", "life")
    assert vm not in root.VM.get_all()


def test_bad_power_state_is_a_sentence_and_exit_1(xm, root, tmp_path):
    new_vm(xm, tmp_path, "bps")
    xm("start", "bps")
    err = xm.fails("delete", "bps")
    assert err.strip() == "Error: VM_BAD_POWER_STATE: bps is Running; this needs Halted"
    err = xm.fails("unpause", "bps")
    assert err.strip() == "Error: VM_BAD_POWER_STATE: bps is Running; this needs Paused"
    xm("destroy", "bps")
    err = xm.fails("destroy", "bps")
    assert "bps is Halted; this needs Running or Paused or" in err


def test_template_cannot_start(xm, root):
    vm = root.VM.create({"name_label": "tmpl", "is_a_template": True})
    err = xm.fails("start", "tmpl")
    assert err.strip().startswith("Error: VM_IS_TEMPLATE: tmpl is a template")
    assert root.VM.get_power_state(vm) == "Halted"


def test_clone_and_rename(xm, root, tmp_path):
    disk = tmp_path / "clone.img"
    disk.write_bytes(b"\0" * 4096)
    vm = new_vm(xm, tmp_path, "orig", "disk = ['file:%s,xvda,w']\n" % disk)
    new = xm("clone", "orig", "copy").strip()
    assert new in root.VM.get_all() and new != vm
    assert root.VM.get_name_label(new) == "copy"
    vdi = root.VBD.get_VDI(root.VM.get_VBDs(new)[0])
    assert root.VDI.get_parent(vdi) == root.VBD.get_VDI(root.VM.get_VBDs(vm)[0])
    err = xm.fails("clone", "orig", "copy")
    assert "a VM named 'copy' already exists" in err
    xm("rename", "copy", "copy2")
    assert root.VM.get_name_label(new) == "copy2"
    assert "a VM named 'orig' already exists" in xm.fails("rename", "copy2", "orig")
    xm("start", "orig")
    assert "orig is Running; this needs Halted" in xm.fails("clone", "orig", "copy3")


def test_clone_gives_vifs_fresh_macs(xm, root, tmp_path):
    vm = new_vm(xm, tmp_path, "macs", "vif = ['mac=00:16:3e:01:02:03,bridge=clonebr']\n")
    new = xm("clone", "macs", "macs-copy").strip()
    mac = root.VIF.get_MAC(root.VM.get_VIFs(new)[0])
    assert mac and mac != root.VIF.get_MAC(root.VM.get_VIFs(vm)[0])


def test_mem_set(xm, root, tmp_path):
    cfg = tmp_path / "mem.cfg"
    cfg.write_text('name = "mem"\nmemory = 256\nmaxmem = 512\n')
    xm("new", str(cfg))
    vm = root.VM.get_by_name_label("mem")[0]
    xm("mem-set", "mem", "400")
    assert int(root.VM.get_memory_dynamic_max(vm)) == 400 * MIB
    assert int(root.VM.get_memory_dynamic_min(vm)) == 256 * MIB
    xm("mem-set", "mem", "128")                                # below dynamic_min: both move
    assert int(root.VM.get_memory_dynamic_max(vm)) == 128 * MIB
    assert int(root.VM.get_memory_dynamic_min(vm)) == 128 * MIB
    err = xm.fails("mem-set", "mem", "1024")
    assert err.startswith("Error: INVALID_VALUE: memory_dynamic_max cannot be %d" % (1024 * MIB))
    assert int(root.VM.get_memory_dynamic_max(vm)) == 128 * MIB
    assert "is not a positive whole number" in xm.fails("mem-set", "mem", "-5")


def test_vcpu_list(xm, root, tmp_path):
    vm = new_vm(xm, tmp_path, "cpus")
    assert [r for r in json.loads(xm("vcpu-list", "--json", "cpus"))] == []
    xm("start", "cpus")
    rows = json.loads(xm("vcpu-list", "--json", "cpus"))
    assert rows and rows[0]["uuid"] == vm and rows[0]["vcpu"] == 0
    assert rows[0]["state"] in ("r--", "-b-")
    text = table(xm("vcpu-list", "cpus"))
    assert text[0]["Name"] == "cpus" and text[0]["VCPU"] == "0"
    xm("pause", "cpus")
    assert json.loads(xm("vcpu-list", "--json", "cpus"))[0]["state"] == "-p-"


def test_vcpu_set(xm, root, tmp_path):
    vm = new_vm(xm, tmp_path, "hotcpu", 'vcpus = 1\nmaxvcpus = 3\n')
    err = xm.fails("vcpu-set", "hotcpu", "2")
    assert err.startswith("Error: VM_BAD_POWER_STATE: hotcpu is Halted; this needs Running")
    xm("start", "hotcpu")
    xm("vcpu-set", "hotcpu", "3")
    assert root.VM.get_VCPUs_number(vm) == "3"
    err = xm.fails("vcpu-set", "hotcpu", "4")
    assert err.startswith("Error: INVALID_VALUE: VCPUs_number cannot be 4 (must be 1..3")
    assert "is not a positive whole number" in xm.fails("vcpu-set", "hotcpu", "0")
    xm("destroy", "hotcpu")


def test_mem_max(xm, root, tmp_path):
    vm = new_vm(xm, tmp_path, "memmax", "maxmem = 128\n")
    xm("mem-max", "memmax", "512")
    assert int(root.VM.get_memory_static_max(vm)) == 512 * MIB
    err = xm.fails("mem-max", "memmax", "32")                  # below dynamic_max (64)
    assert err.startswith("Error: INVALID_VALUE: memory_static_max cannot be %d (must be at "
                          "least memory_dynamic_max = %d)" % (32 * MIB, 64 * MIB))
    xm("start", "memmax")                          # a running guest: for its next start
    xm("mem-max", "memmax", "256")
    assert int(root.VM.get_memory_static_max(vm)) == 256 * MIB
    xm("destroy", "memmax")


def test_sched_credit_and_vcpu_pin(xm, root, tmp_path):
    vm = new_vm(xm, tmp_path, "sched", "vcpus = 2\n")
    assert table(xm("sched-credit", "-d", "sched")) == [
        {"Name": "sched", "ID": vm, "Weight": "256", "Cap": "0"}]
    xm("sched-credit", "-d", "sched", "-w", "512")
    xm("sched-credit", "-d", "sched", "-c", "150")
    assert table(xm("sched-credit", "-d", "sched"))[0]["Weight"] == "512"
    err = xm.fails("sched-credit", "-d", "sched", "-c", "300")
    assert err.startswith("Error: INVALID_VALUE: VCPUs_params cannot be cap=300 (cap must "
                          "be 0..200")
    xm("vcpu-pin", "sched", "1", "0")
    xm("start", "sched")
    xm("vcpu-pin", "sched", "0", "0-1")
    assert root.VM.get_VCPUs_params(vm) == "weight=512 cap=150 cpumap0=0-1 cpumap1=0"
    rows = json.loads(xm("vcpu-list", "--json", "sched"))
    assert [(r["vcpu"], r["affinity"]) for r in rows] == [(0, "0-1"), (1, "0")]
    assert table(xm("vcpu-list", "sched"))[1]["Affinity"] == "0"
    xm("vcpu-pin", "sched", "all", "all")
    assert root.VM.get_VCPUs_params(vm) == "weight=512 cap=150"
    xm("destroy", "sched")


def run_with_a_terminal(xm, args, terminal):
    """Run xm with ``terminal`` ("stdout" or "stderr") on a pty and the other stream on a
    pipe: (exit status, what the terminal showed, what the pipe got)."""
    import os
    import pty
    import subprocess
    import sys
    primary, secondary = pty.openpty()
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, terminal: secondary}
    proc = subprocess.Popen([sys.executable, "-m", "xen.xm", "--socket", xm.socket] + args,
                            cwd=ROOT, stdin=subprocess.DEVNULL, start_new_session=True,
                            **streams)
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:       # EIO: every writer of the pty has exited
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    piped = (proc.stderr if terminal == "stdout" else proc.stdout).read()
    return proc.wait(60), shown.decode(), piped.decode()


def test_long_operations_show_a_progress_bar_when_stdout_is_a_terminal(xm, root):
    """With stdout on a terminal, start draws the task's progress bar there, reaching 100%,
    and stderr stays empty; the task is cleaned up afterwards, and the VM ends Running."""
    vm = root.VM.create({"name_label": "bar-vm"})
    before = set(root.task.get_all())
    status, shown, stderr = run_with_a_terminal(xm, ["start", "bar-vm"], "stdout")
    assert status == 0, shown + stderr
    assert "100%" in shown and "VM.start" in shown and shown.endswith("\n"), shown
    assert stderr == ""
    assert root.VM.get_power_state(vm) == "Running"
    assert set(root.task.get_all()) == before


def drawn_bar(capsys, monkeypatch, label, steps, ok):
    """The last line a progress bar of ``label`` draws (after its final carriage return)
    for ``steps``, (seconds since the call, fraction, pending) each, then ``finish(ok)``;
    and every frame drawn, in order."""
    from xen.xm import client
    clock = [0.0]
    monkeypatch.setattr(client.time, "monotonic", lambda: clock[0])
    bar = client._ProgressBar(label)
    for seconds, fraction, pending in steps:
        clock[0] = seconds
        bar.update(fraction, pending)
    bar.finish(ok)
    frames = capsys.readouterr().out.split("\r")[1:]
    return frames[-1], frames


def test_the_bar_of_a_failure_never_reads_100(capsys, monkeypatch):
    """A task ends at progress 1.0 whether or not it succeeded: the bar of a failure stays
    where the pending task had got to, and says it failed."""
    last, frames = drawn_bar(capsys, monkeypatch, "VM.clean_shutdown",
                             [(0, 0.05, True), (1, 0.4, True), (2, 1.0, False)], ok=False)
    assert not any("100%" in frame for frame in frames), frames
    assert " 40% " in last and last.endswith(" failed\n"), last


def test_the_bar_reads_100_only_once_it_succeeded(capsys, monkeypatch):
    """A pending task at 1.0 is not done yet: 99% until the task has succeeded."""
    last, frames = drawn_bar(capsys, monkeypatch, "VM.start",
                             [(0, 0.5, True), (1, 1.0, True), (2, 1.0, False)], ok=True)
    assert [f for f in frames if "100%" in f] == [last], frames
    assert " 99% " in frames[1] and last.endswith(" done\n"), frames


def test_the_bar_names_the_whole_method_and_counts_seconds_while_progress_stands_still(
        capsys, monkeypatch):
    """A guest's shutdown may wait a minute at the same fraction: the bar shows the
    seconds passing, and the method's name is never cut."""
    last, frames = drawn_bar(capsys, monkeypatch, "VM.clean_shutdown",
                             [(0, 0.05, True), (30, 0.05, True), (61, 0.05, True)], ok=True)
    assert all(frame.startswith("VM.clean_shutdown [") for frame in frames), frames
    assert [frame.split("%")[1].split()[0] for frame in frames[:3]] == ["0s", "30s", "61s"]


def test_no_progress_bar_when_only_stderr_is_a_terminal(xm, root):
    """stdout piped (a script reading xm's output) and stderr on a terminal: no bar; a
    quick operation prints nothing at all, and clone's stdout is the UUID alone."""
    root.VM.create({"name_label": "nobar-vm"})
    status, shown, stdout = run_with_a_terminal(xm, ["start", "nobar-vm"], "stderr")
    assert (status, shown, stdout) == (0, "", "")
    root.VM.create({"name_label": "nobar-src"})
    status, shown, stdout = run_with_a_terminal(xm, ["clone", "nobar-src", "nobar-copy"],
                                                "stderr")
    assert (status, shown) == (0, "")
    assert stdout.strip() == root.VM.get_uuid(root.VM.get_by_name_label("nobar-copy")[0])


def test_slow_operation_without_a_terminal_prints_plain_progress_lines():
    """Without a terminal, an operation that takes a while (the sim backend's start takes
    sim_op_seconds) reports plain lines on stderr, a 10% step each, then "done"; stdout
    stays empty, for scripts that read it."""
    import re

    from xmtools import Xm
    slow = Daemon(extra_config="sim_op_seconds = 1.0\n").start()
    try:
        slow.relogin().VM.create({"name_label": "slow-vm"})
        p = Xm(slow.socket).run("start", "slow-vm")
        assert p.returncode == 0 and p.stdout == "", p.stderr
        lines = p.stderr.splitlines()
        assert lines[-1] == "VM.start: done", p.stderr
        steps = [int(re.fullmatch(r"VM\.start: (\d+)%", line).group(1)) for line in lines[:-1]]
        assert steps and steps == sorted(set(steps)), p.stderr
        assert all(step % 10 == 0 for step in steps), p.stderr
    finally:
        slow.cleanup(signal.SIGKILL)


def test_shutdown_and_reboot_return_at_once_without_w():
    """As in classic xm, shutdown and reboot only ask (Async): on a daemon whose every
    operation takes a while, xm returns while the operation's task is still pending, and
    the VM gets to Halted, or back to Running, afterwards. -w waits (test_lifecycle);
    a VM in the wrong state is still an error (test_xm_errors)."""
    from xmtools import Xm
    slow = Daemon(extra_config="sim_op_seconds = 0.6\n").start()
    try:
        sdk = slow.relogin()
        vms = [sdk.VM.create({"name_label": name}) for name in ("ask-down", "ask-boot")]
        for task in [sdk.Async.VM.start(vm, False) for vm in vms]:
            wait_until(lambda: sdk.task.get_record(task)["status"] != "pending", STATE_WAIT,
                       "the start of %s" % task)

        def pending():
            return {rec["name_label"] for rec in sdk.task.get_all_records().values()
                    if rec["status"] == "pending"}
        xm = Xm(slow.socket)
        assert xm("shutdown", "ask-down") == ""
        assert sdk.VM.get_power_state(vms[0]) in ("Running", "ShuttingDown")
        assert "Async.VM.clean_shutdown" in pending()
        assert xm("reboot", "ask-boot") == ""
        assert "Async.VM.clean_reboot" in pending()
        wait_for_state(sdk, vms[0], "Halted")
        wait_until(lambda: not pending(), STATE_WAIT, "the reboot to finish")
        assert sdk.VM.get_power_state(vms[1]) == "Running"
    finally:
        slow.cleanup(signal.SIGKILL)


def test_list_state_tells_running_from_idle(xm, root, tmp_path):
    """A started sim guest uses no CPU: xm shows it blocked, not running."""
    new_vm(xm, tmp_path, "ls-idle")
    xm("start", "ls-idle")
    assert row(xm, "ls-idle")["State"] == "-b----"


def test_state_letter_follows_the_cpu_share_of_the_last_sample():
    """A guest's idle ticks (a small share) are blocked; a vCPU busy most of the time runs."""
    def state(*shares):
        return vm_state({"power_state": "Running",
                         "VCPUs_utilisation": {str(i): s for i, s in enumerate(shares)}})
    assert state() == "-b----"
    assert state(0.0) == "-b----"
    assert state(0.02, 0.01) == "-b----"
    assert state(0.02, 0.97) == "r-----"
    assert state(1.0) == "r-----"


PAUSED_LINE = "Error: all-paused: VM_BAD_POWER_STATE: all-paused is Paused; this needs Running"


def test_shutdown_and_reboot_of_every_vm_report_each_failure(xm, root, tmp_path):
    # -a reaches every VM of the module's daemon: only this test's may fail.
    for vm, rec in guest_records(root).items():
        if rec["power_state"] == "Paused":
            root.VM.hard_shutdown(vm)
    up = [new_vm(xm, tmp_path, name) for name in ("all-1", "all-2")]
    stuck = new_vm(xm, tmp_path, "all-paused")
    halted = new_vm(xm, tmp_path, "all-halted")
    for vm in up:
        root.VM.start(vm, False)
    root.VM.start(stuck, True)
    p = xm.run("reboot", "-a", "-w")
    assert p.returncode == 1 and p.stdout == ""
    assert PAUSED_LINE in p.stderr.splitlines()
    assert [root.VM.get_power_state(vm) for vm in up + [halted]] == [
        "Running", "Running", "Halted"]
    p = xm.run("shutdown", "-a", "-H", "-w")
    assert p.returncode == 1 and p.stderr.splitlines().count(
        PAUSED_LINE) == 1, p.stderr
    assert [root.VM.get_power_state(vm) for vm in up] == ["Halted", "Halted"]
    assert root.VM.get_power_state(stuck) == "Paused"      # the others went on
    root.VM.unpause(stuck)
    assert xm("shutdown", "-a", "-w") == ""                # none failed: status 0
    assert root.VM.get_power_state(stuck) == "Halted"
    root.VM.start(stuck, False)
    xm("shutdown", "-R", "-w", "all-paused")               # -R: a reboot, as classic xm
    assert root.VM.get_power_state(stuck) == "Running"
    assert "give either a VM or -a" in xm.fails("shutdown", "-a", "all-paused")
    assert "give either a VM or -a" in xm.fails("reboot")
    assert "-H and -R cannot be used together" in xm.fails("shutdown", "-H", "-R", "all-paused")
    root.VM.hard_shutdown(stuck)


def test_sysrq_trigger_dump_core_and_dmesg(xm, root, daemon, tmp_path):
    vm = new_vm(xm, tmp_path, "dbg")
    root.VM.start(vm, False)
    assert xm("sysrq", "dbg", "h") == ""
    assert "sim: %s: sysrq h" % vm in xm("dmesg")
    assert xm.error_line("sysrq", "dbg", "hh") == (
        "Error: INVALID_VALUE: key cannot be hh (must be one of "
        "0123456789bcdefghijklmnopqrstuvwxyz)")
    assert xm("trigger", "dbg", "nmi") == ""
    assert "sim: %s: trigger nmi vcpu 0" % vm in xm("dmesg", "--clear")
    assert "sim: %s:" % vm not in xm("dmesg")                # cleared once shown
    assert xm.error_line("trigger", "dbg", "bang") == (
        "Error: INVALID_VALUE: trigger cannot be bang (must be one of nmi, reset, power, init)")
    assert xm("trigger", "dbg", "reset") == ""
    assert root.VM.get_power_state(vm) == "Running"
    path = xm("dump-core", "dbg").strip()
    assert path.startswith(os.path.join(daemon.state_dir, "dump", "")) and os.path.isfile(path)
    target = str(tmp_path / "dbg.core")
    assert xm("dump-core", "-L", "dbg", target).strip() == target
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert root.VM.get_power_state(vm) == "Running"        # the guest keeps running
    xm("dump-core", "-C", "dbg", target)
    assert root.VM.get_power_state(vm) == "Halted"          # -C: crashed after the dump
    assert xm.error_line("sysrq", "dbg", "h") == (
        "Error: VM_BAD_POWER_STATE: dbg is Halted; this needs Running")


def test_autostart_shows_and_sets(xm, root, tmp_path):
    vm = new_vm(xm, tmp_path, "auto-a")
    assert xm("autostart", "auto-a") == "autostart off, order 0, delay 0s\n"
    assert xm("autostart", "auto-a", "on", "--order", "-3", "--delay", "20") == ""
    assert root.VM.get_other_config(vm) == {"auto_poweron": "true"}
    assert xm("autostart", "auto-a") == "autostart on, order -3, delay 20s\n"
    xm("autostart", "auto-a", "off")
    assert xm("autostart", "auto-a") == "autostart off, order -3, delay 20s\n"
    assert "is not a whole number" in xm.fails("autostart", "auto-a", "--delay", "-1")


def test_save_and_restore(xm, root, tmp_path):
    vm = new_vm(xm, tmp_path, "saved-a")
    xm("start", "saved-a")
    path = str(tmp_path / "saved-a.save")
    xm("save", "saved-a", path)
    assert root.VM.get_power_state(vm) == "Halted"
    assert xm("restore", "-p", path) == vm + "\n"
    assert root.VM.get_power_state(vm) == "Paused"
    assert "exists: a save never overwrites a file" in xm.error_line("save", "saved-a", path)
    assert "must be an absolute path" in xm.error_line("restore", "saved-a.save")
    root.VM.hard_shutdown(vm)
