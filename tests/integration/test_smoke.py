"""The README's walk-through: log in over both transports and use the API."""

import XenAPI
import pytest


def test_root_over_socket_and_user_over_tcp(daemon, root):
    user = root.user.create({"short_name": "smoke", "fullname": "Smoke Test"})
    root.user.set_password(user, "s3cret")
    s = daemon.sdk_tcp("smoke", "s3cret")
    try:
        vm = s.xenapi.VM.create({"name_label": "smoke-vm"})
        assert s.xenapi.VM.get_name_label(vm) == "smoke-vm"
        assert vm in root.VM.get_all()
    finally:
        s.xenapi.session.logout()


def test_wrong_password_is_refused(daemon, root):
    with pytest.raises(XenAPI.Failure) as e:
        daemon.sdk_tcp("smoke-nobody", "x")
    assert e.value.details[0] == "SESSION_AUTHENTICATION_FAILED"
