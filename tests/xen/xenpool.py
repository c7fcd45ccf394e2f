"""Two nested Xen hosts in one pool, for the Xen tier's migration tests.

Each host is a ``xenhost.XenHost`` with a second NIC: the two dom0s' eth1 are the ends of
one wire (a QEMU socket netdev over the loopback, ``xenhost.LINK_NET``.1 and .2), which
carries the pool channel and the guests' migration streams, as a pool's own network
would. Both share one host directory read-write (``xenhost.SHARED_IN_DOM0``: storage
every member reaches), and host 1's dom0 exports a directory over NFS on the wire
(``NFS_EXPORT``, served by its kernel's NFS server) for "nfs" SRs. The daemons keep
their store in one PostgreSQL database of the machine (harness.Postgres), which dom0
reaches through QEMU's user network (10.0.2.2 is the machine's loopback there); they
call one another over TLS with certificates of a CA made for the pool.
"""

import os
import threading
import time

import xenhost
from harness import Postgres, free_port, make_ca

from xen.xend.transport import tls

POOL_DIR = "/etc/xen/pool"          # in dom0: the TLS material and the database password
POOL_PORT = 4466                    # in dom0: the TLS listener the pool channel uses
SLIRP_HOST = "10.0.2.2"             # the machine's loopback, seen from dom0
NFS_EXPORT = "/srv/xend-nfs"        # in host 1's dom0: what it exports over NFS


class XenPool:
    """Two nested Xen hosts (``hosts``), their daemons members of one pool: ``up()``,
    then ``close()``."""

    def __init__(self, image, directory, count=2):
        self.image = image
        self.directory = directory
        self.shared = os.path.join(directory, "shared")
        os.makedirs(self.shared, mode=0o755)
        wire = free_port()
        self.hosts = [xenhost.XenHost(image, shared_dir=self.shared,
                                      link=("listen" if k == 1 else "connect", wire, k))
                      for k in range(1, count + 1)]
        self.postgres = None

    def up(self):
        """Boot the hosts (the wire's listening end first), then start the database and
        each member's daemon; ``self``."""
        errors = []

        def wait(host):
            try:
                host.wait_booted()
            except BaseException as e:        # reported below, with the host's console
                errors.append(e)
        threads = []
        for host in self.hosts:
            host.launch()
            time.sleep(1)       # QEMU binds the wire's port before the other end connects
            threads.append(threading.Thread(target=wait, args=(host,)))
            threads[-1].start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        self.postgres = Postgres()
        database = self.postgres.daemon_config(self.directory).splitlines()
        uri = database[0].split('"')[1].replace("127.0.0.1", SLIRP_HOST)
        ca = make_ca(self.directory)
        for host in self.hosts:
            host.bring_up_link()
        self._serve_nfs(self.hosts[0])
        for host in self.hosts:
            self._install_tls(host, ca)
            host.write_file(POOL_DIR + "/database-password", self.postgres.password + "\n",
                            mode=0o600)
            host.start_daemon(extra_config="\n".join([
                'database = "%s"' % uri,
                'database_password_file = "%s/database-password"' % POOL_DIR,
                'tls_listen = "0.0.0.0:%d"' % POOL_PORT,
                'tls_cert = "%s/cert.pem"' % POOL_DIR,
                'tls_key = "%s/key.pem"' % POOL_DIR,
                'pool_ca_file = "%s/ca.pem"' % POOL_DIR,
                'pool_address = "%s"' % host.link_address]))
        return self

    @property
    def nfs_server(self):
        """The address of the NFS server (host 1 on the wire)."""
        return self.hosts[0].link_address

    @staticmethod
    def _serve_nfs(host):
        """Export NFS_EXPORT (a tmpfs of its own) from ``host``'s dom0 to the wire with the
        kernel's NFS server (version 4: rpcbind and mountd only serve the kernel here)."""
        host.check(" && ".join([
            "mkdir -p /run/rpcbind /var/lib/nfs/v4recovery " + NFS_EXPORT,
            "mount -t nfsd nfsd /proc/fs/nfsd",
            "mount -t tmpfs tmpfs " + NFS_EXPORT,
            "echo '%s %s.0/24(rw,sync,no_root_squash,no_subtree_check,fsid=1)' >/etc/exports"
            % (NFS_EXPORT, xenhost.LINK_NET),
            "rpcbind -w", "exportfs -ra", "rpc.mountd", "rpc.nfsd 4"]), timeout=120)

    def _install_tls(self, host, ca):
        """A certificate for the host's address on the wire, signed by the pool's CA,
        into POOL_DIR with the CA's certificate."""
        name = "host%d" % host.link[2]
        cert, key = (os.path.join(self.directory, "%s-%s.pem" % (name, n))
                     for n in ("cert", "key"))
        tls.issue(cert, key, host.link_address, [], [host.link_address], issuer=ca)
        for path, there, mode in ((ca[0], "ca.pem", 0o644), (cert, "cert.pem", 0o644),
                                  (key, "key.pem", 0o600)):
            with open(path) as f:
                host.write_file("%s/%s" % (POOL_DIR, there), f.read(), mode=mode)

    def close(self):
        """Stop the hosts (their QEMUs: daemons and guests with them) and the database."""
        for host in self.hosts:
            host.close()
        if self.postgres is not None:
            self.postgres.cleanup()
