"""Exports (dumpdata, serializers, fixtures) carry encrypted fields as ciphertext only."""

import io
import json
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from cryptography.fernet import Fernet
from django.core import serializers
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import TOTPDevice
from accounts.services import recovery_codes_replace
from sites.fields import SERIALISED_PREFIX
from sites.models import Site
from tests.conftest import CONSUMER_SECRET
from tests.second_factor import totp_code, wrong_code
from xero.models import AccessToken, Certificate

ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.an-access-token-for-tests.c2lnbmF0dXJl"


@pytest.fixture
def secrets_everywhere(site, issue_certificate, make_user, client):
    """Every kind of secret the Warehouse keeps, stored, plus a failed sign-in."""
    certificate = issue_certificate(site)
    AccessToken.objects.create(
        site=site,
        access_token=ACCESS_TOKEN,
        expires_at=timezone.now() + timedelta(minutes=30),
        credentials_digest="0" * 64,
    )
    user = make_user("Staff")
    codes = recovery_codes_replace(user=user)
    device = TOTPDevice.objects.get(user=user)
    client.force_login(user)
    client.post(reverse("admin:second_factor"), {"code": wrong_code(device)})
    assert AccessAttempt.objects.exists()
    private_key = Certificate.objects.get(pk=certificate.pk).private_key_pem
    key_body = "".join(line for line in private_key.splitlines() if "-----" not in line)
    return {
        "API Secret": [CONSUMER_SECRET],
        "private key": ["PRIVATE KEY", key_body[:64], key_body[-64:]],
        "access token": [ACCESS_TOKEN],
        "TOTP key": [device.key, device.secret_base32, totp_code(device)],
        "recovery codes": [*codes, *(code.replace("-", "") for code in codes)],
    }


def assert_no_plaintext(text, secrets):
    for kind, values in secrets.items():
        for value in values:
            assert value not in text, f"{kind} in plaintext"
            assert value.lower() not in text.lower(), f"{kind} in plaintext"


@pytest.mark.parametrize("fmt", ["json", "jsonl", "xml"])
def test_dumpdata_of_the_whole_database_holds_no_secret_in_plaintext(secrets_everywhere, fmt):
    out = io.StringIO()
    call_command("dumpdata", format=fmt, stdout=out)
    dump = out.getvalue()
    assert "acme" in dump and "accounts.totpdevice" in dump  # the rows are there
    assert_no_plaintext(dump, secrets_everywhere)
    assert SERIALISED_PREFIX in dump


def test_the_python_serialiser_gives_ciphertext_too(secrets_everywhere):
    data = serializers.serialize("python", Site.objects.all())
    assert data[0]["fields"]["api_secret"].startswith(SERIALISED_PREFIX)
    assert_no_plaintext(repr(data), secrets_everywhere)


def test_loaddata_reads_a_dump_back_with_its_secrets(site, tmp_path):
    path = tmp_path / "sites.json"
    call_command("dumpdata", "sites.site", output=str(path))
    Site.objects.all().delete()
    call_command("loaddata", str(path), verbosity=0)
    assert Site.objects.get(code="acme").api_secret == CONSUMER_SECRET


def test_loaddata_of_an_authenticator_keeps_it_working(make_user, tmp_path):
    user = make_user("Staff")
    device = TOTPDevice.objects.get(user=user)
    path = tmp_path / "devices.json"
    call_command("dumpdata", "accounts.totpdevice", output=str(path))
    key = device.key
    TOTPDevice.objects.all().delete()
    call_command("loaddata", str(path), verbosity=0)
    assert TOTPDevice.objects.get(user=user).key == key


def test_loaddata_under_other_keys_stops_with_a_message_naming_the_setting(
    site, tmp_path, settings
):
    path = tmp_path / "sites.json"
    call_command("dumpdata", "sites.site", output=str(path))
    Site.objects.all().delete()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(Exception, match="FIELD_ENCRYPTION_KEYS") as error:
        call_command("loaddata", str(path), verbosity=0)
    assert CONSUMER_SECRET not in str(error.value)
    assert not Site.objects.exists()


def test_a_fixture_written_by_hand_with_a_plaintext_secret_still_loads_encrypted(db, tmp_path):
    path = tmp_path / "handmade.json"
    path.write_text(
        json.dumps(
            [{"model": "sites.site", "pk": 5,
              "fields": {"name": "Handmade", "code": "handmade", "api_secret": "HANDMADESECRET",
                         "created_at": "2026-01-01T00:00:00Z",
                         "updated_at": "2026-01-01T00:00:00Z"}}]
        )
    )  # fmt: skip
    call_command("loaddata", str(path), verbosity=0)
    assert Site.objects.get(code="handmade").api_secret == "HANDMADESECRET"


def test_yaml_says_what_is_missing_or_gives_ciphertext(site):
    try:
        import yaml  # noqa: F401  (PyYAML is not a dependency)
    except ImportError:
        with pytest.raises(CommandError, match="No module named .yaml."):
            call_command("dumpdata", "sites.site", format="yaml", stdout=io.StringIO())
    else:
        out = io.StringIO()
        call_command("dumpdata", "sites.site", format="yaml", stdout=out)
        assert CONSUMER_SECRET not in out.getvalue()


def test_a_secret_typed_like_an_exported_one_is_kept_as_typed(client_for, site):
    typed = SERIALISED_PREFIX + "gAAAAAnotatoken"
    response = client_for("staff").post(
        reverse("xero:setup", args=[site.code]), {"api_key": site.api_key, "new_api_secret": typed}
    )
    assert response.status_code == 302
    assert Site.objects.get(pk=site.pk).api_secret == typed
