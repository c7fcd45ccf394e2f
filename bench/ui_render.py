"""The web console's first render of the VM list, at 100 VMs and at 1,000.

Against the real daemon (sim backend, VMs made through the API) in headless Chromium
(Debian's, through Playwright, as tests/browser drives it), after logging in at the
host view: the milliseconds from the navigation to #/vms until the list shows a row for
every VM, measured in the page (performance.now() until the rows are in the DOM and a
frame has been painted), and beside it VM.get_all_records and the event.from the list
starts from, each over JSON-RPC from the same page. The 100-VM figures, taken in the
same run and daemon, are the baseline; the ratio says how the render grows with the
inventory. Each figure is the best of five. Asserts nothing.

    .venv/bin/python bench/ui_render.py [--vms 1000] [--baseline 100]
"""

import argparse
import os
import sys
import threading

from playwright.sync_api import sync_playwright

# The tests' harness and browser tools, as the browser tests import them.
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [TOP, os.path.join(TOP, "tests"), os.path.join(TOP, "tests", "browser")]

from browsertools import CHROMIUM, FLAGS, ROOT_PASSWORD, log_in  # noqa: E402
from harness import Daemon  # noqa: E402

RUNS = 5

# In the page: leave for the host view, then navigate to #/vms and wait until the list
# has `n` rows and a frame has been drawn with them; the milliseconds that took.
RENDER = """async (n) => {
  const rows = () => document.querySelectorAll('[data-test="vm-row"]').length;
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  location.hash = "#/host";
  while (!document.querySelector('[data-test="host-view"]')) await frame();
  const t0 = performance.now();
  location.hash = "#/vms";
  while (rows() < n) await frame();
  return performance.now() - t0;
}"""

# In the page: the milliseconds of one call through the page's own client.
CALL = """async ([method, params]) => {
  const t0 = performance.now();
  const result = await xend.api(method, ...params);
  const took = performance.now() - t0;
  return [took, Object.keys(result.events || result).length];
}"""


def populate(daemon, start, count, workers=4):
    """Halted VMs vm<start>..vm<start+count-1>, made through the API by ``workers``."""
    def work(lo, hi):
        x = daemon.sdk_unix().xenapi
        for i in range(lo, hi):
            x.VM.create({"name_label": "vm%05d" % i})
    step = (count + workers - 1) // workers
    threads = [threading.Thread(target=work, args=(start + lo, start + min(lo + step, count)))
               for lo in range(0, count, step)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def measure(page, vms):
    """Best of RUNS: (render ms, VM.get_all_records ms, event.from ms)."""
    render = min(page.evaluate(RENDER, vms) for _ in range(RUNS))
    calls = []
    for method, params in (("VM.get_all_records", []), ("event.from", [["vm"], "", 0])):
        took = []
        for _ in range(RUNS):
            ms, count = page.evaluate(CALL, [method, params])
            assert count >= vms, (method, count)
            took.append(ms)
        calls.append(min(took))
    return (render, *calls)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, default=1000)
    ap.add_argument("--baseline", type=int, default=100)
    args = ap.parse_args()
    daemon = Daemon().start()
    try:
        api = daemon.relogin()
        api.user.set_password(api.user.get_by_short_name("root")[0], ROOT_PASSWORD)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            figures = {}
            made = 0
            for n in (args.baseline, args.vms):
                populate(daemon, made, n - made)
                made = n
                page = browser.new_context(viewport={"width": 1280, "height": 800},
                                           base_url=daemon.url).new_page()
                log_in(page)
                figures[n] = measure(page, n)
                page.context.close()
            browser.close()
    finally:
        daemon.cleanup()
    print("%8s %14s %22s %16s" % ("VMs", "list render", "VM.get_all_records", "event.from"))
    for n, (render, records, events) in figures.items():
        print("%8d %11.1f ms %19.1f ms %13.1f ms" % (n, render, records, events))
    base, big = figures[args.baseline], figures[args.vms]
    print("ratio %d/%d: render %.1fx, get_all_records %.1fx, event.from %.1fx (VMs %.0fx)"
          % (args.vms, args.baseline, big[0] / base[0], big[1] / base[1], big[2] / base[2],
             args.vms / args.baseline))


if __name__ == "__main__":
    main()
