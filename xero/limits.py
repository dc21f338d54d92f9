"""Xero's call limits, kept by every process that calls Xero.

Xero allows each organisation (one Site is one organisation) 60 calls in any minute and 5
at once; on top of that we send at most ``XERO_MAX_CONCURRENT_CALLS`` calls at once over
every Site and process.

Each limit is a row of numbered slots in the ``xero_limits`` cache, which the web and the
worker processes share. A call takes a free slot of each limit with ``cache.add``, which
only one caller can win for a key in the shared backends Django ships (database, Redis,
Memcached), so two processes never hold the same slot. Concurrency slots are handed back
when the call ends, and lapse after a lease in case a process dies holding one. Minute
slots are never handed back: each lapses a minute after its call, which makes an exact
sliding window rather than a fixed one that allows 120 calls across a minute boundary.

A call waits in one of two ways:

- by default (the *Test connection* button, the command): for a concurrency slot until
  the session's deadline, never for the minute window or Xero's ``Retry-After``: that is
  reported at once as ``rate_limited``, so a person never stares at a spinning button;
- inside ``with limits.waiting():`` (fleet checks): for any slot, and when Xero answers
  rate limited anyway (another client of the same organisation), for what ``Retry-After``
  says, or a growing back-off, before sending the call again.
"""

import collections
import contextvars
import itertools
import math
import random
import time
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import caches

from .exceptions import RateLimited

CACHE_ALIAS = "xero_limits"
MINUTE_LIMIT = 60
WINDOW_SECONDS = 60
CONCURRENT_PER_ORGANISATION = 5
# How often a waiting call looks for a free concurrency slot again.
POLL_SECONDS = 0.01
# A Retry-After longer than this (Xero's daily limit says hours) is reported, not waited.
MAX_WAIT_SECONDS = 120

# Where each process starts looking for a free slot of each limit: see _take().
_next_slot = collections.defaultdict(itertools.count)
_waiting = contextvars.ContextVar("xero_limits_waiting", default=False)


@contextmanager
def waiting():
    """Within this block, calls to Xero wait out rate limits instead of reporting them."""
    token = _waiting.set(True)
    try:
        yield
    finally:
        _waiting.reset(token)


def is_waiting() -> bool:
    return _waiting.get()


def _take(cache, prefix: str, size: int, timeout: float, value) -> str | None:
    """Take a free slot of ``prefix`` (one of ``size``); its key, or None when all are taken.

    Each process tries the slots round-robin, starting after the last one it took: slots
    are taken and lapse in that order, so the first try usually wins.
    """
    start = next(_next_slot[prefix])
    for offset in range(size):
        key = f"{prefix}:{(start + offset) % size}"
        if cache.add(key, value, timeout):
            return key
    return None


def _minute_wait(cache, prefix: str) -> float:
    """Seconds until the oldest call of the Site's minute window lapses."""
    expiries = cache.get_many([f"{prefix}:{slot}" for slot in range(MINUTE_LIMIT)]).values()
    return max(0.0, min(expiries, default=time.time()) - time.time())


@contextmanager
def call_slot(*, site_id, deadline: float | None = None):
    """Hold a slot of each limit while one call to Xero is out; yields the seconds waited.

    Raises ``RateLimited`` instead of waiting when not inside ``waiting()``: at once for
    the Site's minute window, at ``deadline`` (``time.monotonic()``) for a concurrency slot.
    """
    cache = caches[CACHE_ALIAS]
    wait = is_waiting()
    started = time.monotonic()
    organisation = f"xero:site:{site_id}"
    # The database cache keeps expiry times in whole seconds (rounded down): one second more
    # means a slot never lapses before its minute is over.
    while not _take(
        cache,
        f"{organisation}:minute",
        MINUTE_LIMIT,
        WINDOW_SECONDS + 1,
        time.time() + WINDOW_SECONDS + 1,
    ):
        pause = _minute_wait(cache, f"{organisation}:minute")
        if not wait:
            raise RateLimited(limit="minute", retry_after=max(1, math.ceil(pause)))
        time.sleep(pause + POLL_SECONDS)
    # A call never lasts longer than its session's timeouts; the margin covers the clock.
    lease = settings.XERO_CONNECT_TIMEOUT + settings.XERO_READ_TIMEOUT + 5
    held = []
    try:
        for prefix, size in (
            (f"{organisation}:concurrent", CONCURRENT_PER_ORGANISATION),
            ("xero:all:concurrent", settings.XERO_MAX_CONCURRENT_CALLS),
        ):
            while (key := _take(cache, prefix, size, lease, 1)) is None:
                if not wait and deadline is not None and time.monotonic() >= deadline:
                    raise RateLimited(limit="concurrent", retry_after=1)
                time.sleep(POLL_SECONDS)
            held.append(key)
        yield time.monotonic() - started
    finally:
        if held:
            cache.delete_many(held)


def pause_after(limited: RateLimited, attempt: int) -> float | None:
    """Seconds to wait before sending a rate-limited call again, or None to report it.

    Only inside ``waiting()``, at most ``XERO_RATE_LIMIT_RETRIES`` times per call, and never
    for longer than ``MAX_WAIT_SECONDS``. Without ``Retry-After``: 1, 2, 4… seconds,
    with jitter so that many Sites do not come back in step.
    """
    if not is_waiting() or attempt >= settings.XERO_RATE_LIMIT_RETRIES:
        return None
    if limited.retry_after is not None:
        pause = max(0, limited.retry_after)
    else:
        pause = 2**attempt * random.uniform(1, 1.5)
    return pause if pause <= MAX_WAIT_SECONDS else None
