"""The store's engines under test (tests/unit/test_store*.py): each a database a test
opens stores on, and reads back apart from the store, the way an administrator would."""

import json
import sqlite3

from xen.xend.state.sqlite import SqliteEngine


class SqliteDatabase:
    """The SQLite file ``xend.db`` in ``directory``."""

    def __init__(self, directory):
        self.path = str(directory / "xend.db")

    def engine(self):
        return SqliteEngine(self.path)

    def rows(self):
        """{ref: (class, record)} as the file holds them."""
        con = sqlite3.connect(self.path)
        try:
            return {ref: (cls, json.loads(rec)) for ref, cls, rec in
                    con.execute("SELECT ref, class, record FROM objects")}
        finally:
            con.close()

    def insert(self, ref, cls, record):
        """A row written behind the store's back."""
        con = sqlite3.connect(self.path)
        con.execute("INSERT INTO objects VALUES (?, ?, ?, '{}')", (ref, cls, json.dumps(record)))
        con.commit()
        con.close()


class PostgresDatabase:
    """A new database on the session's PostgreSQL server (harness.Postgres)."""

    def __init__(self, server):
        self.server = server
        self.uri = server.new_database()
        self.name = self.uri.rsplit("/", 1)[1]

    def engine(self, retention=300.0):
        """An engine on the database whose log keeps each commit ``retention`` seconds."""
        from xen.xend.state.postgres import PostgresEngine
        return PostgresEngine(self.uri, self.server.password, retention)

    def log(self):
        """The change log's seqs, in order."""
        return [int(seq) for seq in
                self.server.psql("SELECT seq FROM change_log ORDER BY seq", self.name).split()]

    def pruned(self):
        """The last seq pruned from the log."""
        return int(self.server.psql("SELECT value FROM meta WHERE key = 'pruned'", self.name))

    def text(self):
        """Everything the objects and the change log hold, as text."""
        return self.server.psql("SELECT ref || class || record || private FROM objects "
                                "UNION ALL SELECT changes FROM change_log", self.name)

    def rows(self):
        out = self.server.psql("SELECT ref, class, record FROM objects", self.name)
        return {ref: (cls, json.loads(rec)) for ref, cls, rec in
                (line.split("|", 2) for line in out.splitlines())}

    def insert(self, ref, cls, record):
        self.server.psql("INSERT INTO objects (ref, class, record, private) VALUES "
                         "('%s', '%s', '%s', '{}')" % (ref, cls, json.dumps(record)), self.name)


def database(request, tmp_path):
    """The database a test parametrised over "sqlite" and "postgres" runs on."""
    if request.param == "sqlite":
        return SqliteDatabase(tmp_path)
    return PostgresDatabase(request.getfixturevalue("postgres"))
