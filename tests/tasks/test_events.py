"""Events (docs/api.md "Events"): event.from and event.register/next, as in the later Xen-API.

Every committed change is exactly one event, in commit order; subscribers hold tokens.
"""

import signal
import socket
import threading
import time
import xmlrpc.client

import pytest
from harness import STATE_WAIT, Daemon, Watcher, event_from, failure, make_user, wait_until
from taskutil import Subscribers, wait_task

from xen.xend.api import datamodel


def _key(e):
    return (e["class"], e["operation"], e["ref"])


# -- event.from("") -------------------------------------------------------------------------------

def test_from_empty_token_gives_an_add_for_every_object(daemon, root):
    net = root.network.create({"name_label": "ev-net"})
    vm = root.VM.create({"name_label": "ev-vm"})
    sr = root.SR.create({"name_label": "ev-sr"})
    batch = event_from(root, ["*"], "", 0)
    assert isinstance(batch["token"], str) and batch["token"]
    events = batch["events"]
    assert all(e["operation"] == "add" for e in events)
    assert len({(e["class"], e["ref"]) for e in events}) == len(events)   # one each
    for cls in ("VM", "network", "SR", "host", "host_cpu", "user", "session", "task", "VIF",
                "VDI", "VBD", "console"):
        refs = getattr(root, cls).get_all()
        assert sorted(e["ref"] for e in events if e["class"] == cls.lower()) == sorted(refs)
        assert batch["valid_ref_counts"][cls.lower()] == len(refs)
    by_ref = {e["ref"]: e for e in events}
    for ref, cls in ((net, "network"), (vm, "VM"), (sr, "SR")):
        assert by_ref[ref]["snapshot"] == getattr(root, cls).get_record(ref)
        assert by_ref[ref]["obj_uuid"] == ref
    assert set(batch["valid_ref_counts"]) == {
        name.lower() for name, cls in datamodel.CLASSES.items() if cls.objects}


def test_from_empty_token_for_some_classes(daemon, root):
    vm = root.VM.create({"name_label": "only-vms"})
    batch = event_from(root, ["vm"], "", 0)
    assert {e["class"] for e in batch["events"]} == {"vm"}
    assert vm in {e["ref"] for e in batch["events"]}
    assert set(batch["valid_ref_counts"]) == {"vm"}
    one = event_from(root, ["vm/" + vm], "", 0)["events"]
    assert [(e["ref"], e["operation"]) for e in one] == [(vm, "add")]


# -- one event per committed change, in order -----------------------------------------------------

def test_every_kind_of_change_is_exactly_one_event_in_commit_order(daemon, root):
    """One event per changed object per commit, in commit order; an object whose bound
    Set field changed (VM.VBDs when a VBD is made) is one of the changed objects."""
    expected = []
    made = {}
    subs = Subscribers(daemon, ["vm", "network", "vdi", "sr", "vbd"], 2,
                       until=lambda evs: "vm" in made and
                       ("vm", "del", made["vm"]) in [_key(e) for e in evs])
    net = root.network.create({"name_label": "n1"})
    expected.append(("network", "add", net, {"name_label": "n1"}))
    vm = made["vm"] = root.VM.create({"name_label": "v1"})
    expected.append(("vm", "add", vm, {"name_label": "v1", "power_state": "Halted"}))
    root.VM.set_name_label(vm, "v2")
    expected.append(("vm", "mod", vm, {"name_label": "v2"}))
    root.VM.add_to_VCPUs_features_force_on(vm, "FPU")
    expected.append(("vm", "mod", vm, {"VCPUs_features_force_on": ["FPU"]}))
    root.VM.add_to_VCPUs_features_force_on(vm, "TSC")
    expected.append(("vm", "mod", vm, {"VCPUs_features_force_on": ["FPU", "TSC"]}))
    root.VM.remove_from_VCPUs_features_force_on(vm, "FPU")
    expected.append(("vm", "mod", vm, {"VCPUs_features_force_on": ["TSC"]}))
    root.network.set_NIC(net, "eth9")
    expected.append(("network", "mod", net, {"NIC": "eth9"}))
    root.VM.start(vm, False)
    expected.append(("vm", "mod", vm, {"power_state": "Running"}))
    root.VM.pause(vm)
    expected.append(("vm", "mod", vm, {"power_state": "Paused"}))
    root.VM.hard_shutdown(vm)
    expected.append(("vm", "mod", vm, {"power_state": "Halted"}))
    sr = root.SR.create({"name_label": "s1"})
    expected.append(("sr", "add", sr, {}))
    vdi = root.VDI.create({"name_label": "d1", "SR": sr, "virtual_size": "2048"})
    expected.append(("vdi", "add", vdi, {"SR": sr}))
    expected.append(("sr", "mod", sr, {"VDIs": [vdi]}))
    vbd = root.VBD.create({"VM": vm, "VDI": vdi})
    expected.append(("vbd", "add", vbd, {"VM": vm, "VDI": vdi}))
    expected.append(("vdi", "mod", vdi, {"VBDs": [vbd]}))
    expected.append(("vm", "mod", vm, {"VBDs": [vbd]}))
    root.VBD.set_device(vbd, "xvda")
    expected.append(("vbd", "mod", vbd, {"device": "xvda"}))
    root.network.destroy(net)
    expected.append(("network", "del", net, None))
    root.VM.destroy(vm)          # cascades to its VBD in the same transaction
    expected.append(("vbd", "del", vbd, None))
    expected.append(("vm", "del", vm, None))
    expected.append(("vdi", "mod", vdi, {"VBDs": []}))

    got, other = subs.join()     # each drained 0.3 s more: nothing else came
    assert [(e["id"], _key(e), e.get("snapshot")) for e in got] == \
        [(e["id"], _key(e), e.get("snapshot")) for e in other]
    # the cascade's two deletes are one commit: either order inside it
    keys = [_key(e) for e in got]
    want = [(c, o, r) for c, o, r, _ in expected]
    assert keys[:-3] + sorted(keys[-3:-1]) + keys[-1:] == \
        want[:-3] + sorted(want[-3:-1]) + want[-1:]
    ids = [int(e["id"]) for e in got]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    got = got[:-3] + sorted(got[-3:-1], key=_key) + got[-1:]
    expected = expected[:-3] + sorted(expected[-3:-1], key=lambda x: x[:3]) + expected[-1:]
    for e, (_, op, ref, fields) in zip(got, expected):
        assert e["obj_uuid"] == ref
        assert isinstance(e["timestamp"], xmlrpc.client.DateTime) and e["timestamp"].value
        if op == "del":
            assert "snapshot" not in e
        else:
            for k, v in fields.items():
                assert e["snapshot"][k] == v, (e, k)


def test_a_tasks_changes_are_events(daemon, root):
    vm = root.VM.create({"name_label": "task-ev"})
    w = Watcher(root, ["task", "vm"])
    task = root.Async.VM.set_name_label(vm, "task-ev2")
    wait_task(root, task)
    root.task.destroy(task)
    got = w.collect(lambda evs: ("task", "del", task) in [_key(e) for e in evs])
    got += w.drain(0.2)
    keys = [_key(e) for e in got]
    assert keys[0] == ("task", "add", task)
    assert got[0]["snapshot"]["status"] == "pending"
    assert keys[-1] == ("task", "del", task)
    assert keys.count(("vm", "mod", vm)) == 1
    done = [i for i, e in enumerate(got) if e["class"] == "task" and e["operation"] == "mod"
            and e["snapshot"]["status"] == "success"]
    assert len(done) == 1
    # the VM changed while the task ran: between its add and its success
    assert 0 < keys.index(("vm", "mod", vm)) < done[0]
    assert got[done[0]]["snapshot"]["progress"] == 1.0
    assert set(keys) <= {("task", "add", task), ("task", "mod", task), ("task", "del", task),
                         ("vm", "mod", vm)}


def test_two_concurrent_subscribers_see_the_same_events(daemon, root):
    n = 40
    marker = root.VM.create({"name_label": "marker"})
    subs = Subscribers(daemon, ["vm"], 2,
                       until=lambda evs: ("vm", "del", marker) in [_key(e) for e in evs])
    expected = []
    vms = []
    for i in range(n):
        if i % 4 == 0:
            vms.append(root.VM.create({"name_label": "c%d" % i}))
            expected.append(("vm", "add", vms[-1]))
        elif i % 4 == 3:
            gone = vms.pop(0)
            root.VM.destroy(gone)
            expected.append(("vm", "del", gone))
        else:
            root.VM.set_name_label(vms[-1], "c%d" % i)
            expected.append(("vm", "mod", vms[-1]))
    root.VM.destroy(marker)
    expected.append(("vm", "del", marker))
    a, b = subs.join()
    assert [(e["id"], _key(e), e.get("snapshot")) for e in a] == \
        [(e["id"], _key(e), e.get("snapshot")) for e in b]
    assert [_key(e) for e in a] == expected
    ids = [int(e["id"]) for e in a]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    names = [e["snapshot"]["name_label"] for e in a if e["operation"] != "del"]
    assert names == ["c%d" % i for i in range(n) if i % 4 != 3]


# -- waiting --------------------------------------------------------------------------------------

def test_from_with_a_timeout_and_no_changes_returns_no_events(daemon, root):
    token = event_from(root, ["vm"], "", 0)["token"]
    batch = event_from(root, ["vm"], token, 0.5)
    assert batch["events"] == []
    assert isinstance(batch["token"], str)
    # the returned token is still good
    vm = root.VM.create({"name_label": "after-wait"})
    got = event_from(root, ["vm"], batch["token"], 5)["events"]
    assert [_key(e) for e in got] == [("vm", "add", vm)]


def test_from_returns_when_a_change_arrives(daemon, root):
    vm = root.VM.create({"name_label": "waiter"})
    token = event_from(root, ["vm/" + vm], "", 0)["token"]
    result = {}

    def wait():
        s = daemon.sdk_unix()
        try:
            result["batch"] = event_from(s.xenapi, ["vm/" + vm], token, 30)
        finally:
            s.xenapi.session.logout()
    t = threading.Thread(target=wait, daemon=True)
    t.start()
    time.sleep(0.3)
    root.VM.set_name_label(vm, "woken")
    t.join(20)
    assert not t.is_alive(), "event.from did not return after the change"
    events = result["batch"]["events"]
    assert [_key(e) for e in events] == [("vm", "mod", vm)]
    assert events[0]["snapshot"]["name_label"] == "woken"


# -- subscriptions --------------------------------------------------------------------------------

def test_subscription_forms(daemon, root):
    v1 = root.VM.create({"name_label": "sub-1"})
    v2 = root.VM.create({"name_label": "sub-2"})
    token = event_from(root, ["*"], "", 0)["token"]
    net = root.network.create({"name_label": "sub-net"})
    root.VM.set_name_label(v1, "sub-1b")
    root.VM.set_name_label(v2, "sub-2b")

    def seen(classes):
        return [_key(e) for e in event_from(root, classes, token, 2)["events"]]
    vm_events = [("vm", "mod", v1), ("vm", "mod", v2)]
    assert seen(["vm"]) == vm_events
    assert seen(["VM"]) == vm_events
    assert seen(["Vm"]) == vm_events
    assert seen(["vm/" + v1]) == [("vm", "mod", v1)]
    assert seen(["VM/" + v2]) == [("vm", "mod", v2)]
    assert seen(["vm/" + v1, "network"]) == [("network", "add", net), ("vm", "mod", v1)]
    assert seen(["*"])[-3:] == [("network", "add", net)] + vm_events
    assert seen(["network", "vm"]) == [("network", "add", net)] + vm_events


@pytest.mark.parametrize("bad", ["bogus", "vm/", "", "*/x", "event", "vms", "vm:x"])
def test_malformed_subscription(daemon, root, bad):
    token = event_from(root, ["vm"], "", 0)["token"]
    for tok in ("", token):
        assert failure(event_from, root, ["vm", bad], tok, 0) == [
            "EVENT_SUBSCRIPTION_PARSE_FAILURE", bad]
    assert failure(root.event.register, [bad]) == ["EVENT_SUBSCRIPTION_PARSE_FAILURE", bad]


# -- tokens ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["garbage", "12", "abc:", ":", "abc:x", "EPOCH:", "EPOCH:-1",
                                 "EPOCH:1.5", "EPOCH:1:2", "EPOCH: 3", "EPOCH:0x10"])
def test_malformed_token(daemon, root, bad):
    epoch = event_from(root, ["vm"], "", 0)["token"].split(":")[0]
    token = bad.replace("EPOCH", epoch)
    assert failure(event_from, root, ["vm"], token, 0) == [
        "EVENT_FROM_TOKEN_PARSE_FAILURE", token]


def test_token_with_a_non_ascii_digit(daemon, root):
    epoch = event_from(root, ["vm"], "", 0)["token"].split(":")[0]
    token = epoch + ":\u00b2"
    assert failure(event_from, root, ["vm"], token, 0) == [
        "EVENT_FROM_TOKEN_PARSE_FAILURE", token]


def test_token_from_before_a_restart_is_events_lost(fresh_daemon):
    x = fresh_daemon.sdk_unix().xenapi      # the SDK logs in again after the restart
    x.VM.create({"name_label": "survivor"})
    token = event_from(x, ["vm"], "", 0)["token"]
    fresh_daemon.restart()
    assert failure(event_from, x, ["vm"], token, 0) == ["EVENTS_LOST"]
    assert failure(event_from, x, ["*"], token, 0) == ["EVENTS_LOST"]
    again = event_from(x, ["vm"], "", 0)
    # Every VM as it is now: the test's, and the control domain's the daemon keeps.
    assert sorted(e["snapshot"]["name_label"] for e in again["events"]) == \
        ["Domain-0", "survivor"]
    assert again["token"] != token


# -- register / next ------------------------------------------------------------------------------

def test_next_without_register_is_session_not_registered(daemon):
    s = daemon.sdk_unix()
    try:
        assert failure(s.xenapi.event.next) == ["SESSION_NOT_REGISTERED", s._session]
    finally:
        s.xenapi.session.logout()


def test_next_returns_the_events_after_register(daemon, root):
    s = daemon.sdk_unix()
    x = s.xenapi
    try:
        vm = root.VM.create({"name_label": "before-register"})
        root.VM.set_name_label(vm, "still-before")
        x.event.register(["vm"])
        root.VM.set_name_label(vm, "after-1")
        net = root.network.create({"name_label": "not-subscribed"})
        root.VM.set_name_label(vm, "after-2")
        got = []
        while len(got) < 2:
            got += x.event.next()
        assert [_key(e) for e in got] == [("vm", "mod", vm)] * 2
        assert [e["snapshot"]["name_label"] for e in got] == ["after-1", "after-2"]
        x.event.register(["network"])            # adds to the subscription
        root.network.set_name_label(net, "now-subscribed")
        got = x.event.next()
        assert [_key(e) for e in got] == [("network", "mod", net)]
        x.event.unregister(["vm"])
        root.VM.set_name_label(vm, "unsubscribed")
        root.network.set_name_label(net, "still-subscribed")
        got = x.event.next()
        assert [_key(e) for e in got] == [("network", "mod", net)]
    finally:
        x.session.logout()


def test_next_blocks_until_a_change(daemon, root):
    vm = root.VM.create({"name_label": "next-waiter"})
    s = daemon.sdk_unix()
    s.xenapi.event.register(["vm/" + vm])
    result = {}

    def wait():
        result["events"] = s.xenapi.event.next()
    t = threading.Thread(target=wait, daemon=True)
    t.start()
    time.sleep(0.3)
    assert t.is_alive()
    root.VM.set_name_label(vm, "next-woken")
    t.join(20)
    try:
        assert not t.is_alive()
        assert [_key(e) for e in result["events"]] == [("vm", "mod", vm)]
    finally:
        s.xenapi.session.logout()


def test_register_with_no_classes_is_every_class(daemon, root):
    """Xen-API 1.0: register([]) subscribes to every class, so next returns at once."""
    s = daemon.sdk_unix()
    x = s.xenapi
    try:
        x.event.register([])
        vm = root.VM.create({"name_label": "all-classes"})
        net = root.network.create({"name_label": "all-classes"})
        got = []
        while ("network", "add", net) not in [_key(e) for e in got]:
            got += x.event.next()
        assert [_key(e) for e in got][:2] == [("vm", "add", vm), ("network", "add", net)]
    finally:
        x.session.logout()


def test_event_id_and_timestamp_travel_in_their_wire_types(daemon, root):
    """id by the Int rule (a decimal string), timestamp an XML-RPC dateTime: in event.next,
    in event.from's snapshot of objects and in its later batches."""
    s = daemon.sdk_unix()
    x = s.xenapi
    try:
        x.event.register(["vm"])
        first = event_from(x, ["vm"], "", 0)
        vm = root.VM.create({"name_label": "typed-event"})
        events = x.event.next() + event_from(x, ["vm"], first["token"], 5)["events"] + \
            first["events"]
        assert events
        for e in events:
            assert isinstance(e["id"], str) and e["id"].isdigit(), e
            assert isinstance(e["timestamp"], xmlrpc.client.DateTime), e
            assert e["timestamp"].value[:4].isdigit()
        assert ("vm", "add", vm) in [_key(e) for e in events]
    finally:
        x.session.logout()


def test_event_from_answers_as_event_dot_from(daemon, root):
    """The SDK's x.event_from(...) (Python cannot write x.event.from) is event.from."""
    s = daemon.sdk_unix()
    x = s.xenapi
    try:
        batch = x.event_from(["vm"], "", 0.0)
        assert [(_key(e), e["snapshot"]) for e in batch["events"]] == \
            [(_key(e), e["snapshot"]) for e in event_from(x, ["vm"], "", 0)["events"]]
        vm = root.VM.create({"name_label": "aliased-from"})
        later = x.event_from(["vm"], batch["token"], 5.0)
        assert [_key(e) for e in later["events"]] == [("vm", "add", vm)]
        assert later["events"] == event_from(x, ["vm"], batch["token"], 0)["events"]
        assert failure(x.event_from, ["bogus"], "", 0.0) == [
            "EVENT_SUBSCRIPTION_PARSE_FAILURE", "bogus"]
    finally:
        x.session.logout()


def test_failed_register_does_not_register(daemon, root):
    make_user(root, "nexter", "nexter-pw")
    proxy = xmlrpc.client.ServerProxy(daemon.url, transport=_TimeoutTransport(2.0))
    session = proxy.session.login_with_password("nexter", "nexter-pw")["Value"]
    try:
        assert proxy.event.register(session, ["nonsense"]) == {
            "Status": "Failure",
            "ErrorDescription": ["EVENT_SUBSCRIPTION_PARSE_FAILURE", "nonsense"]}
        try:
            outcome = proxy.event.next(session)
        except (socket.timeout, TimeoutError):
            outcome = "event.next blocked for 2 s"
    finally:     # on another connection: ends a next still blocked in the daemon
        xmlrpc.client.ServerProxy(daemon.url).session.logout(session)
    assert outcome == {"Status": "Failure",
                       "ErrorDescription": ["SESSION_NOT_REGISTERED", session]}


class _TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout):
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn


# -- overflow -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_log():
    d = Daemon(extra_config="event_log_size = 50\n").start()
    yield d
    d.cleanup(signal.SIGKILL)


def test_next_after_overflow_is_events_lost_then_resumes(small_log):
    s = small_log.sdk_unix()
    x = s.xenapi
    try:
        vm = x.VM.create({"name_label": "overflow"})
        x.event.register(["vm"])
        for i in range(160):
            x.VM.set_name_label(vm, "o%d" % i)
        assert failure(x.event.next) == ["EVENTS_LOST"]
        # it starts again from now on
        x.VM.set_name_label(vm, "fresh")
        got = x.event.next()
        assert [(_key(e), e["snapshot"]["name_label"]) for e in got] == [
            (("vm", "mod", vm), "fresh")]
    finally:
        x.session.logout()


def test_from_after_overflow_is_events_lost(small_log):
    x = small_log.sdk_unix().xenapi
    vm = x.VM.create({"name_label": "overflow-from"})
    token = event_from(x, ["vm"], "", 0)["token"]
    for i in range(160):
        x.VM.set_name_label(vm, "f%d" % i)
        if i == 120:        # 39 changes from the end: inside any log of 50
            recent = event_from(x, ["vm"], "", 0)["token"]
    assert failure(event_from, x, ["vm"], token, 0) == ["EVENTS_LOST"]
    # a token that has not fallen behind still works
    got = event_from(x, ["vm"], recent, 0)["events"]
    assert [e["snapshot"]["name_label"] for e in got] == ["f%d" % i for i in range(121, 160)]
    # and starting again from "" works
    assert vm in [e["ref"] for e in event_from(x, ["vm"], "", 0)["events"]]


def _abandoned_next(daemon, session):
    """Ask for event.next of ``session`` on a raw connection, then vanish: close it without
    reading the reply the daemon is blocked on."""
    body = xmlrpc.client.dumps((session,), "event.next").encode()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(daemon.socket)
    conn.sendall(b"POST / HTTP/1.1\r\nHost: xend\r\nContent-Type: text/xml\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
    conn.close()


def test_stalled_and_vanished_subscribers_block_no_writer_and_no_follower(small_log):
    """One session registered but never calling event.next (its place falls out of the
    log), one that vanished mid-next: every write is still acknowledged and a subscriber
    that keeps up receives every change, in order."""
    sessions = [small_log.sdk_unix() for _ in range(4)]
    x, writer = sessions[0].xenapi, sessions[1].xenapi
    stalled, vanished = sessions[2:]
    try:
        vm = x.VM.create({"name_label": "watched"})
        stalled.xenapi.event.register(["*"])
        vanished.xenapi.event.register(["*"])
        _abandoned_next(small_log, vanished._session)
        token = event_from(x, ["vm"], "", 0)["token"]
        names = ["n%d" % i for i in range(160)]     # over three times the log of 50
        seen = []
        for start in range(0, len(names), 20):      # 20 at a time: the follower keeps up
            chunk = names[start:start + 20]
            writes = threading.Thread(target=lambda: [writer.VM.set_name_label(vm, n)
                                                      for n in chunk], daemon=True)
            writes.start()
            writes.join(60)     # a deadline against a hang, not a timing assertion
            assert not writes.is_alive(), "a write blocked after %s" % seen[-1:]
            batch = event_from(x, ["vm"], token, 0)
            token = batch["token"]
            seen += [e["snapshot"]["name_label"] for e in batch["events"] if e["ref"] == vm]
        assert seen == names
        assert failure(stalled.xenapi.event.next) == ["EVENTS_LOST"]
    finally:
        for s in sessions:
            s.xenapi.session.logout()


# -- concurrency ----------------------------------------------------------------------------------

def test_from_empty_token_while_objects_are_deleted():
    d = Daemon().start()
    stop = threading.Event()
    t = None
    try:
        x = d.sdk_unix().xenapi
        for i in range(300):
            x.VM.create({"name_label": "bulk-%d" % i})
        churned = []

        def churn():     # the newest VM is the last one event.from's snapshot reaches
            y = d.sdk_unix().xenapi
            while not stop.is_set():
                y.VM.destroy(y.VM.create({"name_label": "victim"}))
                churned.append(1)
        t = threading.Thread(target=churn, daemon=True)
        t.start()
        wait_until(lambda: churned, STATE_WAIT, "churn to start")
        for _ in range(30):
            batch = event_from(x, ["vm"], "", 0)       # must never fail
            assert all(e["operation"] == "add" for e in batch["events"])
        assert t.is_alive()                            # the churn went on all along
    finally:
        stop.set()
        if t is not None:
            t.join(10)
        d.cleanup(signal.SIGKILL)


def test_the_log_is_bounded_in_bytes_not_only_in_events():
    """Rewrites of a large field push old events out by their size, long before the
    count bound: an old token gets EVENTS_LOST, a recent one still works."""
    d = Daemon(extra_config="event_log_bytes = 1048576\n").start()
    try:
        x = d.sdk_unix().xenapi
        vm = x.VM.create({"name_label": "big"})
        token = event_from(x, ["vm"], "", 0)["token"]
        for i in range(12):     # 12 x 256 KiB: three times the bound
            x.VM.set_name_description(vm, str(i) * (256 << 10))
        recent = event_from(x, ["vm"], "", 0)["token"]
        x.VM.set_name_description(vm, "small")
        assert failure(event_from, x, ["vm"], token, 0) == ["EVENTS_LOST"]
        got = event_from(x, ["vm"], recent, 0)["events"]
        assert [e["snapshot"]["name_description"] for e in got] == ["small"]
    finally:
        d.cleanup(signal.SIGKILL)
