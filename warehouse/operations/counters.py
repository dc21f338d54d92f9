"""Counters every process adds to, kept in the database (``operations_counter``).

Prometheus' client counts in the memory of one process; the Warehouse runs several web
processes, workers and cron commands, each short-lived or restarted now and then. Rather
than prometheus-client's multiprocess mode (a shared directory on one machine, which RQ
workers elsewhere would not reach), each event adds to a row with one upsert, and
``/metrics`` reads the rows at scrape time. Keys are ``name`` or ``name{label="value",…}``.

Adding never fails its caller: a busy database loses the count, with a warning.
"""

import bisect
import contextvars
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

from django.db import DatabaseError, connection, transaction

from .models import Counter, SiteHealth

logger = logging.getLogger(__name__)

# Upper bounds (seconds) of the Xero call latency histogram's buckets.
XERO_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)

# How the connection test under way was started: "button", "fleet", "command", "api".
# Callers that know set it (``started_by``); otherwise the test's service infers it.
test_started_by: contextvars.ContextVar[str] = contextvars.ContextVar("started_by", default="")


@contextmanager
def started_by(origin: str) -> Iterator[None]:
    """Tests run within this block count as started by ``origin`` (e.g. an API call)."""
    token = test_started_by.set(origin)
    try:
        yield
    finally:
        test_started_by.reset(token)


def key(name: str, labels: Mapping[str, str] | None = None) -> str:
    """The row's key: Prometheus' own notation, so /metrics can write it back as it is."""
    if not labels:
        return name
    inside = ",".join(f'{label}="{_escape(value)}"' for label, value in sorted(labels.items()))
    return f"{name}{{{inside}}}"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def add_many(amounts: Mapping[str, float]) -> None:
    """Add each amount to its row, in one statement."""
    if not amounts:
        return
    quote = connection.ops.quote_name
    table, key_column, value_column = quote(Counter._meta.db_table), quote("key"), quote("value")
    rows = ", ".join(["(%s, %s)"] * len(amounts))
    params: list[object] = []
    for counter_key, amount in amounts.items():
        params += [counter_key[:200], float(amount)]
    sql = (
        f"INSERT INTO {table} ({key_column}, {value_column}) VALUES {rows} "  # noqa: S608
        f"ON CONFLICT ({key_column}) DO UPDATE "
        f"SET {value_column} = {table}.{value_column} + excluded.{value_column}"
    )
    try:
        # Inside a caller's transaction, a savepoint: a failure must not abort it.
        with (
            transaction.atomic() if connection.in_atomic_block else nullcontext(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, params)
    except DatabaseError:
        logger.warning("A metrics counter was not updated (the database was busy)")


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
    outcome and calls left kept in ``SiteHealth`` (a later result never loses to an
    earlier one that finished after it)."""
    add("connection_tests_total", {"outcome": test.outcome, "started_by": started_by})
    quote = connection.ops.quote_name
    table = quote(SiteHealth._meta.db_table)
    columns = ["site_id", "outcome", "tested_at", "minute_limit_remaining", "day_limit_remaining"]
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns[1:])
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES (%s, %s, %s, %s, %s) ON CONFLICT ({quote('site_id')}) DO UPDATE SET {updates} "
        f"WHERE excluded.{quote('tested_at')} >= {table}.{quote('tested_at')}"
    )
    field = SiteHealth._meta.get_field("tested_at")
    params = [
        test.site_id,
        test.outcome,
        field.get_db_prep_value(test.started_at, connection),
        test.minute_limit_remaining,
        test.day_limit_remaining,
    ]
    try:
        with (
            transaction.atomic() if connection.in_atomic_block else nullcontext(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, params)
    except DatabaseError:
        logger.warning("A Site's last outcome for the metrics was not updated (database busy)")


def values() -> dict[str, float]:
    """Every counter's value by key."""
    return dict(Counter.objects.values_list("key", "value"))
