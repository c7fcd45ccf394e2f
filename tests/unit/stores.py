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

    def engine(self):
        from xen.xend.state.postgres import PostgresEngine
        return PostgresEngine(self.uri, self.server.password)

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
