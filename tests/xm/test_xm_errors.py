"""xm's error paths for the commands the other modules only drive to success: each
failure exits 1 with one readable line on stderr, nothing on stdout, and changes
nothing. The runs are independent, so they go concurrently to keep the module cheap."""

from concurrent.futures import ThreadPoolExecutor

from xmtools import snapshot

from xen.xend.api import datamodel
from xen.xm.client import Client, Failure

# (command line, the one line on stderr). "idle" is a Halted VM; "ghost" names nothing.
CASES = [
    (["pause", "idle"], "Error: VM_BAD_POWER_STATE: idle is Halted; this needs Running"),
    (["reboot", "idle"], "Error: VM_BAD_POWER_STATE: idle is Halted; this needs Running"),
    (["shutdown", "idle"], "Error: VM_BAD_POWER_STATE: idle is Halted; this needs Running"),
    (["shutdown", "-w", "idle"],
     "Error: VM_BAD_POWER_STATE: idle is Halted; this needs Running"),
    (["suspend", "idle"],
     "Error: VM_BAD_POWER_STATE: idle is Halted; this needs Running or Paused"),
    (["resume", "idle"], "Error: VM_BAD_POWER_STATE: idle is Halted; this needs Suspended"),
    (["pause", "ghost"], "Error: there is no VM named 'ghost'"),
    (["suspend", "ghost"], "Error: there is no VM named 'ghost'"),
    (["sr-create", "bad-sr", "dir", "relative/dir"],
     "Error: INVALID_VALUE: location cannot be relative/dir (must be absolute)"),
    (["sr-create", "bad-sr", "dir", "/srv/a\nb"],
     "Error: INVALID_VALUE: location cannot be '/srv/a\\nb' (must be printable)"),
    (["sr-create", "bad-sr", "tape", "/srv/tape"],
     "Error: VALUE_NOT_SUPPORTED: type = tape is not supported: "
     "supported SR types: dir, file, nfs, shared-dir"),
    (["vdi-snapshot", "ghost"], "Error: there is no VDI named 'ghost'"),
    (["vcpu-list", "ghost"], "Error: there is no VM named 'ghost'"),
    (["vcpu-list", "--json", "ghost"], "Error: there is no VM named 'ghost'"),
    (["network-list", "ghost"], "Error: there is no VM named 'ghost'"),
    (["vdi-list", "ghost"], "Error: there is no SR named 'ghost'"),
    (["vdi-list", "--json", "ghost"], "Error: there is no SR named 'ghost'"),
    (["user-add", ""], "Error: INVALID_VALUE: short_name cannot be empty"),
    # The server echoes the name back; xm escapes it rather than print a second line.
    (["user-add", "eve\nroot"], "Error: INVALID_VALUE: short_name cannot be 'eve\\nroot'"),
    (["user-add", "root"],
     "Error: INVALID_VALUE: short_name cannot be root (a user with that name exists)"),
]


def test_failures_are_one_line_exit_1_and_change_nothing(xm, root):
    vm = root.VM.create({"name_label": "idle"})
    before = snapshot(root)
    with ThreadPoolExecutor(4) as pool:
        lines = list(pool.map(lambda case: xm.error_line(*case[0]), CASES))
    assert [(args, line) for (args, _), line in zip(CASES, lines)] == CASES
    assert snapshot(root) == before
    assert root.VM.get_power_state(vm) == "Halted"


def test_a_vcpus_count_out_of_range_names_the_range(xm, root, tmp_path):
    cfg = tmp_path / "many.cfg"
    cfg.write_text('name = "many"\nmemory = 64\nvcpus = 999\n')
    before = snapshot(root)
    assert xm.error_line("new", str(cfg)) == \
        "Error: INVALID_VALUE: VCPUs_max cannot be 999 (must be 1..255)"
    assert snapshot(root) == before


def test_every_declared_error_reads_as_its_declared_sentence():
    client = Client(socket_path="/nonexistent/xen-api.sock")   # explain needs no server
    for code, error in datamodel.ERRORS.items():
        params = ["p%d" % i for i in range(len(error.params))]
        assert client.explain(Failure([code] + params)) == "%s: %s" % (
            code, error.sentence.format(**dict(zip(error.params, params))))
    # A code this xm does not know still shows its parameters.
    assert client.explain(Failure(["NEW_CODE", "a", "b"])) == "NEW_CODE: a, b"
