"""The daemon on the store's PostgreSQL engine (docs/pool.md, "The store on PostgreSQL"):
the database stopped under it refuses writes with HOST_STATE_UNAVAILABLE while reads
answer, and once it is back writes work and nothing acknowledged is lost; a password
file others may read stops the start, and the password is never written anywhere; a
user's old password hashes leave the database once the change log's window has passed."""

import json
import os
import re

import pytest
from harness import STATE_WAIT, failure, make_user, new_vm, wait_until
from XenAPI import Failure


@pytest.fixture
def config(postgres, tmp_path):
    return postgres.daemon_config(str(tmp_path))


def test_the_database_stopped_under_the_daemon(postgres, make_daemon, config):
    d = make_daemon(extra_config=config)
    api = d.api
    kept = new_vm(api, name_label="kept")
    before = set(api.VM.get_all())
    postgres.stop()
    try:
        assert failure(api.VM.set_name_label, kept, "refused") == ["HOST_STATE_UNAVAILABLE"]
        assert failure(api.VM.create, {}) == ["HOST_STATE_UNAVAILABLE"]
        # reads answer from memory, and a login (a session lives in memory) works
        assert api.VM.get_name_label(kept) == "kept"
        assert kept in api.VM.get_all()
        assert d.sdk_unix().xenapi.VM.get_name_label(kept) == "kept"
    finally:
        postgres.start()

    def renamed():
        try:
            api.VM.set_name_label(kept, "after")
            return True
        except Failure as e:
            assert e.details == ["HOST_STATE_UNAVAILABLE"]
            return False
    wait_until(renamed, STATE_WAIT, "writes to work again")
    made = new_vm(api, name_label="made after")
    assert "store: reconnected to PostgreSQL" in d.log_text()
    d.kill9()
    d.start()
    api = d.relogin()
    assert api.VM.get_name_label(kept) == "after"
    assert api.VM.get_name_label(made) == "made after"
    assert set(api.VM.get_all()) == before | {made}   # the refused create made nothing


def test_a_password_file_others_may_read_stops_the_start(postgres, make_daemon, tmp_path,
                                                         config):
    password_file = str(tmp_path / "database-password")
    os.chmod(password_file, 0o644)
    with pytest.raises(RuntimeError) as e:
        make_daemon(extra_config=config, login=False)
    assert password_file in str(e.value) and "readable by others" in str(e.value)
    assert postgres.password not in str(e.value)


def test_the_password_is_never_logged(postgres, make_daemon, config):
    d = make_daemon(extra_config=config, log_level="debug")
    new_vm(d.api)
    assert "store on PostgreSQL at postgresql://" in d.log_text()
    assert postgres.password not in d.log_text()


def test_old_password_hashes_leave_the_database(postgres, make_daemon, config):
    d = make_daemon(extra_config=config + "database_log_retention = 0.2\n")
    name = re.search(r'database = "([^"]+)"', config).group(1).rsplit("/", 1)[1]
    ref, _, _ = make_user(d.api)

    def stored_hash():
        return json.loads(postgres.psql("SELECT private FROM objects WHERE ref = '%s'"
                                        % ref, name))["password"]

    def everything():
        return postgres.psql("SELECT record || private FROM objects UNION ALL "
                             "SELECT changes FROM change_log", name)
    hashes = [stored_hash()]
    for password in ("second password", "third password"):
        d.api.user.set_password(ref, password)
        hashes.append(stored_hash())
    *old, current = hashes
    assert len(set(hashes)) == 3
    wait_until(lambda: not any(h in everything() for h in old), STATE_WAIT,
               "the old hashes to leave the database")
    assert current in everything()
