"""Counters every process adds to, kept in the database (``operations_counter``).

Prometheus' client counts in the memory of one process; the Warehouse runs several web
processes, workers and cron commands, each short-lived or restarted now and then. Rather
than prometheus-client's multiprocess mode (a shared directory on one machine, which RQ
workers elsewhere would not reach), each event adds to a row with one upsert, and
``/metrics`` reads the rows at scrape time. Keys are ``name`` or ``name{label="value",…}``.

Events are added up in the process and written in one statement per table
(``flush``) when a request ends, when a task ends (the workers), at a process's exit,
and at any add once ``FLUSH_SECONDS`` passed since the last write; so a fleet check
costs no statement per Site or per call (issue 14's budget), and a killed process
loses at most its last few seconds of counts. Writing never fails its caller: a busy
database keeps the counts for the next flush.
"""

import bisect
import datetime
import logging
import threading
import time
from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any

from django.db import DatabaseError, connection, models, transaction

from warehouse import database

from .models import Counter, SiteHealth

logger = logging.getLogger(__name__)

# Upper bounds (seconds) of the Xero call latency histogram's buckets.
XERO_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)


def key(name: str, labels: Mapping[str, str] | None = None) -> str:
    """The row's key: Prometheus' own notation, so /metrics can write it back as it is."""
    if not labels:
        return name
    inside = ",".join(f'{label}="{_escape(value)}"' for label, value in sorted(labels.items()))
    return f"{name}{{{inside}}}"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# Seconds after which an add writes what the process has added up, whatever else happens.
FLUSH_SECONDS = 5.0
# Seconds a flush waits for a lock another connection holds. Counts the database refuses are
# kept for the next flush, so a flush never makes a request (or a connection test, whose
# calls to Xero it counts) wait out a lock.
FLUSH_LOCK_WAIT = 0.25

_lock = threading.Lock()
_pending: dict[str, float] = {}
_pending_health: dict[int, tuple[str, datetime.datetime, int | None, int | None]] = {}
_last_flush = time.monotonic()
# How many adds this process made: a request writes at its end only if it added (so a page
# that counted nothing costs no statement).
_adds = 0


def adds() -> int:
    return _adds


def add_many(amounts: Mapping[str, float]) -> None:
    """Add each amount to its counter (written at the next flush)."""
    global _adds
    with _lock:
        _adds += 1
        for counter_key, amount in amounts.items():
            _pending[counter_key] = _pending.get(counter_key, 0.0) + float(amount)
    _flush_if_due()


def add(name: str, labels: Mapping[str, str] | None = None, amount: float = 1) -> None:
    add_many({key(name, labels): amount})


def xero_call(*, seconds: float, status: int) -> None:
    """One call to Xero answered: its latency into the histogram, and a 429 counted."""
    index = bisect.bisect_left(XERO_LATENCY_BUCKETS, seconds)
    bound = "+Inf" if index == len(XERO_LATENCY_BUCKETS) else f"{XERO_LATENCY_BUCKETS[index]:g}"
    amounts = {
        key("xero_call_duration_seconds_bucket_only", {"le": bound}): 1,
        "xero_call_duration_seconds_sum": seconds,
        "xero_call_duration_seconds_count": 1,
    }
    if status == 429:
        amounts["xero_rate_limited_total"] = 1
    add_many(amounts)


def connection_test(*, test: Any, started_by: str) -> None:
    """A connection test recorded: counted by outcome and origin, and its Site's last
    outcome and calls left kept for ``SiteHealth`` (the newest result wins)."""
    with _lock:
        known = _pending_health.get(test.site_id)
        if known is None or known[1] <= test.started_at:
            _pending_health[test.site_id] = (
                test.outcome,
                test.started_at,
                test.minute_limit_remaining,
                test.day_limit_remaining,
            )
    add("connection_tests_total", {"outcome": test.outcome, "started_by": started_by})


def _flush_if_due() -> None:
    if time.monotonic() - _last_flush >= FLUSH_SECONDS:
        flush()


def flush() -> None:
    """Write what this process added up: one statement per table, in a savepoint when the
    caller is inside a transaction. Kept for the next flush when the database refuses."""
    global _last_flush
    with _lock:
        amounts, health = dict(_pending), dict(_pending_health)
        _pending.clear()
        _pending_health.clear()
        _last_flush = time.monotonic()
    if not amounts and not health:
        return
    try:
        with (
            database.lock_waits_at_most(FLUSH_LOCK_WAIT),
            transaction.atomic() if connection.in_atomic_block else nullcontext(),
            connection.cursor() as cursor,
        ):
            if amounts:
                cursor.execute(*_counters_upsert(amounts))
            if health:
                # A Site deleted since its test: its row would break the foreign key.
                from sites.models import Site

                alive = set(Site.objects.filter(pk__in=list(health)).values_list("pk", flat=True))
                health = {site_id: row for site_id, row in health.items() if site_id in alive}
            if health:
                cursor.execute(*_health_upsert(health))
    except DatabaseError as error:
        logger.warning(
            "Metrics counters not written yet (the database %s)", database.refusal(error)
        )
        with _lock:
            for counter_key, amount in amounts.items():
                _pending[counter_key] = _pending.get(counter_key, 0.0) + amount
            for site_id, row in health.items():
                _pending_health.setdefault(site_id, row)


def discard() -> None:
    """Forget what this process added up and did not write (the tests, between tests)."""
    with _lock:
        _pending.clear()
        _pending_health.clear()


def flush_at_exit() -> None:
    """At a process's exit (a command, a worker stopping): nothing may raise here."""
    try:
        flush()
    except Exception:  # noqa: BLE001 -- the interpreter is going away
        logger.warning("Metrics counters lost at exit", exc_info=True)
    finally:
        connection.close()


def _counters_upsert(amounts: Mapping[str, float]) -> tuple[str, list[Any]]:
    quote = connection.ops.quote_name
    table, key_column, value_column = quote(Counter._meta.db_table), quote("key"), quote("value")
    rows = ", ".join(["(%s, %s)"] * len(amounts))
    params: list[Any] = []
    for counter_key, amount in amounts.items():
        params += [counter_key[:200], amount]
    sql = (
        f"INSERT INTO {table} ({key_column}, {value_column}) VALUES {rows} "  # noqa: S608
        f"ON CONFLICT ({key_column}) DO UPDATE "
        f"SET {value_column} = {table}.{value_column} + excluded.{value_column}"
    )
    return sql, params


def _health_upsert(
    health: Mapping[int, tuple[str, datetime.datetime, int | None, int | None]],
) -> tuple[str, list[Any]]:
    quote = connection.ops.quote_name
    table = quote(SiteHealth._meta.db_table)
    columns = ["site_id", "outcome", "tested_at", "minute_limit_remaining", "day_limit_remaining"]
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns[1:])
    rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(health))
    field = SiteHealth._meta.get_field("tested_at")
    assert isinstance(field, models.DateTimeField)
    params: list[Any] = []
    for site_id, (outcome, tested_at, minute, day) in health.items():
        params += [site_id, outcome, field.get_db_prep_value(tested_at, connection), minute, day]
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES {rows} ON CONFLICT ({quote('site_id')}) DO UPDATE SET {updates} "
        f"WHERE excluded.{quote('tested_at')} >= {table}.{quote('tested_at')}"
    )
    return sql, params


def values() -> dict[str, float]:
    """Every counter's value by key (this process's pending counts written first)."""
    flush()
    return dict(Counter.objects.values_list("key", "value"))
