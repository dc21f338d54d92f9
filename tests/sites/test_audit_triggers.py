"""The audit table is append-only in the database itself (sites/audit_triggers.py), on
SQLite and PostgreSQL; only ``prune_audit_trail`` deletes, and only old rows."""

import datetime

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from sites import audit, audit_triggers
from sites.models import AuditEntry, AuditPruneWindow, RefusedAccessCount

Kind = AuditEntry.Kind


def make_entry(*, days_ago: int = 0) -> AuditEntry:
    return audit.record(
        kind=Kind.LOGIN_FAILED,
        summary="a row",
        at=timezone.now() - datetime.timedelta(days=days_ago),
    )


def test_an_update_through_the_orm_is_refused(append_only_triggers):
    entry = make_entry()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(summary="rewritten")
    assert AuditEntry.objects.get(pk=entry.pk).summary == "a row"


def test_an_update_in_raw_sql_is_refused(append_only_triggers):
    """On PostgreSQL too: DATABASE_URL=postgres://... runs this against the real trigger."""
    entry = make_entry()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE sites_auditentry SET summary = %s WHERE id = %s", ["forged", entry.pk]
        )
    assert AuditEntry.objects.get(pk=entry.pk).summary == "a row"


def test_a_delete_is_refused_even_of_an_old_row(append_only_triggers):
    entry = make_entry(days_ago=4000)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM sites_auditentry WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_a_prune_window_younger_than_a_year_opens_nothing(append_only_triggers):
    entry = make_entry(days_ago=30)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditPruneWindow.objects.create(before=timezone.now())
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_prune_deletes_only_rows_past_the_retention_and_records_itself(
    append_only_triggers, settings
):
    settings.AUDIT_RETENTION_DAYS = 400
    old = make_entry(days_ago=500)
    young = make_entry(days_ago=300)
    user = User.objects.create_user("scanner")
    for days_ago in (500, 300):
        hour = (timezone.now() - datetime.timedelta(days=days_ago)).replace(minute=0)
        RefusedAccessCount.objects.create(user=user, page_kind="unknown", hour=hour, count=9)
    call_command("prune_audit_trail", "--dry-run", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert AuditEntry.objects.filter(pk=old.pk).exists()
    call_command("prune_audit_trail", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert not AuditEntry.objects.filter(pk=old.pk).exists()
    assert AuditEntry.objects.filter(pk=young.pk).exists()
    # The counts of refused pages past the retention go with the trail's rows.
    [kept] = RefusedAccessCount.objects.values_list("hour", flat=True)
    assert timezone.now() - kept < datetime.timedelta(days=301)
    pruned = AuditEntry.objects.get(kind=Kind.AUDIT_PRUNED)
    assert pruned.via == "manage.py prune_audit_trail" and "1 row(s)" in pruned.summary
    assert not AuditPruneWindow.objects.exists()


def test_a_retention_under_a_year_is_refused_naming_the_setting(settings):
    settings.AUDIT_RETENTION_DAYS = 30
    with pytest.raises(CommandError, match="AUDIT_RETENTION_DAYS"):
        call_command("prune_audit_trail")


def test_the_trigger_sql_says_what_the_module_says():
    for sql in [audit_triggers.POSTGRESQL_INSTALL, *audit_triggers.SQLITE_INSTALL]:
        assert audit_triggers.REFUSED in sql
    assert f"{audit_triggers.PRUNE_FLOOR_DAYS} days" in audit_triggers.POSTGRESQL_INSTALL
    assert f"-{audit_triggers.PRUNE_FLOOR_DAYS} days" in audit_triggers.SQLITE_INSTALL[1]


def test_no_admin_page_edits_or_deletes_audit_rows(client_for):
    client = client_for("superuser")
    assert client.get("/admin/sites/auditentry/").status_code == 404
    assert client.get("/admin/auditlog/logentry/").status_code == 404
