"""The rule that ends a nested Xen host's boot (tests/xen/bootwatch.py), on a fake clock:
a boot whose console keeps growing gets more time, a silent one fails. Pure: no host is
booted, so these run in ``make test-fast`` too."""

from bootwatch import BootWatch

GRACE, QUIET, LIMIT = 300, 120, 900


def first_failure(samples, start=1000.0):
    """Feed ``(seconds since start, console size)`` samples to a fresh BootWatch; the first
    ``(seconds, reason)`` it fails at, or None if it lets every sample go on."""
    watch = BootWatch(start, grace=GRACE, quiet=QUIET, limit=LIMIT)
    for seconds, size in samples:
        reason = watch.verdict(start + seconds, size)
        if reason:
            return seconds, reason
    return None


def growing(until, step=10):
    """A console that gains output every ``step`` seconds up to ``until``."""
    return [(t, 100 * (t + 1)) for t in range(0, until + 1, step)]


def silent(since, until, size, step=10):
    """A console that stays at ``size`` bytes from ``since`` to ``until``."""
    return [(t, size) for t in range(since, until + 1, step)]


def test_a_silent_boot_has_the_grace_period_then_fails():
    assert first_failure(silent(0, GRACE, 0)) is None
    seconds, reason = first_failure(silent(0, GRACE + 10, 0))
    assert seconds == GRACE + 10
    assert "no new console output for 310 s" in reason


def test_a_boot_whose_console_keeps_growing_goes_on_past_the_grace_period():
    assert first_failure(growing(LIMIT)) is None


def test_a_boot_that_stops_growing_after_the_grace_period_fails_once_quiet_long_enough():
    samples = growing(400)
    size = samples[-1][1]
    assert first_failure(samples + silent(410, 400 + QUIET, size)) is None
    seconds, reason = first_failure(samples + silent(410, 400 + QUIET + 10, size))
    assert seconds == 400 + QUIET + 10
    assert "not up after 530 s, and no new console output for 130 s" in reason


def test_a_short_silence_just_before_the_grace_period_ends_is_not_a_failure():
    samples = growing(250)
    assert first_failure(samples + silent(260, 250 + QUIET, samples[-1][1])) is None


def test_a_console_that_grows_forever_still_fails_at_the_limit():
    seconds, reason = first_failure(growing(LIMIT + 10))
    assert seconds == LIMIT + 10
    assert "the limit" in reason
