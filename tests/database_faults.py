"""Faults of our own database that a test can cause on its own connection."""

from contextlib import contextmanager

from django.db import connection


@contextmanager
def read_only():
    """Within this block the test's connection refuses every write, as a database on a disk
    remounted read-only (or full) does."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("SET default_transaction_read_only = on")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA query_only = OFF")
            else:
                cursor.execute("SET default_transaction_read_only = off")
