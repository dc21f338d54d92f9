"""Xero's call limits, kept by every process that calls Xero.

Xero allows each organisation (one Site is one organisation) 60 calls in any minute and 5
at once; on top of that we send at most ``XERO_MAX_CONCURRENT_CALLS`` calls at once over
every Site and process.

Each limit is a set of numbered slots, one row each in the ``CallSlot`` table that the web
and the worker processes share. A call takes a free slot of each limit with one upsert
that only one caller can win for a key, so two processes never hold the same slot (see
``_SlotTable``). Concurrency slots are handed back
when the call ends (a fleet thread's by its next call: ``global_slot``), and lapse after a
lease in case a process dies holding one. Minute
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

import contextvars
import itertools
import logging
import math
import os
import random
import threading
import time
from contextlib import contextmanager, suppress
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection

from warehouse import database

from .exceptions import RateLimited
from .models import CallSlot

logger = logging.getLogger(__name__)

MINUTE_LIMIT = 60
WINDOW_SECONDS = 60
CONCURRENT_PER_ORGANISATION = 5
# How often a waiting call looks for a free concurrency slot again.
POLL_SECONDS = 0.01
# The longest a fleet thread waits between two looks for a free global slot.
GLOBAL_POLL_MAX_SECONDS = 0.05
# A Retry-After longer than this (Xero's daily limit says hours) is reported, not waited.
MAX_WAIT_SECONDS = 120

# Where each process starts looking for a free slot: see _take(). One counter for the
# global limit, one shared by every Site's (a counter per Site would grow with the fleet).
_next_global_slot = itertools.count()
_next_site_slot = itertools.count()
_waiting = contextvars.ContextVar("xero_limits_waiting", default=False)
# The global slot this thread holds: [its key, when it was taken (time.monotonic())].
_held_global_slot: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "xero_limits_global_slot", default=None
)
GLOBAL_CONCURRENT = "xero:all:concurrent"
# A fleet thread's give-backs not written yet (key -> when it lapses, Unix time): written by
# the thread's next statement about slots, its next call's take (see ``global_slot``).
_deferred_lapses: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "xero_limits_deferred_lapses", default=None
)


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


class _SlotTable:
    """The slots, one row each in ``CallSlot``: every operation is one SQL statement.

    Taking a slot is an upsert that only overwrites a lapsed row, so of several callers
    racing for one key exactly one wins, on SQLite and PostgreSQL alike, with no
    transaction around it. A row names its holder, so a caller whose lease lapsed can
    neither renew nor free a slot someone else has taken since.
    """

    def __init__(self):
        self.table = connection.ops.quote_name(CallSlot._meta.db_table)
        self.key = connection.ops.quote_name("key")
        self.holder = f"{os.getpid()}:{threading.get_ident()}"

    def _execute(self, sql, params) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    def add(self, key: str, timeout: float) -> bool:
        now = time.time()
        # Only quoted identifiers are put into the text; every value is a parameter.
        upsert = (
            f"INSERT INTO {self.table} ({self.key}, holder, expires_at) VALUES (%s, %s, %s) "  # noqa: S608
            f"ON CONFLICT ({self.key}) DO UPDATE SET holder = excluded.holder, "
            f"expires_at = excluded.expires_at WHERE {self.table}.expires_at <= %s"
        )
        return self._execute(upsert, [key, self.holder, now + timeout, now]) == 1

    def add_many(
        self, wanted: list[tuple[str, float]], *, lapses: dict[str, float] | None = None
    ) -> set[str]:
        """Take each free slot of ``wanted`` (key, timeout) in one statement; the keys taken.

        ``lapses`` (key -> Unix time, none of them wanted) are given back in the same
        statement, as ``release`` gives them back: only a row this holder still holds,
        or one that lapsed meanwhile, is changed.
        """
        now = time.time()
        lapses = lapses or {}
        rows = ", ".join(["(%s, %s, %s)"] * (len(wanted) + len(lapses)))
        given_back = ""
        if lapses:
            given_back = (
                f" OR ({self.table}.holder = excluded.holder AND {self.table}.{self.key} IN "
                f"({', '.join(['%s'] * len(lapses))}))"
            )
        upsert = (
            f"INSERT INTO {self.table} ({self.key}, holder, expires_at) VALUES {rows} "  # noqa: S608
            f"ON CONFLICT ({self.key}) DO UPDATE SET holder = excluded.holder, "
            f"expires_at = excluded.expires_at WHERE {self.table}.expires_at <= %s{given_back} "
            f"RETURNING {self.key}"
        )
        params = [value for key, timeout in wanted for value in (key, self.holder, now + timeout)]
        params += [value for key, at in lapses.items() for value in (key, self.holder, at)]
        with connection.cursor() as cursor:
            cursor.execute(upsert, [*params, now, *lapses])
            return {key for (key,) in cursor.fetchall()} - set(lapses)

    def held(self, keys) -> set[str]:
        """Which of ``keys`` someone holds now: a read, so waiting costs no write."""
        return set(
            CallSlot.objects.filter(key__in=list(keys), expires_at__gt=time.time()).values_list(
                "key", flat=True
            )
        )

    def touch(self, key: str, timeout: float) -> bool:
        held = CallSlot.objects.filter(key=key, holder=self.holder)
        return held.update(expires_at=time.time() + timeout) == 1

    def delete_many(self, keys) -> None:
        keys = list(keys)
        if not keys:
            return  # ``IN ()`` is an error on PostgreSQL (SQLite allows it)
        # One statement: a queryset's delete() would wrap it in a transaction of its own.
        self._execute(
            f"DELETE FROM {self.table} WHERE holder = %s AND {self.key} IN "  # noqa: S608
            f"({', '.join(['%s'] * len(keys))})",
            [self.holder, *keys],
        )

    def delete(self, key: str) -> None:
        self.delete_many([key])

    def release(self, lapses: dict[str, float]) -> None:
        """Set when each of this holder's slots lapses (Unix time), in one statement: now
        to give one back, later to keep it counted (a minute window, an abandoned call)."""
        if not lapses:
            return
        rows = ", ".join(["(%s, %s, %s)"] * len(lapses))
        upsert = (
            f"INSERT INTO {self.table} ({self.key}, holder, expires_at) VALUES {rows} "  # noqa: S608
            f"ON CONFLICT ({self.key}) DO UPDATE SET expires_at = excluded.expires_at "
            f"WHERE {self.table}.holder = excluded.holder"
        )
        params = [value for key, at in lapses.items() for value in (key, self.holder, at)]
        self._execute(upsert, params)

    def earliest_expiry(self, keys) -> float | None:
        """When the first of ``keys`` still held lapses (Unix time), or None."""
        return (
            CallSlot.objects.filter(key__in=keys, expires_at__gt=time.time())
            .order_by("expires_at")
            .values_list("expires_at", flat=True)
            .first()
        )


def _slots() -> _SlotTable:
    return _SlotTable()


def _take(slots, prefix: str, size: int, timeout: float) -> str | None:
    """Take a free slot of ``prefix`` (one of ``size``); its key, or None when all are taken.

    Each process tries the slots round-robin, starting after the last one it took: slots
    are taken and lapse in that order, so the first try usually wins.
    """
    start = _start(prefix)
    for offset in range(size):
        key = f"{prefix}:{(start + offset) % size}"
        if slots.add(key, timeout):
            return key
    return None


def _minute_wait(slots, prefix: str) -> float:
    """Seconds until the oldest call of the Site's minute window lapses."""
    earliest = slots.earliest_expiry([f"{prefix}:{slot}" for slot in range(MINUTE_LIMIT)])
    return max(0.0, (earliest or time.time()) - time.time())


def _start(prefix: str) -> int:
    return next(_next_global_slot if prefix == GLOBAL_CONCURRENT else _next_site_slot)


def _next_key(prefix: str, size: int) -> str:
    return f"{prefix}:{_start(prefix) % size}"


@contextmanager
def call_slot(*, site_id, deadline: float | None = None):
    """Hold a slot of each limit while one call to Xero is out; yields the seconds waited.

    Raises ``RateLimited`` instead of waiting when not inside ``waiting()``: at once for
    the Site's minute window, at ``deadline`` (``time.monotonic()``) for a concurrency slot.

    The usual call costs two statements: one takes the Site's minute and concurrency slots
    together (and the global one, unless the thread holds one for its run), one gives the
    concurrency slots back. A thread holding a global slot (``global_slot``) costs one: it
    gives a call's slots back in its next call's take.
    """
    slots = _slots()
    wait = is_waiting()
    started = time.monotonic()
    organisation = f"xero:site:{site_id}"
    minute_prefix = f"{organisation}:minute"
    lease = _lease()
    limits = [(f"{organisation}:concurrent", CONCURRENT_PER_ORGANISATION)]
    if not _renew_held_global_slot(slots):
        limits.append((GLOBAL_CONCURRENT, settings.XERO_MAX_CONCURRENT_CALLS))
    first_try = [_next_key(prefix, size) for prefix, size in limits]
    # The minute slot lapses a minute after the call and is never given back; the others
    # are. One statement tries them all; only a slot not won is tried again.
    minute_key = _next_key(minute_prefix, MINUTE_LIMIT)
    wanted = [(minute_key, WINDOW_SECONDS), *((key, lease) for key in first_try)]
    deferred = _take_deferred({key for key, _ in wanted}, slots)
    try:
        won = slots.add_many(wanted, lapses=deferred)
    except DatabaseError:
        _defer_again(deferred)
        raise
    held = [key for key in first_try if key in won]
    minute_taken = minute_key if minute_key in won else None
    abandoned = False
    try:
        if minute_taken is None:
            # Never sit on concurrency slots while waiting for the minute window.
            slots.delete_many(held)
            held, won = [], set()
            while not (minute_taken := _take(slots, minute_prefix, MINUTE_LIMIT, WINDOW_SECONDS)):
                pause = _minute_wait(slots, minute_prefix)
                if not wait:
                    raise RateLimited(limit="minute", retry_after=max(1, math.ceil(pause)))
                time.sleep(pause + POLL_SECONDS)
        for (prefix, size), tried in zip(limits, first_try, strict=True):
            if tried in won:
                continue
            while (taken := _take_free(slots, prefix, size, lease)) is None:
                if not wait and deadline is not None and time.monotonic() >= deadline:
                    raise RateLimited(limit="concurrent", retry_after=1)
                time.sleep(POLL_SECONDS)
            held.append(taken)
        yield time.monotonic() - started
    except Exception as error:
        abandoned = getattr(error, "abandoned", False)
        raise
    finally:
        _release(
            slots,
            minute_taken,
            held,
            abandoned=abandoned,
            deadline=None if wait else deadline,
        )


def _release(
    slots, minute_key: str | None, held: list[str], *, abandoned: bool, deadline: float | None
) -> None:
    """Give back a call's slots, or keep them while Xero may still count the call.

    Xero counts a call in its minute window from when it arrives, which is after we took
    the slot (we may have waited for a concurrency slot since): the minute slot lapses a
    window after the call ended instead. A call we gave up on goes on at Xero: its
    concurrency slots, and the global slot its thread holds, stay taken for
    ``XERO_ABANDONED_CALL_SECONDS``.

    A test with a ``deadline`` waits for the database's lock only until then, and a lock held
    past it leaves the slots to lapse with their lease (``_lease``): the test's own result
    matters more than a slot freed a little sooner.
    """
    now = time.time()
    keep_until = now + settings.XERO_ABANDONED_CALL_SECONDS if abandoned else now
    lapses = {key: keep_until for key in held}
    if minute_key is not None:
        lapses[minute_key] = max(now + WINDOW_SECONDS, keep_until)
    thread_slot = _held_global_slot.get()
    if abandoned and thread_slot is not None and thread_slot[0] is not None:
        # The abandoned call keeps the thread's slot; its next calls take one each.
        lapses[thread_slot[0]] = keep_until
        thread_slot[0] = None
    deferred = _deferred_lapses.get()
    if deferred is not None and deadline is None and not abandoned:
        # Written by the thread's next take, a moment from now (``global_slot``).
        deferred.update(lapses)
        return
    deferred = _take_deferred(set(), slots)
    lapses = {**(deferred or {}), **lapses}
    if deadline is None:
        try:
            slots.release(lapses)
        except DatabaseError:
            _defer_again(deferred)
            raise
        return
    database.set_lock_wait(max(deadline - time.monotonic(), 0.001))
    with suppress(OperationalError):
        slots.release(lapses)


def _take_deferred(wanted: set[str], slots) -> dict[str, float] | None:
    """The thread's give-backs not written yet, for the statement about to be sent; those of
    a key in ``wanted`` (taken again at once) are written first, by a statement of their
    own, so that no statement names a key twice."""
    deferred = _deferred_lapses.get()
    if not deferred:
        return None
    lapses = dict(deferred)
    deferred.clear()
    clashing = {key: lapses.pop(key) for key in wanted & lapses.keys()}
    if clashing:
        slots.release(clashing)
    return lapses


def _defer_again(lapses: dict[str, float] | None) -> None:
    """Keep give-backs a failed statement did not write for the thread's next one (a minute
    slot otherwise lapses a window after its call began, not after it ended)."""
    deferred = _deferred_lapses.get()
    if lapses and deferred is not None:
        for key, at in lapses.items():
            deferred.setdefault(key, at)


def _take_free(slots, prefix: str, size: int, timeout: float) -> str | None:
    """Take a slot of ``prefix`` that a read shows free; None when all are held."""
    keys = [f"{prefix}:{slot}" for slot in range(size)]
    held = slots.held(keys)
    for key in [key for key in keys if key not in held]:
        if slots.add(key, timeout):
            return key
    return None


def _lease() -> float:
    # A call never lasts longer than its session's timeouts; the margin covers the clock.
    return settings.XERO_CONNECT_TIMEOUT + settings.XERO_READ_TIMEOUT + CLOCK_MARGIN_SECONDS


CLOCK_MARGIN_SECONDS = 5


@contextmanager
def global_slot():
    """Hold one of the ``XERO_MAX_CONCURRENT_CALLS`` slots for a run of calls.

    A fleet thread makes its calls one after another: holding one slot throughout, renewed
    when half its lease has gone, spares every call a race with the other threads for a
    free one and a statement. While every slot is held, the thread waits with reads only.

    Within the block, a call's slots are given back by the thread's next call, in the
    statement that takes that call's slots (``call_slot``), and the last ones as the block
    ends: a Site's concurrency slot stays taken a moment longer (while the result is
    saved), which only ever counts a call for longer than it lasted, and the thread's calls
    cost one statement each rather than two. A process that dies in that moment leaves the
    slots to lapse with their lease, as it does when it dies during a call.
    """
    slots = _slots()
    size = settings.XERO_MAX_CONCURRENT_CALLS
    pause = POLL_SECONDS
    while (key := _take_free(slots, GLOBAL_CONCURRENT, size, _lease())) is None:
        time.sleep(pause)
        pause = min(pause * 2, GLOBAL_POLL_MAX_SECONDS)
    held = [key, time.monotonic()]
    token = _held_global_slot.set(held)
    deferred: dict[str, float] = {}
    deferred_token = _deferred_lapses.set(deferred)
    try:
        yield key
    finally:
        _deferred_lapses.reset(deferred_token)
        _held_global_slot.reset(token)
        if held[0] is not None:  # None: handed to a call Xero may still be answering
            # Given back as the thread's other slots are: one statement for them all.
            deferred[key] = time.time()
        try:
            slots.release(deferred)
        except DatabaseError as error:
            # Not freed, so they lapse with their lease: the limits are kept meanwhile.
            logger.warning("Could not free the call slots %s: %s", sorted(deferred), error)


def _renew_held_global_slot(slots) -> bool:
    """Keep the slot this thread holds; False if it holds none any more."""
    held = _held_global_slot.get()
    if held is None or held[0] is None:
        return False
    key, renewed = held
    # Renewed only when what is left of the lease might not outlast this call.
    if _lease() - (time.monotonic() - renewed) > _lease() - CLOCK_MARGIN_SECONDS:
        return True
    if slots.touch(key, _lease()):
        held[1] = time.monotonic()
        return True
    # The lease lapsed and another caller took the slot: take a slot per call again.
    _held_global_slot.set(None)
    return False


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
