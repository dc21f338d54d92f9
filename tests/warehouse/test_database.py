"""warehouse/database.py: how long a statement may wait for a lock, and what that costs."""

import logging

import pytest
from django.db import DatabaseError, OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.database_faults import read_only
from tests.test_layers import LAYERS, ROOT
from warehouse.database import after_commit, lock_waits_at_most, refusal, set_lock_wait

# Outside a test's transaction: what is remembered is only trusted outside one.
pytestmark = pytest.mark.django_db(transaction=True)


def lock_wait_ms() -> int:
    """The wait the database itself holds for this connection, asked directly."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA busy_timeout")
        else:
            cursor.execute("SELECT setting FROM pg_settings WHERE name = 'lock_timeout'")
        return int(cursor.fetchone()[0])


def test_the_wait_holds_inside_the_block_and_the_previous_one_comes_back():
    before = lock_wait_ms()

    with lock_waits_at_most(2.5):
        inside = lock_wait_ms()

    assert inside == 2500
    assert lock_wait_ms() == before


def test_a_nested_block_with_the_same_wait_costs_no_statement():
    with lock_waits_at_most(3), CaptureQueriesContext(connection) as statements:
        for _ in range(5):
            with lock_waits_at_most(3):
                pass

    assert len(statements) == 0


def test_a_nested_block_with_another_wait_sets_it_and_puts_the_outer_one_back():
    with lock_waits_at_most(3):
        with lock_waits_at_most(1):
            inner = lock_wait_ms()
        outer = lock_wait_ms()

    assert (inner, outer) == (1000, 3000)


def test_a_wait_within_the_slack_is_kept_and_one_outside_it_is_set():
    with lock_waits_at_most(3):
        with CaptureQueriesContext(connection) as statements:
            set_lock_wait(2.5, slack=1)
        kept = lock_wait_ms()
        set_lock_wait(1.5, slack=1)
        shortened = lock_wait_ms()

    assert len(statements) == 0 and kept == 3000
    assert shortened == 1500


def test_a_wait_set_in_a_rolled_back_transaction_is_not_trusted_afterwards():
    before = lock_wait_ms()
    with lock_waits_at_most(3):
        with pytest.raises(RuntimeError), transaction.atomic():
            set_lock_wait(1)
            raise RuntimeError("roll back")
        # PostgreSQL undid the setting with the transaction; SQLite kept it.
        set_lock_wait(1)
        after_rollback = lock_wait_ms()
    after_block = lock_wait_ms()

    assert after_rollback == 1000
    assert after_block == before


def test_a_new_connection_gets_the_wait_again():
    with lock_waits_at_most(3):
        connection.close()
        set_lock_wait(3)
        reconnected = lock_wait_ms()

    assert reconnected == 3000


def refuse(what: str) -> None:
    raise OperationalError(f"database is locked ({what})")


def test_a_hook_that_fails_after_the_commit_is_logged_and_never_raised_into_the_change(caplog):
    from sites.models import Site

    ran = []
    with caplog.at_level(logging.ERROR), transaction.atomic():
        site = Site.objects.create(name="Hooked", code="hooked")
        # Django's log line names a hook by __qualname__: for the partial the stamp was,
        # it raised AttributeError instead, into the save (issue 29's false alert).
        after_commit(refuse, "the stamp")
        after_commit(ran.append, "next")

    assert Site.objects.filter(pk=site.pk).exists()
    assert ran == ["next"]
    assert "Error calling refuse in on_commit()" in caplog.text
    assert "database is locked (the stamp)" in caplog.text


def test_a_hook_outside_a_transaction_runs_at_once():
    ran = []
    after_commit(ran.append, 1)
    assert ran == [1]


def test_a_refusal_says_cannot_write_for_a_read_only_database_and_busy_otherwise():
    from sites.models import Site

    with read_only(), pytest.raises(DatabaseError) as refused:
        Site.objects.create(name="Read only", code="read-only")

    assert refusal(refused.value) == "cannot write: full or read-only"
    assert refusal(OperationalError("database is locked")) == "was busy"


def test_every_after_commit_step_goes_through_after_commit():
    # One place decides what a failing step does (logged, never raised into the change).
    direct = [
        str(path.relative_to(ROOT))
        for package in LAYERS
        for path in (ROOT / package).rglob("*.py")
        if "on_commit(" in path.read_text() and path != ROOT / "warehouse" / "database.py"
    ]
    assert direct == []
