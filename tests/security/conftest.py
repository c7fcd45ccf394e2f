"""Fixtures of the security tests: daemons started with the configuration a test
needs (helpers live in secutil.py: every conftest module is named "conftest", so
they cannot be imported from here)."""

import pytest


@pytest.fixture(scope="session")
def daemon_class(pytestconfig):
    """tests/conftest.py's Daemon class (found through pytest's plugin manager: every
    conftest module is named "conftest")."""
    for plugin in pytestconfig.pluginmanager.get_plugins():
        cls = getattr(plugin, "Daemon", None)
        if isinstance(cls, type) and hasattr(plugin, "free_port"):
            return cls
    raise RuntimeError("tests/conftest.py's Daemon not found")


@pytest.fixture(scope="session")
def free_port(pytestconfig):
    for plugin in pytestconfig.pluginmanager.get_plugins():
        if hasattr(plugin, "Daemon") and hasattr(plugin, "free_port"):
            return plugin.free_port
    raise RuntimeError("tests/conftest.py's free_port not found")


@pytest.fixture(scope="module")
def make_daemon(daemon_class):
    """Start daemons with extra configuration lines; all are killed at the module's end."""
    made = []

    def make(extra_config="", **kwargs):
        d = daemon_class(extra_config=extra_config, **kwargs)
        made.append(d)
        return d.start()
    yield make
    for d in made:
        d.kill9()
        d.cleanup()


