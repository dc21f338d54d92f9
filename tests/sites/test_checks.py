from cryptography.fernet import Fernet
from django.core.checks import run_checks

from tests.conftest import CONSUMER_SECRET


def check_ids(**kwargs):
    return {message.id for message in run_checks(**kwargs)}


def test_missing_keys_are_reported_at_startup_naming_the_setting(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    messages = [m for m in run_checks() if m.id == "sites.encryption_keys_missing"]
    assert messages
    assert "FIELD_ENCRYPTION_KEYS is not set" in messages[0].msg


def test_malformed_key_is_reported_at_startup(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["nonsense"]
    assert "sites.encryption_key_malformed" in check_ids()


def test_good_keys_pass_the_startup_check():
    assert not {i for i in check_ids() if i.startswith("sites.")}


def test_wrong_key_for_stored_secrets_is_reported_by_the_database_check(make_site, settings):
    make_site(api_secret=CONSUMER_SECRET)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert "sites.secret_undecryptable" in check_ids(databases=["default"])
    assert "sites.secret_undecryptable" not in check_ids()


def test_an_audit_retention_under_a_year_is_reported_naming_the_setting(settings):
    settings.AUDIT_RETENTION_DAYS = 364
    messages = [m for m in run_checks() if m.id == "sites.audit_retention_too_short"]
    assert messages and "AUDIT_RETENTION_DAYS" in messages[0].msg
    settings.AUDIT_RETENTION_DAYS = 365
    assert "sites.audit_retention_too_short" not in check_ids()
