#!/usr/bin/env python3
"""A fake ``xl`` for the tests of the Xen migration (test_xen_migrate.py,
test_xen_migrelay.py): ``migrate ... RUNE`` and ``migrate-receive``, speaking the
protocol of tools/xl/xl_migrate.c (Xen 4.17). FAKE_XL_SIZE random bytes stand for the
guest, told to the receiver by a first line; each side notes in the directory
FAKE_XL_MARKS what it saw (files named as in ``mark`` calls)."""

import hashlib
import os
import subprocess
import sys

BANNER = b"xl migration receiver ready, send binary domain data.\n"
READY = b"domain received, ready to unpause\0"
GO = b"domain is yours, you are cleared to unpause\0"
REPORT = b"my copy unpause results are as follows\0"

def mark(name, text=""):
    with open(os.path.join(os.environ["FAKE_XL_MARKS"], name), "w") as f:
        f.write(text)

def put(f, data):
    f.write(data)
    f.flush()

def end(child, rc, said):
    print(said, file=sys.stderr, flush=True)
    try:
        child.stdin.close()
    except OSError:
        pass
    mark("relay-rc", str(child.wait()))
    mark("migrate-rc", str(rc))
    return rc

def migrate(rune):
    child = subprocess.Popen(["sh", "-c", rune], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    data = os.urandom(int(os.environ["FAKE_XL_SIZE"]))
    mark("sent-sha256", hashlib.sha256(data).hexdigest())
    try:
        if child.stdout.read(len(BANNER)) != BANNER:
            raise OSError("no banner")
        put(child.stdin, b"%d\n" % len(data) + data)
        if child.stdout.read(len(READY)) != READY:
            raise OSError("no ready message")
    except OSError:
        return end(child, 1, "Migration failed, resuming at sender.")
    mark("got-ready")
    print("migration sender: Target has acknowledged transfer.", file=sys.stderr, flush=True)
    put(child.stdin, GO)
    if child.stdout.read(len(REPORT)) != REPORT or child.stdout.read(1) != b"\0":
        return end(child, 1, "Migration failed, failed to suspend at sender.")
    return end(child, 0, "Migration successful.")

def receive():
    out, inp = sys.stdout.buffer, sys.stdin.buffer
    put(out, BANNER)
    line = inp.readline()
    data = inp.read(int(line)) if line.strip() else b""
    if not line or len(data) < int(line):
        return mark("receiver-eof") or 1
    mark("received-sha256", hashlib.sha256(data).hexdigest())
    put(out, READY)
    if inp.read(len(GO)) != GO:
        return mark("receiver-eof") or 1
    put(out, REPORT + b"\0")
    return 0

sys.exit(migrate(sys.argv[-1]) if sys.argv[1] == "migrate" else receive())
