"""Helpers for the xm tests: run the real ``xm`` as a subprocess, read its tables."""

import os
import shlex
import subprocess
import sys

import pexpect
from harness import ROOT


class Xm:
    """Runs ``python -m xen.xm --socket SOCKET ...`` and checks its exit status."""

    def __init__(self, socket):
        self.socket = socket

    def run(self, *args, env=None, input=None, socket=True):
        """The CompletedProcess of one xm run (text mode, no terminal)."""
        full_env = dict(os.environ)
        for name in ("XEND_SOCKET", "XEND_PASSWORD", "XEND_NEW_PASSWORD"):
            full_env.pop(name, None)
        full_env.update(env or {})
        cmd = [sys.executable, "-m", "xen.xm"] + (["--socket", self.socket] if socket else [])
        # A session of its own: no controlling terminal, so getpass reads stdin.
        return subprocess.run(cmd + list(args), cwd=ROOT, env=full_env, input=input or "",
                              capture_output=True, text=True, timeout=60,
                              start_new_session=True)

    def __call__(self, *args, **kwargs):
        """Run xm, require success, return its stdout."""
        p = self.run(*args, **kwargs)
        assert p.returncode == 0, "xm %s -> %d\n%s%s" % (" ".join(args), p.returncode,
                                                         p.stdout, p.stderr)
        assert "Traceback" not in p.stderr, p.stderr
        return p.stdout

    def fails(self, *args, code=1, **kwargs):
        """Run xm, require exit status ``code`` and no traceback; return its stderr."""
        p = self.run(*args, **kwargs)
        assert p.returncode == code, "xm %s -> %d, not %d\n%s%s" % (
            " ".join(args), p.returncode, code, p.stdout, p.stderr)
        assert "Traceback" not in p.stderr + p.stdout, p.stderr
        return p.stderr


    def error_line(self, *args, code=1, **kwargs):
        """Run xm, require exit status ``code``, nothing on stdout and a single line on
        stderr (so no traceback either); return that line."""
        p = self.run(*args, **kwargs)
        assert (p.returncode, p.stdout) == (code, ""), "xm %s -> %d\n%s%s" % (
            " ".join(args), p.returncode, p.stdout, p.stderr)
        assert p.stderr.endswith("\n") and p.stderr.count("\n") == 1, p.stderr
        return p.stderr[:-1]


def table(text):
    """An xm table as a list of dicts keyed by its header row."""
    lines = [line.split() for line in text.strip().splitlines()]
    return [dict(zip(lines[0], row)) for row in lines[1:]]


def snapshot(root):
    """The refs of every object xm can create, to show that a failed command made none."""
    return {cls: sorted(getattr(root, cls).get_all())
            for cls in ("VM", "VBD", "VIF", "VDI", "SR", "network", "user")}


class Shell:
    """bash at a real terminal (a pexpect pseudo-terminal), to run xm where a person
    would: its commands' output, and the terminal's modes before and after."""

    PROMPT = "[xm-shell]$ "

    def __init__(self, socket):
        env = {k: v for k, v in os.environ.items()
               if k not in ("XEND_SOCKET", "XEND_PASSWORD", "PROMPT_COMMAND")}
        self.child = pexpect.spawn("bash", ["--norc", "--noprofile"], cwd=ROOT, env=env,
                                   encoding="utf-8", timeout=30, dimensions=(24, 200))
        self.socket = socket
        # Quoted apart so that the echo of this command is not taken for the prompt; and
        # no bracketed-paste sequences around commands' output.
        self.child.sendline("bind 'set enable-bracketed-paste off'; PS1='[xm-''shell]$ '")
        self.expect_prompt()

    def expect(self, text):
        """Wait for ``text`` (plain, not a pattern) in the terminal's output."""
        self.child.expect_exact(text)

    def expect_prompt(self):
        """Wait until the shell is back at its prompt; the output before it."""
        self.child.expect_exact(self.PROMPT)
        return self.child.before

    def xm(self, *args, socket=True):
        """Start xm with ``args`` (not waiting for it)."""
        cmd = [sys.executable, "-m", "xen.xm"] + (["--socket", self.socket] if socket else [])
        self.child.sendline(" ".join(shlex.quote(a) for a in cmd + list(args)))

    def run(self, command):
        """Run a shell command to its end; its output."""
        self.child.sendline(command)
        return self.expect_prompt().split("\n", 1)[1]

    def close(self):
        self.child.close(force=True)
