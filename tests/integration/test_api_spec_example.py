"""§1.5's interactive session, exactly as printed but with xmlrpc.client for xmlrpclib and
http://127.0.0.1:PORT for http://test:4464, against a daemon of this module's own."""

import http.client
import xmlrpc.client

import pytest

from xen.xend.api.lifecycle import CONTROL_DOMAIN

VMS = [("Debian", "plain"), ("Windows", "hvm"), ("Fedora", "another"),
       ("SMP", "Debian for Xen")]


@pytest.fixture(scope="module")
def xen(daemon, root):
    user = root.user.create({"short_name": "user", "fullname": "The Spec's User"})
    root.user.set_password(user, "passwd")
    for label, desc in VMS:
        root.VM.create({"name_label": label, "name_description": desc})
    return xmlrpc.client.ServerProxy("http://127.0.0.1:%d" % daemon.port)


def test_the_interactive_session_of_1_5(xen):
    session = xen.Session.do_login_with_password("user", "passwd")['Value']
    # The spec's server had no control domain's VM; this one lists it too.
    all_vms = [vm for vm in xen.VM.do_list(session)['Value'] if vm != CONTROL_DOMAIN]
    assert len(all_vms) == 4
    assert xen.VM.getname_label(session, all_vms[3])['Value'] == 'SMP'
    assert xen.VM.getname_description(session, all_vms[3])['Value'] == 'Debian for Xen'
    # the spec's server answered "not implemented"; this one starts the Halted VM
    assert xen.VM.do_start(session, all_vms[3], False) == {"Status": "Success", "Value": ""}
    assert xen.VM.get_power_state(session, all_vms[3])['Value'] == "Running"
    assert xen.VM.do_start(session, all_vms[3], False)['ErrorDescription'][0] == \
        "VM_BAD_POWER_STATE"
    assert xen.VM.hard_shutdown(session, all_vms[3])['Status'] == "Success"
    assert xen.Session.Logout(session) == {"Status": "Success", "Value": ""}
    assert xen.VM.do_list(session)['ErrorDescription'] == ["SESSION_INVALID", session]


def test_login_with_password_capitalised(xen):
    reply = xen.Session.Login_with_password("user", "passwd")
    assert reply["Status"] == "Success"
    session = reply["Value"]
    assert xen.session.get_this_user(session, session)["Value"] == "user"
    assert xen.Session.Logout(session)["Status"] == "Success"


def test_aliases_fail_like_the_real_names(xen):
    reply = xen.Session.do_login_with_password("user", "wrong")
    assert reply["ErrorDescription"][0] == "SESSION_AUTHENTICATION_FAILED"
    session = xen.Session.do_login_with_password("user", "passwd")["Value"]
    try:
        assert xen.VM.getname_label(session, "no-such-vm")["ErrorDescription"] == [
            "HANDLE_INVALID", "VM", "no-such-vm"]
        assert xen.VM.do_start(session)["ErrorDescription"][0] == \
            "MESSAGE_PARAMETER_COUNT_MISMATCH"
    finally:
        xen.Session.Logout(session)


def test_the_serialised_login_call_of_1_5(daemon):
    """The request exactly as §1.5 prints it."""
    body = b"""<?xml version='1.0'?>
<methodCall>
  <methodName>Session.do_login_with_password</methodName>
  <params>
    <param>
      <value><string>user</string></value>
    </param>
    <param>
      <value><string>passwd</string></value>
    </param>
  </params>
</methodCall>
"""
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    try:
        conn.request("POST", "/", body=body, headers={"Content-Type": "text/xml"})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    assert resp.status == 200
    (reply,), _ = xmlrpc.client.loads(data)
    assert reply["Status"] == "Success" and reply["Value"]
