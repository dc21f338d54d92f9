"""sites/audit_chain.py and ``manage.py audit_verify``: a tamper-evident audit trail."""

import datetime
import io
import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone

from sites import audit, audit_chain, audit_triggers
from sites.models import AuditEntry, Site
from sites.selectors import audit_chain_last_check

Kind = AuditEntry.Kind


def make_entries(count: int, *, days_ago: int = 0) -> list[AuditEntry]:
    return [
        audit.record(
            kind=Kind.LOGIN_FAILED,
            summary=f"row {n}",
            changes={"api_key": ["", audit.SECRET], "n": [n, n + 1]},
            at=timezone.now() - datetime.timedelta(days=days_ago),
        )
        for n in range(count)
    ]


def verify() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def verify_fails() -> str:
    with pytest.raises(CommandError) as raised:
        verify()
    assert raised.value.returncode == 1
    return str(raised.value)


def as_the_tables_owner(sql: str, params: list) -> None:
    """What the owner of the table (or a superuser) can do: lift the triggers and write."""
    audit_triggers.uninstall(connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    audit_triggers.install(connection)


def test_every_way_of_writing_a_row_links_it_and_the_chain_verifies(make_site, make_user):
    site = make_site()  # django-auditlog's row, with its changes
    site.name = "Renamed Pty Ltd"
    site.save()
    make_user("Staff")  # django-auditlog's user rows
    make_entries(3)
    audit.record_for_sites(kind=Kind.FLEET_CHECK_QUEUED, site_ids=[site.pk])  # bulk_create

    assert "Audit chain verified" in verify()

    rows = list(AuditEntry.objects.order_by("pk"))
    assert rows[0].chain_prev == audit_chain.GENESIS
    assert all(b.chain_prev == a.chain_hash for a, b in zip(rows, rows[1:], strict=False))
    check = audit_chain_last_check()
    assert check["ok"] and check["rows"] == len(rows)
    assert check["last_verified_pk"] == rows[-1].pk
    assert check["last_verified_hash"] == rows[-1].chain_hash


def test_a_changed_row_is_named(append_only_triggers):
    entries = make_entries(5)
    as_the_tables_owner(
        "UPDATE sites_auditentry SET summary = %s WHERE id = %s", ["forged", entries[2].pk]
    )

    message = verify_fails()

    assert f"broken at row #{entries[2].pk}" in message
    assert "content does not match its hash" in message
    assert f"#{entries[0].pk} to #{entries[1].pk} verified" in message
    check = audit_chain_last_check()
    assert not check["ok"] and check["broken_pk"] == entries[2].pk
    assert check["last_verified_pk"] == entries[1].pk


def test_a_deleted_row_is_named_by_the_row_after_it(append_only_triggers):
    entries = make_entries(5)
    as_the_tables_owner("DELETE FROM sites_auditentry WHERE id = %s", [entries[2].pk])

    assert f"broken at row #{entries[3].pk}" in verify_fails()


def test_deleted_first_rows_are_named_when_no_prune_accounts_for_them(append_only_triggers):
    entries = make_entries(4)
    as_the_tables_owner("DELETE FROM sites_auditentry WHERE id <= %s", [entries[1].pk])

    message = verify_fails()

    assert f"broken at row #{entries[2].pk}" in message and "no prune row" in message


def test_a_row_inserted_past_the_application_is_named(append_only_triggers):
    entries = make_entries(2)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO sites_auditentry (object_pk, object_repr, action, changes_text, "
            "timestamp, kind, site_code, site_name, actor_username, via, summary, "
            "chain_prev, chain_hash) VALUES ('', '', 0, '', %s, 'login', '', '', '', 'web', "
            "'forged', %s, %s)",
            [timezone.now(), entries[-1].chain_hash, "f" * 64],
        )

    assert "content does not match its hash" in verify_fails()


def test_a_pruned_prefix_still_verifies_from_the_first_kept_row(append_only_triggers, settings):
    settings.AUDIT_RETENTION_DAYS = 400
    old = make_entries(3, days_ago=500)
    young = make_entries(2, days_ago=10)

    call_command("prune_audit_trail", stdout=io.StringIO())

    assert not AuditEntry.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert "Audit chain verified" in verify()
    assert audit_chain_last_check()["first_pk"] == young[0].pk
    pruned = AuditEntry.objects.get(kind=Kind.AUDIT_PRUNED)
    assert pruned.additional_data == {
        "first_kept_pk": young[0].pk,
        "last_deleted_hash": old[-1].chain_hash,
    }


def test_a_prune_deletes_only_a_prefix_of_the_chain(append_only_triggers, settings):
    """A row older than the cutoff after a younger one (a clock set back) stays for now."""
    settings.AUDIT_RETENTION_DAYS = 400
    old = make_entries(1, days_ago=500)
    young = make_entries(1, days_ago=10)
    late_old = make_entries(1, days_ago=500)

    call_command("prune_audit_trail", stdout=io.StringIO())

    kept = set(AuditEntry.objects.values_list("pk", flat=True))
    assert old[0].pk not in kept and {young[0].pk, late_old[0].pk} <= kept
    assert "Audit chain verified" in verify()


def test_an_empty_trail_says_so(db):
    assert "empty" in verify()


@pytest.mark.django_db(transaction=True)
def test_rows_written_in_parallel_never_fork_the_chain():
    threads, each = 6, 8
    start = threading.Barrier(threads)
    errors = []

    def write():
        try:
            start.wait()
            make_entries(each)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    workers = [threading.Thread(target=write) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    assert "Audit chain verified" in verify()
    assert audit_chain_last_check()["rows"] == threads * each


def test_verifying_twenty_thousand_rows_is_quick(db):
    """(100,000 rows: measured in docs/security-sessions-and-audit.md.)"""
    count = 20_000
    site_type_rows = [
        AuditEntry(
            kind=Kind.FLEET_CHECK_QUEUED,
            action=AuditEntry.Action.UPDATE,
            object_pk=str(n),
            object_id=n,
            object_repr=f"Site {n}",
            site_pk=n,
            site_code=f"site-{n}",
            site_name=f"Site {n}",
            via="manage.py xero_check_fleet",
            summary="Queued",
        )
        for n in range(count)
    ]
    AuditEntry.objects.bulk_create(site_type_rows, batch_size=5000)

    began = time.monotonic()
    assert f"{count} row(s)" in verify()
    took = time.monotonic() - began

    # Streamed in chunks: memory stays flat. About 2 s here on a shared 2-core machine.
    assert took < 15, f"audit_verify took {took:.1f} s for {count} rows"


# --- SQLite's rewrites, each refused ----------------------------------------------------------

SQLITE_REWRITES = {
    "REPLACE INTO": "REPLACE INTO sites_auditentry SELECT * FROM sites_auditentry WHERE id = {id}",
    "INSERT OR REPLACE": (
        "INSERT OR REPLACE INTO sites_auditentry SELECT * FROM sites_auditentry WHERE id = {id}"
    ),
    "UPSERT": (
        "INSERT INTO sites_auditentry SELECT * FROM sites_auditentry WHERE id = {id} "
        "ON CONFLICT(id) DO UPDATE SET summary = 'FORGED by UPSERT'"
    ),
    "UPDATE": "UPDATE sites_auditentry SET summary = 'FORGED by UPDATE' WHERE id = {id}",
    "UPDATE OR REPLACE": (
        "UPDATE OR REPLACE sites_auditentry SET summary = 'FORGED by UPDATE OR REPLACE' "
        "WHERE id = {id}"
    ),
    "DELETE": "DELETE FROM sites_auditentry WHERE id = {id}",
}


@pytest.mark.parametrize("trick", list(SQLITE_REWRITES))
def test_every_sqlite_rewrite_is_refused(append_only_triggers, trick):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's statements")
    entry = make_entries(1)[0]
    with connection.cursor() as cursor:
        # The statement REPLACE is refused with, so the forged row is the one the trick writes.
        cursor.execute(
            "CREATE TEMP TABLE forged AS SELECT * FROM sites_auditentry WHERE id = %s", [entry.pk]
        )
        cursor.execute("UPDATE forged SET summary = 'FORGED by REPLACE', actor_username = 'x'")
    sql = SQLITE_REWRITES[trick].format(id=entry.pk)
    if trick in ("REPLACE INTO", "INSERT OR REPLACE"):
        sql = sql.replace("SELECT * FROM sites_auditentry", "SELECT * FROM forged")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert AuditEntry.objects.get(pk=entry.pk).summary == entry.summary
    assert "Audit chain verified" in verify()


def test_sqlite_refuses_replace_even_with_recursive_triggers_on(append_only_triggers):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's statements")
    entry = make_entries(1)[0]
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA recursive_triggers = ON")
    try:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "REPLACE INTO sites_auditentry SELECT * FROM sites_auditentry WHERE id = %s",
                [entry.pk],
            )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA recursive_triggers = OFF")


def test_postgresql_refuses_an_upsert(append_only_triggers):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's statement")
    entry = make_entries(1)[0]
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO sites_auditentry SELECT * FROM sites_auditentry WHERE id = %s "
            "ON CONFLICT (id) DO UPDATE SET summary = 'FORGED by UPSERT'",
            [entry.pk],
        )
    assert AuditEntry.objects.get(pk=entry.pk).summary == entry.summary


def test_a_site_row_survives_its_site_and_still_verifies(make_site):
    site = make_site()
    site.delete()
    assert not Site.objects.exists()
    assert "Audit chain verified" in verify()
