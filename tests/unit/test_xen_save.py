"""The Xen backend's save (suspend) when xl fails: a guest that never answered the suspend
request is VM_FAILED_SUSPEND_ACK, any other failure stays xl's INTERNAL_ERROR; either way
the domain stays and no state file is left."""

import pytest

from xen.xend.backend.base import BackendError
from xen.xend.backend.xen.domains import Domain, Domains
from xen.xend.backend.xen.xl import XlFailed

UUID = "3f1e0c52-8a1b-4c36-9a55-0c8d1b2e6a11"

# What xl save prints when the guest is still booting (libxl cancels the request).
UNACKNOWLEDGED = """\
Saving to /var/lib/xend/vms/x/suspend.state new xl format (info 0x3/0x0/1228)
xc: info: Saving domain 7, type x86 PV
libxl: error: libxl_dom_suspend.c:236:domain_suspend_common_pvcontrol_suspending: \
Domain 7:guest didn't acknowledge suspend, cancelling request
libxl: error: libxl_dom_suspend.c:259:domain_suspend_common_pvcontrol_suspending: \
Domain 7:guest didn't acknowledge suspend, request cancelled
libxl: error: libxl_stream_write.c:350:libxl__xc_domain_save_done: Domain 7:saving \
domain: domain did not respond to suspend request: Invalid argument
libxl: error: libxl_domain.c:525:domain_resume_done: Domain 7:Failed to resume
"""


class FailingXl:
    def __init__(self, stderr):
        self.stderr = stderr

    def run(self, *args, timeout=None):
        raise XlFailed(args[0], self.stderr)


def _save(tmp_path, stderr):
    domains = Domains(FailingXl(stderr), lambda dom: None, lambda uuid: None)
    dom = Domain(UUID, "guest", str(tmp_path), 7)
    domains.add(dom)
    state = tmp_path / "suspend.state"
    state.write_bytes(b"partial")
    with pytest.raises(BackendError) as e:
        domains.save(dom, str(state))
    assert domains.get(UUID) is dom and not dom.expected
    assert not state.exists()
    return [e.value.code] + e.value.params


# What it prints for a paused guest (seen on Xen 4.17).
PAUSED = """\
Saving to /var/lib/xend/vms/x/suspend.state new xl format (info 0x3/0x0/1228)
xc: error: Dom 4 not suspended: (shutdown 0, reason 255): Internal error
libxl: error: libxl_dom_suspend.c:666:domain_resume_done: Domain 4:xc_domain_resume \
failed: Invalid argument
Failed to save domain, resuming domain
"""


@pytest.mark.parametrize("stderr", [UNACKNOWLEDGED, PAUSED], ids=["booting", "paused"])
def test_an_unanswered_suspend_is_its_own_error(tmp_path, stderr):
    assert _save(tmp_path, stderr) == ["VM_FAILED_SUSPEND_ACK", UUID]


def test_other_failures_stay_internal_errors(tmp_path):
    code, message = _save(tmp_path, "libxl: error: cannot write the state file: ENOSPC\n")
    assert code == "INTERNAL_ERROR"
    assert message == "xl save: libxl: error: cannot write the state file: ENOSPC"
