import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from sites.models import Site
from tests.conftest import CONSUMER_SECRET, sqlite_files_bytes
from warehouse.encryption import EncryptionKeyMalformed, EncryptionKeysMissing, SecretUndecryptable


def raw_secret(site) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT api_secret FROM {Site._meta.db_table} WHERE id = %s", [site.pk])
        return cursor.fetchone()[0]


def test_secret_is_stored_as_ciphertext_and_reads_back_as_plaintext(site):
    stored = raw_secret(site)
    assert CONSUMER_SECRET not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert Site.objects.get(pk=site.pk).api_secret == CONSUMER_SECRET


def test_bulk_update_encrypts_too(site):
    Site.objects.filter(pk=site.pk).update(api_secret="ANOTHER0SECRET0VALUE00")
    assert "ANOTHER0SECRET0VALUE00" not in raw_secret(site)
    assert Site.objects.get(pk=site.pk).api_secret == "ANOTHER0SECRET0VALUE00"


def test_empty_secret_stays_empty_so_it_can_be_queried(make_site):
    site = make_site()
    assert raw_secret(site) == ""
    assert Site.objects.filter(api_secret="").get() == site


def test_secret_still_decrypts_after_a_new_key_is_put_first(site, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    assert Site.objects.get(pk=site.pk).api_secret == CONSUMER_SECRET


def test_rotate_command_reencrypts_under_the_newest_key(site, settings, capsys):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    before = raw_secret(site)

    call_command("rotate_encryption_keys")

    assert raw_secret(site) != before
    assert "sites.Site: re-encrypted 1 row(s)" in capsys.readouterr().out
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert Site.objects.get(pk=site.pk).api_secret == CONSUMER_SECRET


def test_reading_with_the_wrong_key_raises_a_clear_error(site, settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SecretUndecryptable) as error:
        Site.objects.get(pk=site.pk)
    assert "FIELD_ENCRYPTION_KEYS" in error.value.message
    assert "rotate_encryption_keys" in error.value.message


def test_saving_without_keys_raises_a_clear_error(make_site, settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(EncryptionKeysMissing) as error:
        make_site(api_secret=CONSUMER_SECRET)
    assert "FIELD_ENCRYPTION_KEYS is not set" in error.value.message


def test_malformed_key_names_its_position_not_its_value(make_site, settings):
    good = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [good, "not-a-key"]
    with pytest.raises(EncryptionKeyMalformed) as error:
        make_site(api_secret=CONSUMER_SECRET)
    assert "Entry 2 of FIELD_ENCRYPTION_KEYS" in error.value.message
    assert "not-a-key" not in error.value.message


@pytest.mark.django_db(transaction=True)
def test_plaintext_secret_is_nowhere_in_the_sqlite_database_file(settings):
    if connection.vendor != "sqlite":
        pytest.skip("reads the SQLite file; PostgreSQL is covered by the raw column test")
    connection.ensure_connection()
    path = connection.settings_dict["NAME"]
    if str(path).startswith(("file:", ":memory:")):
        pytest.skip("in-memory test database has no file")
    site = Site(name="Filed", code="filed", api_secret=CONSUMER_SECRET)
    site.save()
    connection.close()
    # With write-ahead logging, recent pages may sit in the -wal file beside it.
    data = sqlite_files_bytes(path)
    assert b"Filed" in data  # the row really is in this file
    assert CONSUMER_SECRET.encode() not in data
