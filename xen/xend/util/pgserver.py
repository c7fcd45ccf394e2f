"""A PostgreSQL server of one's own: Debian's initdb and pg_ctl run as an unprivileged
user in a directory of the caller's, for the store's tests (tests/harness.py's
``Postgres``) and for tools/pool-up's pool.

Local connections (a Unix socket in the directory) are trusted, for the superuser's
``psql``; TCP ones need a password: the role ``xend`` logs in with the one it is made
with, as a daemon given ``database_password_file`` does.
"""

import glob
import os
import shutil
import subprocess

# Debian's server binaries, the newest version installed (None without the server).
PG_BIN = max(glob.glob("/usr/lib/postgresql/*/bin"), default=None,
             key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)

ROLE = "xend"


class Server:
    """One server: its cluster in ``directory``/data, owned and run by ``user`` (the
    server refuses root), listening on ``address``:``port`` and on a Unix socket in
    ``directory``. ``clients``: the networks (CIDR) besides loopback whose connections
    are let in with a password."""

    def __init__(self, directory, address="127.0.0.1", port=5432, user="nobody",
                 clients=()):
        self.dir = directory
        self.data = os.path.join(directory, "data")
        self.address = address
        self.port = port
        self.user = user
        self.clients = tuple(clients)

    def create(self, password, fsync=True):
        """Make the cluster and the role ``xend`` with ``password``, and start the
        server. ``fsync`` False: faster, for servers that are only ever stopped
        cleanly (a crash of the machine may lose their commits)."""
        shutil.chown(self.dir, self.user)
        self._as_server([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres",
                         "-E", "UTF8", "--auth-local=trust", "--auth-host=scram-sha-256"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '%s'\nport = %d\nunix_socket_directories = '%s'\n"
                    % (self.address, self.port, self.dir))
            if not fsync:
                f.write("fsync = off\n")
        with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
            for network in self.clients:
                f.write("host all all %s scram-sha-256\n" % network)
        self.start()
        self.psql("CREATE ROLE %s LOGIN PASSWORD '%s'" % (ROLE, password))

    def _as_server(self, argv):
        subprocess.run(argv, user=self.user, cwd=self.dir, check=True, capture_output=True)

    def start(self):
        """Start the server; return once it accepts connections."""
        self._as_server([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-w",
                         "-l", os.path.join(self.dir, "server.log"), "start"])

    def stop(self):
        """Stop the server (fast: every connection is cut at once)."""
        self._as_server([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-w",
                         "-m", "fast", "stop"])

    def running(self):
        """True while the server runs (pg_ctl status)."""
        out = subprocess.run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "status"],
                             user=self.user, cwd=self.dir, capture_output=True)
        return out.returncode == 0

    def psql(self, sql, database="postgres"):
        """What ``sql`` prints, run by the superuser (rows as lines, fields |-separated)."""
        out = subprocess.run([os.path.join(PG_BIN, "psql"), "-h", self.dir, "-p",
                              str(self.port), "-U", "postgres", "-d", database, "-Atq",
                              "-v", "ON_ERROR_STOP=1", "-c", sql],
                             check=True, capture_output=True, text=True)
        return out.stdout

    def create_database(self, name):
        """Make the empty database ``name`` owned by the role ``xend``; its URI (no
        password: a daemon reads that from its password file)."""
        self.psql("CREATE DATABASE %s OWNER %s" % (name, ROLE))
        return "postgresql://%s@%s:%d/%s" % (ROLE, self.address, self.port, name)
