"""Fixtures of the Xen tier: one nested Xen host (tests/xen/xenhost.py) for the session.

* ``xen_host``: the host, built from Debian's packages on first use (cached in
  ``~/.cache/xend-xen-host``, about 75 s cold) and booted under QEMU (about 35 s). It skips
  the tier only where QEMU is missing or the machine has less than 4 GB of memory
  available; a build or boot that fails is an error of every test, never a skip, so a CI
  machine that should run the tier cannot silently stop running it.
* ``xen_daemon``: the same host with xend running in dom0 (``backend = "xen"``), reachable
  at ``xen_host.api_url`` as root with ``xenhost.ROOT_PASSWORD``.
* A failing test gets the end of the host's serial console and of the daemon's log in its
  report.

Tests here are marked ``xen`` and ``qemu`` (``make test-fast`` leaves them out).
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import xenhost  # noqa: E402

# The nested host takes 3 GB; with less free, it would swap or fail to start.
MIN_MEMORY = 4 * 2 ** 30


def pytest_configure(config):
    config.addinivalue_line("markers",
                            "xen: runs on a nested Xen host under QEMU (skips only without "
                            "QEMU or with less than 4 GB of free memory)")


def pytest_collection_modifyitems(session, config, items):
    """The harness's own tests (test_xen_host.py) first: when the host is broken, that is
    what the first failures should say. Only this tier's items move, among themselves."""
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    slots = [i for i, item in enumerate(items) if str(item.fspath).startswith(here)]
    ours = sorted((items[i] for i in slots),
                  key=lambda item: os.path.basename(str(item.fspath)) != "test_xen_host.py")
    for i, item in zip(slots, ours):
        items[i] = item


@pytest.fixture(scope="session")
def xen_host():
    """A booted nested Xen host, shared by the whole tier; skipped where it cannot be
    booted at all: no QEMU, or too little memory."""
    if xenhost.QEMU is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    available = xenhost.mem_available()
    if available < MIN_MEMORY:
        pytest.skip("the nested Xen host needs 4 GB of free memory; MemAvailable is %.1f GB"
                    % (available / 2 ** 30))
    image = xenhost.build()
    host = xenhost.XenHost(image)
    try:
        host.boot()
    except BaseException:
        host.close()          # the error carries the console's end; leave no QEMU behind
        raise
    yield host
    host.close()


@pytest.fixture(scope="session")
def xen_daemon(xen_host):
    """``xen_host`` with xend started in dom0 on the xen backend."""
    xen_host.start_daemon()
    yield xen_host
    if xen_host.daemon_pid is not None:
        xen_host.kill_daemon()


@pytest.fixture(scope="module")
def xen_pool(xen_host):
    """Two more nested Xen hosts whose daemons are members of one pool on a PostgreSQL
    database (tests/xen/xenpool.py); for the module that uses it (6 GB more while it
    runs). ``xen_host`` first: where it could not boot, neither could these."""
    import harness
    import xenpool
    harness.skip_without_postgres()
    if xenhost.mem_available() < 2 * MIN_MEMORY:
        pytest.skip("two more nested Xen hosts need 8 GB of free memory")
    pool = xenpool.XenPool(xenhost.build(), harness.scratch_dir())
    try:
        pool.up()
    except BaseException:
        pool.close()
        raise
    yield pool
    pool.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    pool = item.funcargs.get("xen_pool")
    hosts = pool.hosts if pool is not None else \
        [item.funcargs.get("xen_host") or item.funcargs.get("xen_daemon")]
    for k, host in enumerate(hosts):
        if host is not None and host.proc is not None:
            _host_sections(report, host, "nested host %d" % (k + 1) if pool else "nested host")


def _host_sections(report, host, title):
    """The end of ``host``'s console, xl's and the guests' logs, and the daemon's log."""
    report.sections.append((title + ": serial console (end)", host.console_tail(4000)))
    try:
        rc, out, _ = host.run("xl list; tail -n 30 /var/log/xen/xl-*.log "
                              "/var/log/xen/console/guest-*.log 2>/dev/null", timeout=30)
        report.sections.append((title + ": xl list, xl and guest logs", out[-6000:]))
        if host.daemon_pid is not None:
            report.sections.append((title + ": xend log (end)", host.daemon_log_tail()))
    except (OSError, ValueError, xenhost.XenHostError) as e:
        report.sections.append((title, "cannot reach dom0: %r" % (e,)))
