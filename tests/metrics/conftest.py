"""Fixtures of the metrics tier: real daemons driven through the official XenAPI SDK.

* ``sim_daemon`` / ``sim_api`` / ``sim_host``: one sim-backend daemon shared by the tier
  (sampler every 0.5 s), for what does not need real guests: host, host_cpu, consistency
  rules, GET /metrics bookkeeping. Runs wherever Python does.
* ``qemu_daemon`` / ``qemu_api`` / ``qemu_host``: one qemu-backend daemon shared by the
  tier (sampler every 0.5 s); skipped only where QEMU is absent.
* ``make_daemon(backend, extra_config)``: daemons of a test's own (restarts, other config).
* After each test that used a shared daemon, every VM of it that is not Halted is
  hard_shutdown and the host is enabled again, so tests start from a quiet host; a QEMU
  process left behind after that is SIGKILLed and reported as an error of the test.
* ``tiny_guest``: the tiny Linux guest of tests/guest/build.py (built once, cached).

Tests here boot at most two guests at a time: booting is CPU-bound under TCG.
"""

import pytest

from metricshelp import QEMU, guest_builder, halt_all, kill_qemus_under

@pytest.fixture(scope="session")
def daemon_class(pytestconfig):
    """tests/conftest.py's Daemon class (every conftest module is named "conftest", so it
    is found through pytest's plugin manager rather than imported)."""
    for plugin in pytestconfig.pluginmanager.get_plugins():
        cls = getattr(plugin, "Daemon", None)
        if isinstance(cls, type) and hasattr(plugin, "free_port"):
            return cls
    raise RuntimeError("tests/conftest.py's Daemon not found")


def _retire(d):
    """Halt the daemon's guests through the API, kill it, kill any QEMU it left; remove
    its files. Returns the problems met."""
    problems = []
    api = getattr(d, "api", None)
    if api is not None and d.proc is not None:
        try:
            problems += halt_all(api)
        except Exception as e:   # the daemon may be what broke
            problems.append("halting the guests failed: %r" % (e,))
    d.kill9()
    killed = kill_qemus_under(d.dir)
    if killed:
        problems.append("QEMU processes outlived the daemon: %s" % killed)
    d.cleanup()
    return problems


def _start(daemon_class, backend, extra_config, sampler=0.5, made=None):
    d = daemon_class(backend=backend,
                     extra_config="sampler_interval = %r\n" % float(sampler) + extra_config)
    if made is not None:
        made.append(d)
    d.start()

    def relogin():
        d.api = d.sdk_unix().xenapi
        return d.api
    d.relogin = relogin
    relogin()
    return d


@pytest.fixture(scope="session")
def sim_daemon(daemon_class):
    d = _start(daemon_class, "sim", "")
    yield d
    problems = _retire(d)
    assert not problems, problems


@pytest.fixture(scope="session")
def sim_api(sim_daemon):
    return sim_daemon.api


@pytest.fixture(scope="session")
def sim_host(sim_api):
    return sim_api.host.get_all()[0]


@pytest.fixture(scope="session")
def qemu_daemon(daemon_class):
    if QEMU is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    d = _start(daemon_class, "qemu", "shutdown_timeout = 5\n")
    yield d
    problems = _retire(d)
    assert not problems, problems


@pytest.fixture(scope="session")
def qemu_api(qemu_daemon):
    return qemu_daemon.api


@pytest.fixture(scope="session")
def qemu_host(qemu_api):
    return qemu_api.host.get_all()[0]


@pytest.fixture(autouse=True)
def _quiet_host_after_each_test(request):
    yield
    problems = []
    for name in ("sim_daemon", "qemu_daemon"):
        if name not in request.fixturenames:
            continue
        d = request.getfixturevalue(name)
        api = d.api
        problems += halt_all(api)
        for host in api.host.get_all():
            if not api.host.get_enabled(host):
                api.host.enable(host)
        killed = kill_qemus_under(d.state_dir)
        if killed:
            problems.append("QEMU processes left after hard_shutdown of every VM: %s" % killed)
    assert not problems, problems


@pytest.fixture
def make_daemon(daemon_class):
    """Start daemons of the test's own: ``make_daemon(backend="sim", extra_config="",
    sampler=0.5)`` returns a started Daemon with ``.api`` (root's SDK proxy) and
    ``.relogin()``."""
    made = []

    def make(backend="sim", extra_config="", sampler=0.5):
        if backend == "qemu" and QEMU is None:
            pytest.skip("qemu-system-x86_64 is not installed")
        return _start(daemon_class, backend, extra_config, sampler, made)
    yield make
    problems = []
    for d in made:
        problems += _retire(d)
    assert not problems, problems


@pytest.fixture(scope="session")
def tiny_guest():
    if QEMU is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    return guest_builder().build()
