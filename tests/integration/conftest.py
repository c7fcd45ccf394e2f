"""Fixtures of the integration tests: clients of the module's daemon over the Unix socket
and TCP, in XML-RPC and in JSON-RPC (``api`` is each in turn).

The ``daemon``, ``fresh_daemon`` and ``root`` fixtures come from tests/conftest.py (one
daemon per module, torn down with SIGKILL: see ``daemon_stop_signal`` there).
``pool_members``: the members of one pool of the module's own.
"""

import jsonapi
import pytest
from harness import MIB, Fleet, start_members, tmpfs
from xapi_helpers import ROOT_PASSWORD, Raw, fetch_dtd_text, parse_dtd, raw_unix_root, tcp_proxy


@pytest.fixture(scope="module")
def root_tcp(daemon, root):
    """The SDK, logged in as root over TCP (root's password set first; over TCP root
    needs one)."""
    root_ref = root.user.get_by_short_name("root")[0]
    root.user.set_password(root_ref, ROOT_PASSWORD)
    s = daemon.sdk_tcp("root", ROOT_PASSWORD)
    yield s.xenapi
    try:
        s.xenapi.session.logout()
    except Exception:
        pass


@pytest.fixture(scope="module")
def v10(daemon, root):
    """The SDK as root over the Unix socket in a session of Xen-API 1.0."""
    s = daemon.sdk_unix(version="1.0")
    yield s.xenapi
    s.xenapi.session.logout()


@pytest.fixture(scope="module")
def root_json(daemon, root_tcp):
    """The SDK's interface over JSON-RPC (tests/jsonapi.py), logged in as root over TCP
    (root_tcp set its password): Ints come back as numbers, DateTimes as ISO 8601."""
    s = jsonapi.Session(daemon)
    s.xenapi.login_with_password("root", ROOT_PASSWORD, "0.2", "xend-tests")
    yield s.xenapi
    try:
        s.xenapi.session.logout()
    except Exception:
        pass
    s.close()


# The clients ``api`` is each of, by name: the fixture giving it.
TRANSPORTS = {"unix": "root", "tcp": "root_tcp", "jsonrpc": "root_json"}


def pytest_generate_tests(metafunc):
    """``api`` once per transport: every one of TRANSPORTS, or those a module names in its
    API_TRANSPORTS (a module of field-by-field tests gains nothing from a second XML-RPC
    transport, but a second codec is another wire)."""
    if "api_transport" in metafunc.fixturenames:
        metafunc.parametrize("api_transport", getattr(metafunc.module, "API_TRANSPORTS",
                                                      tuple(TRANSPORTS)),
                             indirect=True, scope="module")


@pytest.fixture(scope="module")
def api_transport(request):
    return request.param


@pytest.fixture(scope="module")
def api(request, api_transport):
    """The SDK as root over the Unix socket, then over TCP, then its interface over
    JSON-RPC (a test comparing Ints compares them as ints: the JSON-RPC form is a
    number, XML-RPC's a decimal string)."""
    return request.getfixturevalue(TRANSPORTS[api_transport])


@pytest.fixture(scope="module")
def raw(daemon, root):
    """Plain xmlrpc.client over the Unix socket, logged in as root."""
    r = raw_unix_root(daemon)
    yield r
    r.call("session.logout", r.session)


@pytest.fixture(scope="module")
def raw_tcp(daemon, root_tcp):
    """Plain xmlrpc.client over TCP, logged in as root with its password."""
    r = Raw(tcp_proxy(daemon))
    r.login("root", ROOT_PASSWORD)
    yield r
    r.call("session.logout", r.session)


@pytest.fixture(scope="module")
def dtd_text(daemon):
    return fetch_dtd_text(daemon)


@pytest.fixture(scope="module")
def dtd(dtd_text):
    return parse_dtd(dtd_text)


@pytest.fixture(scope="module")
def host(root):
    return root.host.get_all()[0]



@pytest.fixture(scope="module")
def other_fs(tmp_path_factory):
    """A directory on a 64 MiB file system of its own (a tmpfs), not the state directory's:
    an SR there may promise more than the state directory's file system holds."""
    with tmpfs(str(tmp_path_factory.mktemp("fs")), 64 * MIB) as path:
        yield path


@pytest.fixture(scope="module")
def pool_members(request, postgres, tmp_path_factory):
    """Sim members of one pool, calling one another over the pool channel
    (harness.start_members): the module's ``MEMBERS`` of them (2 if it sets none),
    member K's configuration ending with the module's ``MEMBER_CONFIGS[K]``."""
    fleet = Fleet()
    try:
        yield start_members(fleet, postgres, str(tmp_path_factory.mktemp("pool")),
                            getattr(request.module, "MEMBERS", 2),
                            getattr(request.module, "MEMBER_CONFIGS", ()))
    finally:
        fleet.retire()
