"""When a nested host's boot has waited long enough: the rule ``XenHost.boot`` follows.

Under TCG on a loaded machine a healthy boot can take longer than any fixed timeout, while
a stuck one shows no new output on its serial console. So a boot gets ``grace`` seconds
unconditionally; after that it goes on only while its console keeps growing (new output
in the last ``quiet`` seconds), and never beyond ``limit`` seconds (a console that grows
forever, such as a loop of error messages, is no progress either).

Pure: the caller feeds the clock and the console's size, so the rule is tested without
booting anything.
"""

GRACE = 300     # a healthy boot on 2 idle cores takes ~35 s
QUIET = 120     # longer than any silence of a boot that is still going
LIMIT = 900


class BootWatch:
    """Watches one boot: ``BootWatch(now)``, then ``verdict(now, console_size)`` each poll."""

    def __init__(self, start, grace=GRACE, quiet=QUIET, limit=LIMIT):
        self.start = start
        self.grace, self.quiet, self.limit = grace, quiet, limit
        self.size = 0
        self.last_growth = start

    def verdict(self, now, console_size):
        """None while the boot may go on; otherwise why it has failed, as a sentence."""
        if console_size > self.size:
            self.size, self.last_growth = console_size, now
        elapsed = now - self.start
        if elapsed > self.limit:
            return "still not up after %.0f s (the limit)" % elapsed
        silent = now - self.last_growth
        if elapsed > self.grace and silent > self.quiet:
            return "not up after %.0f s, and no new console output for %.0f s" % (elapsed, silent)
        return None
