"""auth = "pam": non-root logins are checked by PAM against a real system account."""

import os
import shutil
import signal
import subprocess
import uuid

import pytest
import XenAPI
from harness import Daemon

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd"),
                                reason="needs root and useradd to make a system account")


@pytest.fixture
def account():
    name = "xendpam" + uuid.uuid4().hex[:6]
    password = "Pam-" + uuid.uuid4().hex
    subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=True)
    subprocess.run(["chpasswd"], input="%s:%s\n" % (name, password), text=True, check=True)
    yield name, password
    subprocess.run(["userdel", name], check=False)


def test_pam_accepts_the_account_password_and_refuses_others(account):
    name, password = account
    d = Daemon(extra_config='auth = "pam"\n').start()
    try:
        s = d.sdk_tcp(name, password)
        assert s.xenapi.session.get_this_user(s.handle) == name
        s.xenapi.session.logout()
        with pytest.raises(XenAPI.Failure) as e:
            d.sdk_tcp(name, password + "x")
        assert e.value.details[:2] == ["SESSION_AUTHENTICATION_FAILED", name]
        assert password not in d.log_text()
    finally:
        d.cleanup(signal.SIGKILL)
