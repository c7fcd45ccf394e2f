"""Helpers of the task and event tests (imported as ``taskutil``; what other
tiers use too, event watchers included, is in tests/harness.py)."""

import threading
import urllib.request
import xmlrpc.client

from harness import FINISHED, STATE_WAIT, Watcher, wait_until


def wait_task(x, task, timeout=STATE_WAIT):
    """The task's record once it has finished."""
    def done():
        rec = x.task.get_record(task)
        return rec if rec["status"] in FINISHED else None
    return wait_until(done, timeout, "task %s to finish" % task)


def wait_no_running_tasks(x, timeout=STATE_WAIT):
    """Wait until get_all_tasks (the caller's executing tasks) is empty."""
    wait_until(lambda: not x.task.get_all_tasks(), timeout, "tasks to finish")


def raw_login(daemon, user, password):
    """A plain xmlrpc.client proxy over TCP and a session handle (no SDK)."""
    proxy = xmlrpc.client.ServerProxy(daemon.url)
    reply = proxy.session.login_with_password(user, password)
    assert reply["Status"] == "Success", reply
    return proxy, reply["Value"]


def served_dtd(daemon):
    """The DTD text served at GET /xen-api.dtd."""
    with urllib.request.urlopen(daemon.url + "xen-api.dtd", timeout=10) as r:
        assert r.status == 200
        return r.read().decode("utf-8")


class Subscribers:
    """``n`` threads, each with its own SDK session (Sessions are not thread-safe) and
    Watcher, collecting events concurrently from the moment the constructor returns."""

    def __init__(self, daemon, classes, n, until, timeout=30.0):
        self.results = [None] * n
        self.errors = []
        ready = threading.Barrier(n + 1)

        def run(i):
            s = daemon.sdk_unix()
            try:
                w = Watcher(s.xenapi, classes)
                ready.wait(10)
                self.results[i] = w.collect(until, timeout) + w.drain(0.3)
            except Exception as e:      # reported by join()
                self.errors.append(e)
                ready.abort()
            finally:
                try:
                    s.xenapi.session.logout()
                except Exception:
                    pass

        self.threads = [threading.Thread(target=run, args=(i,), daemon=True)
                        for i in range(n)]
        for t in self.threads:
            t.start()
        ready.wait(10)

    def join(self, timeout=40.0):
        """Every subscriber's events, once each has finished."""
        for t in self.threads:
            t.join(timeout)
        assert not self.errors, self.errors
        assert all(r is not None for r in self.results), "a subscriber did not finish"
        return self.results
