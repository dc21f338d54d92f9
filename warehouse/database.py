"""Bounding how long a statement may wait for a lock another process holds."""

import math
from contextlib import contextmanager

from django.db import connection


@contextmanager
def lock_waits_at_most(seconds: float):
    """Within this block, a statement waits at most ``seconds`` for a lock, then raises
    ``OperationalError`` ("database is locked" on SQLite, "lock timeout" on PostgreSQL).

    ``set_lock_wait`` inside the block shortens the wait as a deadline nears.
    """
    vendor = connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        yield
        return
    previous = _current(vendor)
    set_lock_wait(seconds)
    try:
        yield
    finally:
        _apply(vendor, previous)


def set_lock_wait(seconds: float) -> None:
    """Let the next statements wait at most ``seconds`` for a lock (at least 1 ms)."""
    if connection.vendor in ("sqlite", "postgresql"):
        _apply(connection.vendor, max(1, math.ceil(seconds * 1000)))


def _current(vendor: str) -> int | str:
    with connection.cursor() as cursor:
        if vendor == "sqlite":
            cursor.execute("PRAGMA busy_timeout")
            return cursor.fetchone()[0]
        cursor.execute("SHOW lock_timeout")
        return cursor.fetchone()[0]


def _apply(vendor: str, value: int | str) -> None:
    with connection.cursor() as cursor:
        if vendor == "sqlite":
            # A PRAGMA takes no parameters; the value is an int read or computed here.
            cursor.execute(f"PRAGMA busy_timeout = {int(value)}")
        else:
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [str(value)])
