import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from sites.models import INTERCONNECT_ID, Site, mask_secret
from tests.conftest import CONSUMER_KEY


def test_new_site_has_the_imagatec_interconnect_id(make_site):
    assert make_site().interconnect_id == INTERCONNECT_ID == "IMAGATEC"


def test_model_validation_refuses_another_interconnect_id(site):
    site.interconnect_id = "OTHER"
    with pytest.raises(ValidationError) as error:
        site.full_clean()
    assert "always IMAGATEC" in str(error.value)


def test_orm_save_of_another_interconnect_id_is_refused_by_the_database(site):
    site.interconnect_id = "OTHER"
    with pytest.raises(IntegrityError), transaction.atomic():
        site.save()
    site.refresh_from_db()
    assert site.interconnect_id == INTERCONNECT_ID


def test_bulk_update_of_the_interconnect_id_is_refused_by_the_database(site):
    with pytest.raises(IntegrityError), transaction.atomic():
        Site.objects.update(interconnect_id="OTHER")
    assert Site.objects.get().interconnect_id == INTERCONNECT_ID


def test_raw_insert_with_another_interconnect_id_is_refused_by_the_database(db):
    table = Site._meta.db_table
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, code, interconnect_id, connection_type, api_key, "
            "api_secret, payroll_enabled, xero_organisation_name, created_at, updated_at) "
            "VALUES ('Raw', 'raw', 'OTHER', 'private_app', '', '', %s, '', %s, %s)",
            [True, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"],
        )
    assert not Site.objects.exists()


def test_two_sites_cannot_share_an_api_key(site, make_site):
    with pytest.raises(ValidationError) as error:
        make_site(api_key=CONSUMER_KEY)
    assert "Another Site already uses this API Key" in str(error.value)


def test_many_sites_may_have_no_api_key_yet(make_site):
    make_site(api_key="")
    make_site(api_key="")
    assert Site.objects.filter(api_key="").count() == 2


@pytest.mark.parametrize(
    ("secret", "masked"),
    [
        ("LLA9S8D7F6G5H4J3K2L1Q0W9E8R7QO", "LL.....QO"),
        ("short-secret-1", "sh.....-1"),
        ("tiny", "....."),
        ("", ""),
    ],
)
def test_secret_is_masked_like_xero_shows_it(secret, masked):
    assert mask_secret(secret) == masked


def test_site_reports_whether_it_has_both_credentials(make_site):
    assert not make_site(api_key=CONSUMER_KEY).has_api_credentials


@pytest.mark.parametrize(
    "name",
    ["Acme\nBcc: all@example.com", "Acme\r\nLtd", "Acme\x00", "Acme\u202eLtd", "Acme\u2028Ltd"],
)
def test_a_site_name_refuses_control_and_format_characters(site, name):
    site.name = name
    with pytest.raises(ValidationError) as error:
        site.full_clean()
    assert error.value.error_dict["name"][0].code == "name_characters"


def test_a_site_name_keeps_accents_and_punctuation(site):
    site.name = "Café Müller & Sons — Zürich (AU)"
    site.full_clean()


def test_the_migration_cleans_names_saved_before_they_were_validated(site, make_site):
    from importlib import import_module

    from django.apps import apps

    clean_names = import_module("sites.migrations.0007_site_name_printable").clean_names
    # PostgreSQL never stored a NUL; SQLite may have.
    nul = "\x00" if connection.vendor == "sqlite" else "\x07"
    Site.objects.filter(pk=site.pk).update(name=f"Acme\r\nBcc: x@example.com\u202e{nul} Ltd")
    blank = make_site()
    Site.objects.filter(pk=blank.pk).update(name=f"\n{nul}")

    clean_names(apps, None)

    site.refresh_from_db()
    blank.refresh_from_db()
    assert site.name == "Acme Bcc: x@example.com Ltd"
    assert blank.name == blank.code
