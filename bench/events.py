"""Event delivery latency: from a VM.set_name_label reply to the event's arrival at waiters.

Starts its own sim daemon (tests.conftest.Daemon). For 1 and 50 concurrent
subscribers -- each its own thread and XenAPI SDK session over the Unix socket,
long-polling event.from(["vm"], token, timeout) -- one writer makes CHANGES
renames of one VM. After each rename it waits until every subscriber has seen it
(closed loop), so each sample is one change's delivery, not a queue's backlog.

latency = (time the subscriber's event.from call returned with the event)
        - (time the writer's set_name_label call returned)
both taken with time.perf_counter() in this process. It can be negative: the
event is committed before the reply is sent, so a waiter may get it first.
As a baseline, measured in the same run: the round trip of VM.get_name_label.

With BENCH_EVENT_INVENTORY=N (e.g. 10000) the daemon first holds N more halted VMs,
so the figures show delivery at a host inventory's scale: subscribers still watch the
whole VM class.

Run: .venv/bin/python bench/events.py   (no asserts on time)
"""

import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.harness import Daemon  # noqa: E402

CHANGES = int(os.environ.get("BENCH_EVENT_CHANGES", "1000"))
WARMUP = 50
INVENTORY = int(os.environ.get("BENCH_EVENT_INVENTORY", "0"))
SUBSCRIBERS = (1, 50)
BASELINE_CALLS = 1000
WAIT_PER_CHANGE = 10.0      # seconds a change may take to reach every subscriber


def percentile(samples, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(samples)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def event_from(x, classes, token, timeout):
    return getattr(x.event, "from")(classes, token, float(timeout))


class Subscriber(threading.Thread):
    """One thread, one SDK session, long-polling event.from with a token."""

    def __init__(self, daemon, vm, board):
        super().__init__(daemon=True)
        self.session = daemon.sdk_unix()
        self.x = self.session.xenapi
        self.vm = vm
        self.board = board
        self.arrivals = {}          # change index -> perf_counter at arrival
        # A token from a one-object subscription: "" on the whole class would first send
        # every VM of the inventory. Tokens are positions in one log, good for any classes.
        self.token = event_from(self.x, ["vm/" + vm], "", 0)["token"]
        self.error = None

    def run(self):
        try:
            while True:
                batch = event_from(self.x, ["vm"], self.token, 30.0)
                now = time.perf_counter()
                self.token = batch["token"]
                seen = []
                for e in batch["events"]:
                    if e["ref"] != self.vm or e["operation"] != "mod":
                        continue
                    name = e["snapshot"]["name_label"]
                    if name == "stop":
                        self.board.arrived(seen)
                        return
                    i = int(name[1:])
                    if i not in self.arrivals:
                        self.arrivals[i] = now
                        seen.append(i)
                self.board.arrived(seen)
        except Exception as e:      # reported by the main thread
            self.error = e
            self.board.arrived([])

    def close(self):
        try:
            self.x.session.logout()
        except Exception:
            pass


class Board:
    """How many subscribers have seen each change."""

    def __init__(self):
        self.cond = threading.Condition()
        self.count = {}

    def arrived(self, indexes):
        with self.cond:
            for i in indexes:
                self.count[i] = self.count.get(i, 0) + 1
            self.cond.notify_all()

    def wait_for(self, i, n, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.count.get(i, 0) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True


def baseline(x, vm):
    for _ in range(100):
        x.VM.get_name_label(vm)
    rtts = []
    for _ in range(BASELINE_CALLS):
        t0 = time.perf_counter()
        x.VM.get_name_label(vm)
        rtts.append(time.perf_counter() - t0)
    return rtts


def cpu_seconds(pid=None):
    """User+system CPU time of a process (this one by default)."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(daemon, x, vm, n):
    board = Board()
    subs = [Subscriber(daemon, vm, board) for _ in range(n)]
    for s in subs:
        s.start()
    time.sleep(0.5)         # let every subscriber enter its first long poll
    replies, sends, missed = {}, {}, 0
    total = WARMUP + CHANGES
    cpu0 = (cpu_seconds(daemon.proc.pid), cpu_seconds())
    started = time.perf_counter()
    for i in range(total):
        t0 = time.perf_counter()
        x.VM.set_name_label(vm, "n%d" % i)
        replies[i] = time.perf_counter()
        sends[i] = t0
        if not board.wait_for(i, n, WAIT_PER_CHANGE):
            missed += 1
    elapsed = time.perf_counter() - started
    cpu = (cpu_seconds(daemon.proc.pid) - cpu0[0], cpu_seconds() - cpu0[1])
    x.VM.set_name_label(vm, "stop")
    for s in subs:
        s.join(30)
        s.close()
    errors = [s.error for s in subs if s.error is not None]
    lat, from_send = [], []
    for i in range(WARMUP, total):
        for s in subs:
            if i in s.arrivals:
                lat.append(s.arrivals[i] - replies[i])
                from_send.append(s.arrivals[i] - sends[i])
    return lat, from_send, missed, errors, elapsed, cpu


def ms(v):
    return "%8.3f" % (v * 1000.0)


def fill(daemon, count, workers=4):
    """Create ``count`` halted VMs from ``workers`` sessions."""
    def work(n):
        x = daemon.sdk_unix().xenapi
        for i in range(n):
            x.VM.create({"name_label": "inventory"})
    threads = [threading.Thread(target=work, args=(count // workers + (k < count % workers),))
               for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main():
    d = Daemon().start()
    try:
        session = d.sdk_unix()
        x = session.xenapi
        vm = x.VM.create({"name_label": "bench-events"})
        fill(d, INVENTORY)
        rtts = baseline(x, vm)
        rtt50, rtt99 = percentile(rtts, 50), percentile(rtts, 99)
        print("xend event latency (sim backend, SDK over the Unix socket, %d cores, %d VMs)"
              % (os.cpu_count(), INVENTORY + 1))
        print("baseline VM.get_name_label round trip over %d calls: p50 %s ms  p99 %s ms"
              % (len(rtts), ms(rtt50).strip(), ms(rtt99).strip()))
        print()
        print("latency from set_name_label reply to event.from return, %d changes each "
              "(after %d warm-up), closed loop" % (CHANGES, WARMUP))
        print("subscribers   samples    p50 ms    p99 ms   p50/RTT  p99/RTT  "
              "p50 from send ms  before reply  missed  wall s  CPU s xend/bench")
        results = []
        for n in SUBSCRIBERS:
            lat, from_send, missed, errors, elapsed, cpu = run(d, x, vm, n)
            if errors:
                print("  %d subscribers: %d failed: %r" % (n, len(errors), errors[:3]))
            if not lat:
                print("%11d   no samples" % n)
                continue
            p50, p99 = percentile(lat, 50), percentile(lat, 99)
            early = sum(1 for v in lat if v < 0) / len(lat)
            print("%11d  %8d  %s  %s  %7.2fx  %7.2fx  %16s  %11.1f%%  %6d  %6.1f  %6.1f/%.1f" % (
                n, len(lat), ms(p50), ms(p99), p50 / rtt50, p99 / rtt99,
                ms(percentile(from_send, 50)).strip(), early * 100, missed, elapsed,
                cpu[0], cpu[1]))
            results.append((n, p50, p99))
        rtts_after = baseline(x, vm)
        print()
        print("baseline again after the runs: p50 %s ms  p99 %s ms"
              % (ms(percentile(rtts_after, 50)).strip(), ms(percentile(rtts_after, 99)).strip()))
        session.xenapi.session.logout()
    finally:
        d.cleanup()


if __name__ == "__main__":
    main()
