"""Issue 26, OAuth exactly as the RFCs say, end to end against the fake Xero's identity
server (which enforces what a conforming server enforces): client authentication
form-encoded (RFC 6749 §2.3.1), a rejected token handled by the protocol (RFC 6750 §3.1),
replaced refresh tokens revoked (RFC 7009), nothing but the RFCs' headers at the identity
server, the refresh guard without the database's write lock, and the id_token checked
(OpenID Connect Core §3.1.3.7)."""

import html
import threading
import time
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from django.db import connection as db_connection
from django.utils import timezone
from django_tasks import default_task_backend

from sites.models import Site
from xero import tasks, web_app
from xero.client import XeroSession
from xero.exceptions import IdTokenInvalid, WarehouseBusy
from xero.models import ConnectionTest, ReplacedToken, TenantBinding, TokenSet
from xero.services import connection_test_run

from .conftest import CLIENT_ID, WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET
from .connecting import connect, expire

# What the app's validator accepts and a conforming server decodes: "+" is a space
# unless encoded, "%" starts an escape, ":" ends the client id in Basic.
ODD_SECRET = "Se+cr%et:42/=~odd+secret%2B"


# 1. Client authentication form-encoded before HTTP Basic (RFC 6749 §2.3.1).


def test_a_custom_connection_secret_with_plus_percent_and_colon_works_end_to_end(
    make_site, fake_xero_settings
):
    site = make_site(
        name="Odd Secret Pty Ltd",
        code="odd",
        connection_type="custom_connection",
        api_key=CLIENT_ID,
        api_secret=ODD_SECRET,
    )
    site.full_clean()  # the app's own validator accepts it
    fake_xero_settings.register_custom_connection(CLIENT_ID, ODD_SECRET)

    test = connection_test_run(site=site)

    assert test.passed, test.message


def test_the_web_apps_token_refresh_and_revocation_encode_an_odd_secret(
    client_for, web_site, web_app_xero, settings
):
    settings.XERO_APP_CLIENT_SECRET = ODD_SECRET
    web_app_xero.web.apps[WEB_APP_CLIENT_ID].client_secret = ODD_SECRET
    staff = client_for("admins")

    response = connect(staff, web_app_xero, web_site, web_app_xero.acme)
    assert response.status_code == 302, response.content.decode()
    expire(web_app_xero)
    test = connection_test_run(site=web_site)
    assert test.passed, test.message
    assert web_app_xero.refresh_count == 1
    response = staff.post(f"/sites/{web_site.code}/xero/disconnect/")

    assert response.status_code == 302
    assert len(web_app_xero.revoked_grants) == 1
    assert not TokenSet.objects.exists()


# 4. Requests to the identity server carry only what the RFCs ask for.

RFC_HEADERS = {
    "host",
    "user-agent",
    "accept",
    "accept-encoding",
    "connection",
    "content-type",
    "content-length",
    "authorization",
}


def identity_calls(fake):
    return [call for call in fake.calls if call.path in ("/connect/token", "/connect/revocation")]


def test_a_refresh_inside_a_sites_session_sends_no_tenant_to_the_token_endpoint(
    client_for, connected_site, web_app_xero
):
    web_app_xero.expire_tokens()  # Xero says expired: the refresh happens mid-session

    test = connection_test_run(site=connected_site)
    client_for("admins").post(f"/sites/{connected_site.code}/xero/disconnect/")

    assert test.passed, test.message
    calls = identity_calls(web_app_xero)
    assert [call.path for call in calls] == [
        "/connect/token",  # the code exchange
        "/connect/token",  # the refresh, inside the Site's session
        "/connect/revocation",
    ]
    for call in calls:
        assert {name.lower() for name in call.headers} <= RFC_HEADERS, call.headers
        assert call.headers["Authorization"] == "Basic"
    # The API calls of that session did name the organisation.
    api = [call for call in web_app_xero.calls if call.path.startswith("/api.xro/")]
    assert api and all("Xero-Tenant-Id" in call.headers for call in api)


# 2. A rejected access token handled by the protocol (RFC 6750 §3.1), advice by type.


def token_calls(fake):
    return [call for call in fake.calls if call.path == "/connect/token"]


def test_a_consent_revoked_in_xero_is_reconnect_needed_at_once(connected_site, web_app_xero):
    # The Xero user removed the app: Xero revokes the grant. Our clock still trusts the
    # access token for up to 30 minutes; Xero answers it with invalid_token.
    refresh_token = TokenSet.objects.get().refresh_token
    requests.post(
        web_app_xero.revocation_url,
        auth=(WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET),
        data={"token": refresh_token},
        timeout=5,
    ).raise_for_status()

    test = connection_test_run(site=connected_site)

    assert test.outcome == "reconnect_needed", test.message
    assert "Press “Connect to Xero” again" in test.message
    assert TokenSet.objects.get().refresh_failure == "reconnect_needed"
    assert len(token_calls(web_app_xero)) == 2  # the exchange, then one refresh refused


def test_a_web_app_token_rejected_after_renewing_is_worded_for_connect_to_xero(
    connected_site, web_app_xero
):
    web_app_xero.fail_next("token_rejected", count=2)

    test = connection_test_run(site=connected_site)

    assert test.outcome == "token_rejected"
    assert "API Key" not in test.message and "Consumer Key" not in test.message
    assert "Connect to Xero" in test.message
    assert test.step == "open_xero"
    assert web_app_xero.refresh_count == 1  # renewed once, not more


def test_a_web_app_token_rejected_once_is_renewed_and_the_call_sent_again(
    connected_site, web_app_xero
):
    web_app_xero.fail_next("token_rejected")

    test = connection_test_run(site=connected_site)

    assert test.passed, test.message
    assert web_app_xero.refresh_count == 1


def test_a_custom_connection_token_rejected_once_is_renewed_and_the_call_sent_again(
    custom_site, fake_xero
):
    connection_test_run(site=custom_site)  # a token is cached
    ConnectionTest.objects.all().delete()
    fake_xero.fail_next("token_rejected")

    test = connection_test_run(site=custom_site)

    assert test.passed, test.message
    assert len(token_calls(fake_xero)) == 2


def test_a_custom_connection_token_rejected_twice_names_the_client_id_not_an_api_key_type(
    custom_site, fake_xero
):
    fake_xero.fail_next("token_rejected", count=2)

    test = connection_test_run(site=custom_site)

    assert test.outcome == "token_rejected"
    assert "Client ID" in test.message and "Consumer Key" not in test.message
    assert len(token_calls(fake_xero)) == 2


@pytest.mark.parametrize(
    ("challenge", "renewable"),
    [
        ('Bearer error="invalid_token"', True),
        ('Bearer realm="xero", error="invalid_token", error_description="revoked"', True),
        ("Bearer error=invalid_token", True),
        ('Bearer error="insufficient_scope"', False),
        ('Basic realm="x", error="invalid_token"', False),
        ("", False),
    ],
)
def test_only_an_rfc_6750_invalid_token_challenge_makes_a_token_renewable(challenge, renewable):
    from requests.models import Response

    from xero.client import error_from_response
    from xero.exceptions import TokenRejected

    response = Response()
    response.status_code = 401
    response._content = b'{"Detail": "AuthenticationUnsuccessful"}'
    response.headers["WWW-Authenticate"] = challenge

    outcome = error_from_response(response)

    assert getattr(outcome, "renewable", False) is renewable
    assert isinstance(outcome, TokenRejected) or not renewable


# 5. No database write lock held across a call to Xero.


@pytest.mark.django_db(transaction=True)
def test_other_writes_proceed_while_a_refresh_waits_for_a_slow_xero(
    client_for, web_site, web_app_xero
):
    connect(client_for("staff"), web_app_xero, web_site, web_app_xero.acme)
    expire(web_app_xero)
    web_app_xero.latency = 3.0  # the token endpoint takes 3 s to answer
    done = threading.Event()
    errors = []

    def refresh():
        try:
            token_set = TokenSet.objects.get()
            web_app.access_token(token_set=token_set, session=XeroSession(site=web_site))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            done.set()
            db_connection.close()

    thread = threading.Thread(target=refresh)
    thread.start()
    deadline = time.monotonic() + 5
    while not web_app_xero.in_flight:  # the refresh's call to the token endpoint
        assert time.monotonic() < deadline, "the refresh never reached Xero"
        time.sleep(0.02)
    started = time.monotonic()
    Site.objects.filter(pk=web_site.pk).update(name="Renamed while Xero thinks")
    took = time.monotonic() - started
    in_flight_after = not done.is_set()
    thread.join()

    assert errors == []
    assert in_flight_after, "the write waited for the refresh to end"
    assert took < 1.0
    assert web_app_xero.refresh_count == 1
    stored = TokenSet.objects.get()
    assert stored.refresh_lease_holder == "" and stored.refresh_lease_until is None


@pytest.mark.django_db(transaction=True)
def test_a_refresh_waits_for_the_guard_held_elsewhere_then_gives_up_as_warehouse_busy(
    client_for, web_site, web_app_xero, settings
):
    connect(client_for("staff"), web_app_xero, web_site, web_app_xero.acme)
    expire(web_app_xero)
    token_set = TokenSet.objects.get()
    held, release = threading.Event(), threading.Event()

    def hold():  # another worker, with a connection of its own
        try:
            with web_app.refresh_guard(token_set.pk, deadline=time.monotonic() + 30):
                held.set()
                release.wait(10)
        finally:
            db_connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(5)
    session = XeroSession(site=web_site)
    session.deadline = time.monotonic() + 0.5
    try:
        with pytest.raises(WarehouseBusy):
            web_app.token_set_refresh(token_set=token_set, session=session)
    finally:
        release.set()
        thread.join()

    assert web_app_xero.refresh_count == 0
    # Let go, the guard is free again: the next refresh goes ahead.
    web_app.access_token(token_set=TokenSet.objects.get(), session=XeroSession(site=web_site))
    assert web_app_xero.refresh_count == 1


def test_a_lease_left_by_a_crashed_worker_lapses(connected_site, web_app_xero):
    if db_connection.vendor == "postgresql":
        pytest.skip("PostgreSQL's advisory lock ends with the crashed worker's connection.")
    expire(web_app_xero)
    TokenSet.objects.update(
        refresh_lease_holder="crashed", refresh_lease_until=timezone.now() - timedelta(seconds=1)
    )

    web_app.access_token(token_set=TokenSet.objects.get(), session=XeroSession(site=connected_site))

    assert web_app_xero.refresh_count == 1
    assert TokenSet.objects.get().refresh_lease_holder == ""


# 3. Replaced refresh tokens revoked (RFC 7009) once the new pair is stored.


def refresh_refused(fake, refresh_token: str) -> bool:
    answer = requests.post(
        fake.identity_url,
        auth=(WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET),
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        timeout=5,
    )
    return answer.status_code == 400 and answer.json() == {"error": "invalid_grant"}


def test_the_same_xero_user_consenting_again_revokes_the_replaced_refresh_token(
    client_for, make_site, web_app_xero
):
    staff = client_for("staff")
    first = make_site(name="First", code="first", connection_type="web_app")
    second = make_site(name="Second", code="second", connection_type="web_app")
    connect(staff, web_app_xero, first, web_app_xero.acme)
    replaced = TokenSet.objects.get().refresh_token

    connect(staff, web_app_xero, second, web_app_xero.beta)

    assert len(web_app_xero.revoked_grants) == 1
    assert TokenSet.objects.get().refresh_token != replaced
    assert not ReplacedToken.objects.exists()
    # The replaced token is dead at Xero; both Sites work on the new pair.
    assert refresh_refused(web_app_xero, replaced)
    expire(web_app_xero)
    assert connection_test_run(site=first).passed
    assert connection_test_run(site=second).passed


def test_a_failed_revocation_keeps_the_new_pair_and_a_task_tries_again(
    client_for, web_site, web_app_xero, settings
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    staff = client_for("staff")
    connect(staff, web_app_xero, web_site, web_app_xero.acme)
    replaced = TokenSet.objects.get().refresh_token
    web_app_xero.fail_next("revocation_error")

    response = connect(staff, web_app_xero, web_site, web_app_xero.acme)

    assert response.status_code == 302
    new_pair = TokenSet.objects.get()
    assert new_pair.refresh_token != replaced
    pending = ReplacedToken.objects.get()
    assert pending.attempts == 1 and pending.last_failure == "xero_unavailable"
    assert pending.refresh_token == replaced
    queued = default_task_backend.results
    assert [result.task.name for result in queued] == ["revoke_replaced_tokens"]
    assert queued[0].task.run_after == pending.next_attempt_at

    ReplacedToken.objects.update(next_attempt_at=timezone.now())  # due now
    left = tasks.revoke_replaced_tokens.call()

    assert left == 0 and not ReplacedToken.objects.exists()
    assert refresh_refused(web_app_xero, replaced)
    after = TokenSet.objects.get()
    assert (after.access_token, after.refresh_token) == (
        new_pair.access_token,
        new_pair.refresh_token,
    )
    ConnectionTest.objects.all().delete()
    assert connection_test_run(site=web_site).passed


# 6. The id_token checked (OpenID Connect Core §3.1.3.7).


def test_the_authorization_request_sends_a_nonce_kept_with_the_pkce_state(
    client_for, web_site, web_app_xero
):
    client = client_for("staff")
    response = client.post(f"/sites/{web_site.code}/xero/connect/")

    query = dict(parse_qsl(urlsplit(response["Location"]).query))
    pending = client.session["xero_connect"][query["state"]]
    assert len(query["nonce"]) >= 40 and pending["nonce"] == query["nonce"]
    assert "verifier" in pending


def test_a_checked_id_token_names_the_xero_user_and_the_keys_are_fetched_once(
    client_for, make_site, web_app_xero
):
    web_app.jwks_cache_clear()
    staff = client_for("staff")
    first = make_site(name="First", code="first", connection_type="web_app")
    second = make_site(name="Second", code="second", connection_type="web_app")

    connect(staff, web_app_xero, first, web_app_xero.acme)
    connect(staff, web_app_xero, second, web_app_xero.beta)

    token_set = TokenSet.objects.get()
    assert token_set.xero_user_email == "bookkeeper@example.com"
    jwks = [call for call in web_app_xero.calls if call.path.endswith("/jwks")]
    assert len(jwks) == 1  # cached
    # Fetched through the app's one HTTP session (its deadline and size cap).
    assert jwks[0].headers["User-Agent"] == "ImagatecAPI Warehouse"


@pytest.mark.parametrize(
    ("odd", "reason"),
    [
        ({"forge": True}, "none of Xero's published keys verifies"),
        ({"claims": {"aud": "someone-elses-app"}}, "issued to another client (aud)"),
        ({"claims": {"azp": "someone-elses-app"}}, "issued to another client (azp)"),
        ({"claims": {"iss": "https://evil.example"}}, "not issued by Xero's identity server"),
        ({"claims": {"exp": 1_000_000_000}}, "has expired"),
        ({"claims": {"nonce": "a-nonce-of-another-request"}}, "does not carry the nonce"),
        ({"drop": ["nonce"]}, "does not carry the nonce"),
        ({"drop": ["exp"]}, "lacks its “exp” claim"),
        ({"claims": {"kid": 1}, "forge": True}, "none of Xero's published keys verifies"),
        ({"missing": True}, "was missing from Xero's answer"),
    ],
)
def test_an_id_token_failing_a_check_is_a_named_outcome_storing_nothing(
    client_for, web_site, web_app_xero, odd, reason
):
    web_app_xero.fail_next("odd_id_token", **odd)

    response = connect(client_for("staff"), web_app_xero, web_site, web_app_xero.acme)

    page = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert "identity token (id_token)" in page and reason in page
    assert "Nothing was stored" in page
    assert not TokenSet.objects.exists() and not TenantBinding.objects.exists()


def test_an_unsigned_id_token_is_refused_whatever_it_claims(web_app_xero):
    import jwt

    unsigned = jwt.encode(
        {"iss": "https://identity.xero.com", "aud": WEB_APP_CLIENT_ID, "nonce": "n"},
        None,
        algorithm="none",
    )

    with pytest.raises(IdTokenInvalid, match="not RS256"):
        web_app.id_token_claims(
            session=XeroSession(), id_token=unsigned, client_id=WEB_APP_CLIENT_ID, nonce="n"
        )


@pytest.mark.django_db(transaction=True)
def test_threads_meeting_only_at_the_database_guard_make_one_refresh(
    client_for, web_site, web_app_xero, monkeypatch
):
    connect(client_for("staff"), web_app_xero, web_site, web_app_xero.acme)
    expire(web_app_xero)
    web_app_xero.latency = 0.3
    # No lock of the process: each thread is as alone as a process of its own, with its
    # own database connection, and only the guard (advisory lock or lease) is between them.
    monkeypatch.setattr(web_app, "_process_lock", lambda pk: threading.Lock())
    start = threading.Barrier(4)
    tokens, errors = [], []

    def worker():
        try:
            token_set = TokenSet.objects.get()
            start.wait()
            tokens.append(
                web_app.access_token(token_set=token_set, session=XeroSession(site=web_site))
            )
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(tokens)) == 1 and tokens[0] == TokenSet.objects.get().access_token
    assert web_app_xero.refresh_count == 1
