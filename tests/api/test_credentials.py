"""api/credentials.py, the api_credential_create command and the credential admin: secrets
kept as hashes, Bearer only, expiry, revocation, the rate limit."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from api.models import ApiCredential
from sites.models import AuditEntry
from tests.conftest import audit_rows_text, database_files_bytes


def test_the_command_prints_the_secret_once_alone_on_the_last_line_and_keeps_only_its_hash(
    site,
):
    out = io.StringIO()

    call_command(
        "api_credential_create",
        "Interconnect prod",
        "--scope",
        "status",
        "--site",
        "acme",
        "--days",
        "30",
        stdout=out,
    )

    lines = out.getvalue().strip().splitlines()
    secret = lines[-1]
    credential = ApiCredential.objects.get()
    assert secret.startswith(f"whapi_{credential.lookup_id}_") and " " not in secret
    assert credential.secret_hash == ApiCredential.hash_secret(secret)
    assert credential.scopes == ["status"]
    assert list(credential.sites.values_list("code", flat=True)) == ["acme"]
    assert 29 <= (credential.expires_at - timezone.now()).days <= 30
    assert secret not in audit_rows_text()
    assert secret.encode() not in database_files_bytes()
    assert AuditEntry.objects.filter(kind="api_credential_created").count() == 1


def test_the_command_refuses_an_unknown_site_in_one_line(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No Site with the code nowhere"):
        call_command("api_credential_create", "x", "--scope", "status", "--site", "nowhere")
    assert not ApiCredential.objects.exists()


def test_a_credential_lasts_365_days_by_default(make_credential):
    credential, _ = make_credential("status")
    assert (credential.expires_at - timezone.now()).days == 364


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "credential_missing"),
        ("Basic dXNlcjpwdw==", "credential_missing"),
        ("Bearer whapi_nonsense", "credential_invalid"),
        ("Bearer ghp_0123456789", "credential_invalid"),
    ],
)
def test_requests_without_a_valid_bearer_credential_get_401_json(client, db, header, code):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}

    response = client.get("/api/v1/sites/", **extra)

    assert response.status_code == 401
    assert response.json()["code"] == code


def test_a_wrong_secret_with_a_real_lookup_id_is_refused(make_credential, api_client):
    credential, secret = make_credential("status")
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")

    assert api_client(forged).get("/api/v1/sites/").json()["code"] == "credential_invalid"


def test_an_expired_credential_is_refused(make_credential, api_client):
    credential, secret = make_credential("status")
    ApiCredential.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))

    response = api_client(secret).get("/api/v1/sites/")

    assert response.status_code == 401 and response.json()["code"] == "credential_expired"


def test_a_revoked_credential_is_refused_at_once(make_credential, api_client):
    from api.credentials import credential_revoke

    credential, secret = make_credential("status")
    assert api_client(secret).get("/api/v1/sites/").status_code == 200

    credential_revoke(credential=credential)

    response = api_client(secret).get("/api/v1/sites/")
    assert response.status_code == 401 and response.json()["code"] == "credential_revoked"
    assert AuditEntry.objects.filter(kind="api_credential_revoked").count() == 1


def test_the_api_never_accepts_an_admins_session_cookie(client_for, db):
    client = client_for("admins")
    assert client.get("/admin/").status_code == 200

    response = client.get("/api/v1/sites/")

    assert response.status_code == 401 and response.json()["code"] == "credential_missing"


def test_the_admin_pages_never_accept_an_api_credential(make_credential, client, db):
    _, secret = make_credential("status", "credentials")

    response = client.get("/admin/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    listing = client.get("/xero/health/", HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert listing.status_code == 302 and "/login/" in listing["Location"]


def test_over_the_rate_limit_the_api_answers_429_with_retry_after(
    make_credential, api_client, settings, monkeypatch
):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    credential, secret = make_credential("status")
    client = api_client(secret)
    # The window is the clock's minute: five requests must not straddle its end.
    second_twenty = timezone.now().replace(second=20, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: second_twenty)

    statuses = [client.get("/api/v1/sites/").status_code for _ in range(4)]
    refused = client.get("/api/v1/sites/")

    assert statuses == [200, 200, 200, 429]
    assert refused.json()["code"] == "rate_limited"
    assert refused["Retry-After"] == "40"
    credential.refresh_from_db()
    assert credential.window_count == 5 and credential.last_used_at is not None


def test_the_rate_limit_counts_each_minute_afresh(make_credential, settings):
    from api.credentials import credential_use

    settings.API_RATE_LIMIT_PER_MINUTE = 1
    _, secret = make_credential("status")
    minute = timezone.now().replace(second=1, microsecond=0)

    credential_use(secret=secret, now=minute)
    credential_use(secret=secret, now=minute + datetime.timedelta(minutes=1))


def test_a_credential_without_the_scope_gets_403(make_credential, api_client, site):
    _, secret = make_credential("status")

    response = api_client(secret).post("/api/v1/sites/acme/xero/access-token")

    assert response.status_code == 403 and response.json()["code"] == "scope_missing"


def test_admins_list_create_and_revoke_credentials_and_the_secret_is_shown_once(client_for, site):
    client = client_for("admins")

    page = client.post(
        "/admin/api/apicredential/add/",
        {
            "name": "Interconnect",
            "scopes": ["status", "credentials"],
            "sites": ["acme"],
            "days": "90",
        },
    )

    credential = ApiCredential.objects.get()
    text = page.content.decode()
    secret = text.split('<code id="api-secret">')[1].split("</code>")[0]
    assert credential.secret_hash == ApiCredential.hash_secret(secret)
    assert "no-store" in page["Cache-Control"]
    listing = client.get("/admin/api/apicredential/").content.decode()
    detail = client.get(f"/admin/api/apicredential/{credential.pk}/change/").content.decode()
    assert "Interconnect" in listing and secret not in listing and secret not in detail
    client.post(
        "/admin/api/apicredential/",
        {"action": "revoke", "_selected_action": [credential.pk]},
    )
    credential.refresh_from_db()
    assert credential.revoked_at is not None


@pytest.mark.parametrize("role", ["staff", "support"])
def test_only_admins_reach_the_credentials(client_for, role, db):
    client = client_for(role)

    assert client.get("/admin/api/apicredential/").status_code == 403
    assert client.post("/admin/api/apicredential/add/", {"name": "x"}).status_code in (302, 403)
    assert not ApiCredential.objects.exists()


def test_credentials_expiring_within_30_days_are_counted_for_readiness(make_credential):
    from api.credentials import credential_revoke

    make_credential("status", days=10, name="soon")
    make_credential("status", days=365, name="later")
    revoked, _ = make_credential("status", days=5, name="revoked")
    credential_revoke(credential=revoked)
    expired, _ = make_credential("status", days=1, name="expired")
    ApiCredential.objects.filter(pk=expired.pk).update(expires_at=timezone.now())

    assert list(ApiCredential.objects.expiring_within(30).values_list("name", flat=True)) == [
        "soon"
    ]
