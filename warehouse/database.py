"""Bounding how long a statement may wait for a lock another process holds."""

import logging
import math
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

from django.db import DatabaseError, OperationalError, connection, transaction

logger = logging.getLogger(__name__)


@contextmanager
def lock_waits_at_most(seconds: float):
    """Within this block, a statement waits at most ``seconds`` for a lock, then raises
    ``OperationalError`` ("database is locked" on SQLite, "lock timeout" on PostgreSQL).

    ``set_lock_wait`` inside the block shortens the wait as a deadline nears. Blocks nest:
    an inner block with the same wait as the outer costs no statement at all, which is
    how a fleet runner's thread keeps its many tests' waits free (``xero/fleet.py``).
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


def set_lock_wait(seconds: float, *, slack: float = 0) -> None:
    """Let the next statements wait at most ``seconds`` for a lock (at least 1 ms).

    With ``slack``, a wait already set between ``seconds`` and ``seconds + slack`` is kept
    as it is, and the statement that would change it is saved.
    """
    if connection.vendor not in ("sqlite", "postgresql"):
        return
    wanted = max(1, math.ceil(seconds * 1000))
    applied = _remembered()
    if (
        applied is not None
        and applied.isdigit()
        and wanted <= int(applied) <= wanted + slack * 1000
    ):
        return
    _apply(connection.vendor, wanted)


def _remembered() -> str | None:
    """The wait this module last set on the open connection, if it is surely still set.

    Outside a transaction the setting took effect for good. Inside one, PostgreSQL undoes
    it on a rollback, so nothing is remembered there and the database is asked instead.
    """
    if connection.in_atomic_block:
        return None
    remembered = getattr(connection, "warehouse_lock_wait", None)
    if remembered is None or remembered[0] is not connection.connection:
        return None
    return remembered[1]


def _remember(value: str) -> None:
    # A memo on Django's connection wrapper, which declares no such attribute (mypy).
    connection.warehouse_lock_wait = (  # type: ignore[attr-defined]
        None if connection.in_atomic_block else (connection.connection, value)
    )


def _current(vendor: str) -> str:
    remembered = _remembered()
    if remembered is not None:
        return remembered
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout" if vendor == "sqlite" else "SHOW lock_timeout")
        value = str(cursor.fetchone()[0])
    _remember(value)
    return value


def _apply(vendor: str, value: int | str) -> None:
    value = str(value)
    if _remembered() == value:
        return
    with connection.cursor() as cursor:
        if vendor == "sqlite":
            # A PRAGMA takes no parameters; the value is an int read or computed here.
            cursor.execute(f"PRAGMA busy_timeout = {int(value)}")
        else:
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [value])
    _remember(value)


def write_when_free(write: Callable[[], object], *, until: float, name: str) -> threading.Thread:
    """Run ``write`` in a thread of its own, again every half second while the database is
    locked (``OperationalError``), until it succeeds or ``time.monotonic()`` passes ``until``.

    For what a request must not wait for but must not lose either: a connection test's
    outcome when another connection holds the lock past the test's budget. The thread has
    its own connection, closed at the end; it is not a daemon, so a command that started it
    exits once it is done (at ``until`` at the latest), never with the row left unwritten.
    """

    def run() -> None:
        try:
            while True:
                try:
                    with lock_waits_at_most(WRITE_WHEN_FREE_WAIT):
                        write()
                    return
                except OperationalError:
                    if time.monotonic() >= until:
                        logger.error("%s: the database stayed locked; gave up", name)
                        return
                    time.sleep(0.5)
        except Exception:
            logger.exception("%s failed", name)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=name, daemon=False)
    thread.start()
    return thread


# How long each try of ``write_when_free`` waits for the lock.
WRITE_WHEN_FREE_WAIT = 1.0


# What a database says when it cannot write at all, as opposed to waiting for a lock: a
# full disk, a read-only file or server (a replica promoted wrongly, a disk remounted
# read-only). PostgreSQL's SQLSTATEs: disk_full, insufficient_resources, out_of_memory,
# read_only_sql_transaction; SQLite's messages.
_STORAGE_SQLSTATES = {"53100", "53000", "53200", "25006"}
_STORAGE_MESSAGES = ("database or disk is full", "readonly database", "disk i/o error")


def is_storage_failure(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot write (full or read-only), not "busy"."""
    cause = error.__cause__ or error
    if getattr(cause, "sqlstate", None) in _STORAGE_SQLSTATES:
        return True
    text = str(error).lower()
    return any(message in text for message in _STORAGE_MESSAGES)


def refusal(error: DatabaseError) -> str:
    """Why the database refused, for a log line: it cannot write, or it was busy."""
    return "cannot write: full or read-only" if is_storage_failure(error) else "was busy"


def after_commit(function: Callable[..., object], /, *args: object) -> None:
    """Run ``function(*args)`` once the current transaction commits (at once outside one).

    A failure is logged with its traceback and never raised. The change has committed by
    then: raised, the failure would reach the code that made the change as if the change
    had failed (a fleet check then called a saved pass an internal error, and alerted on
    it). Django names a failing hook in its log by ``__qualname__``, which a
    ``functools.partial`` lacks: the hook is a function of its own so that the log line is
    written instead of raising ``AttributeError``.
    """

    def hook() -> None:
        function(*args)

    hook.__qualname__ = getattr(function, "__qualname__", repr(function))
    transaction.on_commit(hook, robust=True)
