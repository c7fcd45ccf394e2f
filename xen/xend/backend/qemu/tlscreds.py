"""TLS for the streams between two hosts' QEMUs (a live migration's memory and its
disks' NBD copy): QEMU's ``tls-creds-x509`` object, made from the host's own
certificate and key and the CA that signed every host's (the pool's).

The backend is handed ``tls`` = {"cert", "key", "ca"}: paths of PEM files of the
daemon's. QEMU reads credentials only from files of fixed names in one directory
(``ca-cert.pem``, and ``server-cert.pem``/``server-key.pem`` on the side that listens,
``client-cert.pem``/``client-key.pem`` on the side that connects), once, when the
object is made. So the daemon copies them into a directory of the guest's state
directory (root's, 0700: QEMU's unprivileged user cannot walk into it), the copies
owned by QEMU's user and private to it, hands QEMU a descriptor of that directory
(``add-fd``) and names the directory ``/proc/self/fd/N``: QEMU reaches it through its
own descriptor, never through the directories above. Once the object is made the
copies and the descriptor are gone. Both ends check the other's certificate against
the CA; the connecting side also checks that it names the address it connects to.
"""

import os
import shutil

from xen.xend.util.files import open_own

from ..base import BackendError

CREDS = "xend-migration-tls"            # the object's id in QEMU
FOLDER = "migration-tls"                # its files' directory, in the guest's state dir
ENDPOINT_FILES = {"server": ("server-cert.pem", "server-key.pem"),
                  "client": ("client-cert.pem", "client-key.pem")}
KEYS = ("cert", "key", "ca")


def check(tls):
    """VALUE_NOT_SUPPORTED unless ``tls`` is None or names the files KEYS."""
    if tls is None:
        return
    if not isinstance(tls, dict) or any(not isinstance(tls.get(k), str) or not tls[k]
                                        for k in KEYS):
        raise BackendError("VALUE_NOT_SUPPORTED", "tls", str(tls),
                           "a map of the PEM files " + ", ".join(KEYS))


def _copy(source, target, account):
    """Copy the file ``source`` to a new ``target`` (0600) readable by ``account``
    (its owner then), else by the daemon's user alone."""
    with open(source, "rb") as f:
        data = f.read()
    fd = open_own(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with os.fdopen(fd, "wb") as f:
        if account is not None:
            os.fchown(f.fileno(), account.uid, account.gid)
        f.write(data)


async def add(dom, tls, endpoint, account):
    """Make the credentials object CREDS in the QEMU of ``dom`` from ``tls`` as
    ``endpoint`` ("server": the target; "client": the source), for QEMU's ``account``
    (None: the daemon's own user). VM_MIGRATE_FAILED where a file cannot be read or
    QEMU refuses them (a certificate not the CA's, a key not the certificate's)."""
    folder = os.path.join(dom.state_dir, FOLDER)
    shutil.rmtree(folder, ignore_errors=True)       # what an interrupted attempt left
    try:
        os.mkdir(folder, 0o700)
        if account is not None:
            os.chown(folder, account.uid, account.gid)
        cert, key = ENDPOINT_FILES[endpoint]
        for name, target in (("ca", "ca-cert.pem"), ("cert", cert), ("key", key)):
            _copy(tls[name], os.path.join(folder, target), account)
        dirfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        shutil.rmtree(folder, ignore_errors=True)
        raise BackendError("VM_MIGRATE_FAILED", dom.uuid, "cannot hand QEMU the host's "
                           "TLS certificate: %s" % err) from None
    try:
        handed = await dom.qmp("add-fd", {"opaque": "migration-tls"}, fd=dirfd)
        try:
            await dom.qmp("object-add", {
                "qom-type": "tls-creds-x509", "id": CREDS, "endpoint": endpoint,
                "verify-peer": True, "dir": "/proc/self/fd/%d" % handed["fd"]})
        finally:
            await dom.qmp("remove-fd", {"fdset-id": handed["fdset-id"]}, undo=True)
    except BackendError as err:
        raise BackendError("VM_MIGRATE_FAILED", dom.uuid, "QEMU refused the host's TLS "
                           "certificate: %s" % err.params[-1]) from None
    finally:
        os.close(dirfd)
        shutil.rmtree(folder, ignore_errors=True)


async def drop(dom):
    """End the use of CREDS by the migration of ``dom``'s QEMU, if it uses them, and
    delete the object (a later migration of the guest makes its own); failures are
    logged."""
    if not (await dom.qmp("query-migrate-parameters", undo=True) or {}).get("tls-creds"):
        return
    await dom.qmp("migrate-set-parameters", {"tls-creds": ""}, undo=True)
    await dom.qmp("object-del", {"id": CREDS}, undo=True)
