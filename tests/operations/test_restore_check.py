"""manage.py restore_check (operations/restore.py): one line per problem."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from operations import restore


def run() -> tuple[str, str | None]:
    out = io.StringIO()
    try:
        call_command("restore_check", stdout=out)
    except CommandError as error:
        return out.getvalue(), str(error)
    return out.getvalue(), None


def test_a_sound_database_passes(site, issue_certificate):
    issue_certificate(site)
    out, error = run()
    assert error is None
    assert "no problem found" in out


def test_secrets_under_another_key_are_named_one_line_each(site, make_site, settings):
    other = make_site(api_key="K" * 30, api_secret="s" * 30)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    out, error = run()

    assert error == "2 problem(s) found: the restore is not usable as it is."
    assert out.splitlines() == [
        f"sites.Site {site.pk}: api_secret does not decrypt under FIELD_ENCRYPTION_KEYS",
        f"sites.Site {other.pk}: api_secret does not decrypt under FIELD_ENCRYPTION_KEYS",
    ]
    assert "s" * 30 not in out


def test_the_old_key_kept_second_still_decrypts(site, settings):
    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]
    assert run()[1] is None


def test_an_unapplied_or_unknown_migration_is_named(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = 'operations' AND name LIKE '0002%'"
        )
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) "
            "VALUES ('operations', '0099_from_the_future', CURRENT_TIMESTAMP)"
        )
    out, error = run()
    assert error is not None
    assert "migration operations.0002_hprod_sitehealth is not applied" in out
    assert "migration operations.0099_from_the_future is applied but not in this code" in out


def test_an_audit_verify_command_plugs_in(db, monkeypatch):
    def failing_audit(**kwargs):
        raise CommandError("row 17 does not fit the chain")

    monkeypatch.setattr(restore, "get_commands", lambda: {"audit_verify": "sites"})
    monkeypatch.setattr(restore, "call_command", lambda *a, **k: failing_audit())
    out, error = run()
    assert "audit trail: row 17 does not fit the chain" in out
    assert error is not None


@pytest.mark.parametrize("check", restore.CHECKS)
def test_every_check_yields_nothing_on_an_empty_database(db, check):
    assert list(check()) == []
