"""pool.join and pool.eject (docs/pool.md, "Membership"): a standalone host's objects
moved into a pool's database in one transaction, and a host's records taken out of it.

Join runs on the standalone (SQLite) host. It logs into the master over HTTPS as the
caller says (that user must be root there), reads the master's pool, checks that the
database the host's configuration names (``pool_database``) holds that pool and none of
the host's UUIDs nor its host's name, and commits every object of the host but its users
(the pool's users apply) and its control domain (its host gets the pool's kind at the
restart) in one write of that database. The daemon then restarts on the database
(daemon/app.py reads ``pool-member``), its guests kept running.
"""

import ssl
import xmlrpc.client

from ..state import srreach
from ..state.store import Reload
from . import datamodel
from .errors import ApiError
from .handlers.base import HOST_KEY, MASTER_KEY

# The stored classes whose objects a joining host leaves behind: the pool's users apply.
NOT_MOVED = ("user",)
# The keys of a master's record that a host joining as a member drops (the pool's own).
_POOL_KEYS = (MASTER_KEY, "_pool_name_label", "_pool_name_description", "_pool_default_SR",
              "_pool_other_config")


def master_pool(address, username, password, ca_file, timeout=10):
    """The pool ref the master at ``address`` answers, logged in as ``username`` (root
    there); POOL_JOINING_HOST_CANNOT_CONTACT_MASTER or
    POOL_JOINING_HOST_AUTHENTICATION_FAILED otherwise."""
    context = ssl.create_default_context(cafile=ca_file or None)
    proxy = xmlrpc.client.ServerProxy("https://%s/" % address, context=context,
                                      allow_none=True)
    try:
        login = proxy.session.login_with_password(username, password)
        if login.get("Status") != "Success":
            raise ApiError("POOL_JOINING_HOST_AUTHENTICATION_FAILED", username,
                           " ".join(login.get("ErrorDescription", [])[:1]))
        session = login["Value"]
        try:
            pools = proxy.pool.get_all(session)
            me = proxy.session.get_this_user(session, session)
        finally:
            proxy.session.logout(session)
    except (OSError, xmlrpc.client.Error, ssl.SSLError) as e:
        raise ApiError("POOL_JOINING_HOST_CANNOT_CONTACT_MASTER", address,
                       str(e) or type(e).__name__) from None
    if me.get("Value") != "root":
        raise ApiError("POOL_JOINING_HOST_AUTHENTICATION_FAILED", username,
                       "only root of the master may join a host to its pool")
    if pools.get("Status") != "Success" or len(pools["Value"]) != 1:
        raise ApiError("POOL_JOINING_HOST_CANNOT_CONTACT_MASTER", address, "it has no pool")
    return pools["Value"][0]


def moved_objects(app):
    """The (cls, ref, record, private) of every object the joining host moves."""
    store, out = app.store, []
    for cls in sorted(c.name for c in datamodel.CLASSES.values() if c.stored and not c.owner):
        if cls in NOT_MOVED:
            continue
        for ref, rec in store.records(cls):
            if ref == app.control_domain:
                continue
            rec = dict(rec)
            if cls == "host":
                for key in _POOL_KEYS:
                    rec.pop(key, None)
            elif cls in ("SR", "network"):
                rec[HOST_KEY] = app.host_of(rec)   # its own now, where it was implied
            out.append((cls, ref, rec, store.private(ref)))
    return out


def join(app, pool_handler, pool):
    """Move this host's objects into the pool's database, where ``pool`` (the master's
    pool ref) must be; the clashes refused with nothing written."""
    engine = app.pool_engine()
    try:
        held = {ref: (cls, rec) for cls, ref, rec, _ in engine.load()}
        since = engine.begin()     # what was committed since load, under the writers' lock
        if isinstance(since, Reload):
            held = {ref: (cls, rec) for cls, ref, rec, _ in since}
            since = []
        for commit in since:
            for op, cls, ref, rec, _ in commit:
                if op == "del":
                    held.pop(ref, None)
                else:
                    held[ref] = (cls, rec)
        masters = [ref for ref, (cls, rec) in held.items()
                   if cls == "host" and rec.get(MASTER_KEY)]
        if [pool_handler.ref_of(m) for m in masters] != [pool]:
            raise ApiError("POOL_JOINING_HOST_WRONG_DATABASE", pool)
        moved = moved_objects(app)
        name = app.store.get("host", app.host_ref)["name_label"]
        if any(cls == "host" and rec.get("name_label") == name
               for cls, rec in held.values()):
            raise ApiError("POOL_JOINING_HOST_NAME_CLASH", name)
        for cls, ref, _, _ in moved:
            if ref in held:
                raise ApiError("POOL_JOINING_HOST_UUID_CLASH", cls, ref)
        engine.commit([("add", cls, ref, rec, private) for cls, ref, rec, private in moved])
    except BaseException:
        engine.abort()
        raise
    finally:
        engine.close()


def eject(app, host):
    """Take ``host`` out of the pool: its host, CPUs, control domain and local SRs (with
    their VDIs and those VDIs' VBDs) leave the database in one write; its guests must
    be halted. The ejected host's daemon sees its host deleted and restarts alone."""
    store = app.store
    if host == app.master_ref:
        raise ApiError("OPERATION_NOT_ALLOWED", "host %s is the pool's master: the master "
                       "is not ejected" % host)
    with store.transaction() as txn:
        control = app.control_domain_of(host)
        running = [vm for vm in txn.referrers("VM", "resident_on", host) if vm != control]
        if running:
            raise ApiError("HOST_HAS_RESIDENT_VMS", host, ",".join(running))
        gone = [("VM", control)] + [("host_cpu", c) for c in
                                    txn.referrers("host_cpu", "host", host)]
        gone += [("console", c) for c in txn.referrers("console", "VM", control)]
        for sr, rec in store.records("SR"):
            if srreach.local_host(app, rec) != host:
                continue     # another host's, or shared: the pool keeps it
            for vdi in txn.referrers("VDI", "SR", sr):
                gone += [("VBD", vbd) for vbd in txn.referrers("VBD", "VDI", vdi)]
                gone.append(("VDI", vdi))
            gone.append(("SR", sr))
        for cls, ref in gone + [("host", host)]:
            if txn.get(cls, ref) is not None:
                txn.delete(cls, ref)
