"""The "Connect to Xero" flow (xero/connect.py) through its pages, against the fake Xero."""

import io
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.management import call_command

from customers.models import Membership
from customers.services import membership_add
from sites.models import AuditEntry, Site
from tests.conftest import all_rows_text, database_files_bytes, readable_text
from xero.connect import PENDING_KEY, STATE_LIFETIME
from xero.models import TenantBinding, TokenSet

from .connecting import answer, connect, start


def stored_nothing():
    return not TokenSet.objects.exists() and not TenantBinding.objects.exists()


def test_connect_redirects_to_xeros_authorize_url_with_state_and_pkce_s256(
    client_for, web_site, web_app_xero
):
    response = client_for("staff").post(f"/sites/{web_site.code}/xero/connect/")

    assert response.status_code == 302
    url = urlsplit(response["Location"])
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == web_app_xero.authorize_url
    assert query["response_type"] == "code"
    assert query["client_id"] == "6A7B8C9D0E1F2A3B4C5D6E7F8A9B0C1D"
    assert query["redirect_uri"] == "http://testserver/xero/callback/"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 40
    assert query["scope"].split()[:2] == ["offline_access", "openid"]
    assert "payroll.settings.read" in query["scope"]


def test_one_organisation_consented_binds_the_site_and_shows_who_connected(
    client_for, web_site, web_app_xero
):
    client = client_for("support")

    response = connect(client, web_app_xero, web_site, web_app_xero.acme)

    assert response.status_code == 302
    assert response["Location"] == "/sites/webby/xero/setup/#step-connection_test"
    binding = TenantBinding.objects.get(site=web_site)
    assert binding.tenant_id == web_app_xero.acme.tenant_id
    assert binding.tenant_name == "Acme Pty Ltd"
    assert binding.token_set.xero_user_email == "bookkeeper@example.com"
    assert binding.token_set.refresh_token and binding.token_set.access_token
    page = client.get("/sites/webby/xero/setup/").content.decode()
    assert "Connected to <strong>Acme Pty Ltd</strong>" in page
    assert "Bea Keeper (bookkeeper@example.com)" in page
    assert Site.objects.get(pk=web_site.pk).xero_organisation_name == "Acme Pty Ltd"


def test_an_organisation_name_with_nul_and_control_characters_is_stored_without_them(
    client_for, web_site, web_app_xero
):
    odd = web_app_xero.add_user_organisation("Odd\x00 Pty\r\nBcc: x@example.com\u202e Ltd")

    response = connect(client_for("staff"), web_app_xero, web_site, odd)

    assert response.status_code == 302
    assert TenantBinding.objects.get(site=web_site).tenant_name == "Odd Pty Bcc: x@example.com Ltd"
    assert Site.objects.get(pk=web_site.pk).xero_organisation_name == (
        "Odd Pty Bcc: x@example.com Ltd"
    )


def test_several_organisations_consented_ask_which_is_the_sites(client_for, web_site, web_app_xero):
    client = client_for("staff")

    response = connect(client, web_app_xero, web_site, web_app_xero.acme, web_app_xero.beta)
    assert response["Location"] == "/sites/webby/xero/connect/choose/"
    page = client.get(response["Location"]).content.decode()
    chosen = client.post(
        "/sites/webby/xero/connect/choose/", {"tenant": web_app_xero.beta.tenant_id}
    )

    assert "Acme Pty Ltd" in page and "Beta Holdings" in page
    assert chosen.status_code == 302
    assert TenantBinding.objects.get(site=web_site).tenant_name == "Beta Holdings"


def test_choosing_an_organisation_not_offered_is_refused(client_for, web_site, web_app_xero):
    client = client_for("staff")
    connect(client, web_app_xero, web_site, web_app_xero.acme, web_app_xero.beta)

    response = client.post("/sites/webby/xero/connect/choose/", {"tenant": "someone-else"})

    assert response.status_code == 400
    assert "was not among those just connected" in response.content.decode()
    assert not TenantBinding.objects.exists()


def test_only_the_organisations_of_this_consent_are_offered(client_for, make_site, web_app_xero):
    client = client_for("staff")
    first = make_site(code="first", connection_type="web_app")
    second = make_site(code="second", connection_type="web_app")
    connect(client, web_app_xero, first, web_app_xero.acme)

    response = connect(client, web_app_xero, second, web_app_xero.beta)

    assert response.status_code == 302
    assert TenantBinding.objects.get(site=second).tenant_name == "Beta Holdings"
    # One Xero user, one token set, shared by both Sites.
    assert TokenSet.objects.count() == 1


def test_an_organisation_bound_to_another_site_is_refused(client_for, make_site, web_app_xero):
    client = client_for("staff")
    first = make_site(name="First", code="first", connection_type="web_app")
    second = make_site(code="second", connection_type="web_app")
    connect(client, web_app_xero, first, web_app_xero.acme)

    response = connect(client, web_app_xero, second, web_app_xero.acme)

    assert response.status_code == 400
    assert "already connected to another Site (First)" in response.content.decode()
    assert not TenantBinding.objects.filter(site=second).exists()


def test_refused_consent_is_a_plain_page_storing_nothing(client_for, web_site, web_app_xero):
    client = client_for("staff")
    callback = answer(web_app_xero, start(client, web_site), decision="deny")

    response = client.get(callback)

    assert response.status_code == 400
    assert "Access was not allowed in Xero" in response.content.decode()
    assert stored_nothing()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda query: query.replace("state=", "state=x"),
        lambda query: "&".join(p for p in query.split("&") if not p.startswith("state=")),
    ],
    ids=["tampered", "missing"],
)
def test_a_tampered_or_missing_state_is_refused_storing_nothing(
    client_for, web_site, web_app_xero, tamper
):
    client = client_for("staff")
    callback = answer(web_app_xero, start(client, web_site), web_app_xero.acme)
    path, query = callback.split("?")

    response = client.get(f"{path}?{tamper(query)}")

    assert response.status_code == 400
    assert "does not belong to a connection started here" in response.content.decode()
    assert stored_nothing()


def test_a_replayed_callback_is_refused(client_for, web_site, web_app_xero):
    client = client_for("staff")
    callback = answer(web_app_xero, start(client, web_site), web_app_xero.acme)
    assert client.get(callback).status_code == 302
    TenantBinding.objects.all().delete()
    TokenSet.objects.all().delete()

    replay = client.get(callback)

    assert replay.status_code == 400
    assert stored_nothing()


def test_a_callback_in_another_browser_session_is_refused(
    client_for, make_user, web_site, web_app_xero, django_user_model
):
    client = client_for("staff")
    callback = answer(web_app_xero, start(client, web_site), web_app_xero.acme)
    client.logout()
    client_for("staff")

    assert client.get(callback).status_code == 400
    assert stored_nothing()


def test_a_state_older_than_its_lifetime_is_refused(client_for, web_site, web_app_xero):
    client = client_for("staff")
    callback = answer(web_app_xero, start(client, web_site), web_app_xero.acme)
    session = client.session
    for entry in session[PENDING_KEY].values():
        entry["at"] -= STATE_LIFETIME.total_seconds() + 1
    session.save()

    assert client.get(callback).status_code == 400
    assert stored_nothing()


def test_an_expired_code_is_a_plain_page_storing_nothing(client_for, web_site, web_app_xero):
    client = client_for("staff")
    callback = answer(web_app_xero, start(client, web_site), web_app_xero.acme)
    web_app_xero.clock_offset = 301

    response = client.get(callback)

    assert response.status_code == 400
    assert "expired or was already used" in response.content.decode()
    assert stored_nothing()


def test_a_tampered_pkce_verifier_is_refused_by_xero_storing_nothing(
    client_for, web_site, web_app_xero
):
    client = client_for("staff")
    callback = answer(web_app_xero, start(client, web_site), web_app_xero.acme)
    session = client.session
    for entry in session[PENDING_KEY].values():
        entry["verifier"] = "x" * 64
    session.save()

    response = client.get(callback)

    assert response.status_code == 400
    assert stored_nothing()


def test_a_consent_whose_organisation_is_gone_by_the_callback_stores_nothing(
    client_for, web_site, web_app_xero
):
    client = client_for("staff")
    callback = answer(web_app_xero, start(client, web_site), web_app_xero.acme)
    web_app_xero.disconnect_in_xero(web_app_xero.acme.tenant_id)

    response = client.get(callback)

    assert response.status_code == 400
    assert "No organisation was connected in Xero" in response.content.decode()
    assert stored_nothing()


def test_a_code_exchange_answering_a_lifetime_no_datetime_holds_stores_nothing(
    client_for, web_site, web_app_xero
):
    client = client_for("staff")
    callback = answer(web_app_xero, start(client, web_site), web_app_xero.acme)
    web_app_xero.fail_next("odd_token")

    response = client.get(callback)

    assert response.status_code == 400
    assert "lifetime (expires_in) is 100000000000000000000" in response.content.decode()
    assert stored_nothing()


def test_a_consent_page_failing_in_xero_is_a_plain_page_storing_nothing(
    client_for, web_site, web_app_xero
):
    client = client_for("staff")
    web_app_xero.fail_next("consent_error")
    redirected = requests.get(
        client.post(f"/sites/{web_site.code}/xero/connect/")["Location"],
        allow_redirects=False,
        timeout=5,
    )
    location = urlsplit(redirected.headers["Location"])

    response = client.get(f"{location.path}?{location.query}")

    assert response.status_code == 400
    assert "Xero could not complete the connection (server_error)" in response.content.decode()
    assert stored_nothing()


def test_a_site_of_another_connection_type_cannot_connect(client_for, site, web_app_xero):
    response = client_for("staff").post(f"/sites/{site.code}/xero/connect/", follow=True)

    assert "Change its connection type" in response.content.decode()


def test_without_the_apps_credentials_connect_says_which_settings(
    client_for, web_site, web_app_xero, settings
):
    settings.XERO_APP_CLIENT_SECRET = ""

    response = client_for("staff").post(f"/sites/{web_site.code}/xero/connect/", follow=True)

    assert "XERO_APP_CLIENT_ID and XERO_APP_CLIENT_SECRET" in response.content.decode()


@pytest.mark.parametrize(("role", "status"), [("nobody", 403), ("staff", 302), ("admins", 302)])
def test_who_may_connect(client_for, web_site, web_app_xero, role, status):
    response = client_for(role).post(f"/sites/{web_site.code}/xero/connect/")

    assert response.status_code == status


def customer_of(client_for, *sites):
    client = client_for("customer")
    for site in sites:
        membership_add(site=site, user=client.user)
    return client


def test_a_customer_connects_their_own_site_and_is_named_as_who_connected(
    client_for, web_site, web_app_xero
):
    client = customer_of(client_for, web_site)
    page = client.get(f"/sites/{web_site.code}/xero/setup/").content.decode()
    assert "Connect to Xero</button>" in page

    response = connect(client, web_app_xero, web_site, web_app_xero.acme)

    assert response.status_code == 302
    assert response["Location"] == "/sites/webby/xero/setup/#step-connection_test"
    binding = TenantBinding.objects.get(site=web_site)
    assert binding.tenant_name == "Acme Pty Ltd"
    assert binding.connected_by == client.user
    assert binding.token_set.connected_by == client.user
    page = client.get("/sites/webby/xero/setup/").content.decode()
    assert "Connected to <strong>Acme Pty Ltd</strong>" in page
    assert "Connect to Xero again" in page
    assert "Disconnect from Xero" not in page


def test_a_customer_chooses_their_sites_organisation_among_several(
    client_for, web_site, web_app_xero
):
    client = customer_of(client_for, web_site)

    response = connect(client, web_app_xero, web_site, web_app_xero.acme, web_app_xero.beta)
    page = client.get(response["Location"])
    chosen = client.post(
        "/sites/webby/xero/connect/choose/", {"tenant": web_app_xero.beta.tenant_id}
    )

    assert response["Location"] == "/sites/webby/xero/connect/choose/"
    assert page.status_code == 200
    assert "Your Sites" in page.content.decode()
    assert 'id="nav-sidebar"' not in page.content.decode()
    assert chosen.status_code == 302
    assert TenantBinding.objects.get(site=web_site).tenant_name == "Beta Holdings"


def test_a_customer_gets_404_connecting_another_site(client_for, make_site, web_app_xero):
    own = make_site(code="own", connection_type="web_app")
    other = make_site(code="other", connection_type="web_app")
    client = customer_of(client_for, own)

    connecting = client.post(f"/sites/{other.code}/xero/connect/")
    choosing = client.get(f"/sites/{other.code}/xero/connect/choose/")

    assert connecting.status_code == choosing.status_code == 404
    assert PENDING_KEY not in client.session


def test_a_customer_cannot_finish_a_callback_whose_state_names_another_site(
    client_for, make_site, web_app_xero
):
    own = make_site(code="own", connection_type="web_app")
    other = make_site(code="other", connection_type="web_app")
    client = customer_of(client_for, own)
    callback = answer(web_app_xero, start(client, own), web_app_xero.acme)
    session = client.session
    session[PENDING_KEY] = {
        state: {**entry, "site": other.pk} for state, entry in session[PENDING_KEY].items()
    }
    session.save()

    response = client.get(callback)

    assert response.status_code == 400
    assert "does not belong to a connection started here" in response.content.decode()
    assert other.name not in response.content.decode()
    assert stored_nothing()


def test_a_customer_removed_from_the_site_mid_connection_cannot_finish_it(
    client_for, web_site, web_app_xero
):
    client = customer_of(client_for, web_site)
    callback = answer(web_app_xero, start(client, web_site), web_app_xero.acme)
    Membership.objects.filter(user=client.user).delete()

    response = client.get(callback)

    assert response.status_code == 400
    assert 'id="nav-sidebar"' not in response.content.decode()
    assert stored_nothing()


def test_a_customer_may_not_disconnect_even_their_own_site(client_for, web_site, web_app_xero):
    client = customer_of(client_for, web_site)
    connect(client, web_app_xero, web_site, web_app_xero.acme)

    asked = client.get(f"/sites/{web_site.code}/xero/disconnect/")
    posted = client.post(f"/sites/{web_site.code}/xero/disconnect/")

    assert asked.status_code == posted.status_code == 404
    assert TenantBinding.objects.filter(site=web_site).exists()


@pytest.mark.parametrize("role", ["staff", "support"])
def test_only_admins_disconnect(client_for, web_site, web_app_xero, role):
    client = client_for(role)
    connect(client, web_app_xero, web_site, web_app_xero.acme)

    response = client.post(f"/sites/{web_site.code}/xero/disconnect/")

    assert response.status_code == 403
    assert TenantBinding.objects.filter(site=web_site).exists()
    assert "Disconnect from Xero" not in client.get("/sites/webby/xero/setup/").content.decode()


def test_the_setup_pages_disconnect_leads_to_a_page_that_asks_first(
    client_for, web_site, web_app_xero
):
    client = client_for("admins")
    connect(client, web_app_xero, web_site, web_app_xero.acme)

    page = client.get(f"/sites/{web_site.code}/xero/setup/").content.decode()

    assert '<a class="button" href="/sites/webby/xero/disconnect/">' in page
    assert '<form method="post" action="/sites/webby/xero/disconnect/">' not in page


def test_asking_to_disconnect_names_the_organisation_and_the_revoking_and_changes_nothing(
    client_for, web_site, web_app_xero
):
    client = client_for("admins")
    connect(client, web_app_xero, web_site, web_app_xero.acme)

    response = client.get(f"/sites/{web_site.code}/xero/disconnect/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "<strong>Acme Pty Ltd</strong>" in page
    assert "Bea Keeper (bookkeeper@example.com)" in page
    assert "<strong>revokes</strong> the consent" in page
    assert '<button type="submit" class="button default">Disconnect from Xero</button>' in page
    assert 'href="/sites/webby/xero/setup/" class="button cancel-link"' in page
    assert TenantBinding.objects.filter(site=web_site).exists()
    assert len(web_app_xero.web_connections("6A7B8C9D0E1F2A3B4C5D6E7F8A9B0C1D")) == 1
    assert web_app_xero.revoked_grants == []


def test_asking_to_disconnect_a_site_sharing_its_consent_names_the_others_that_stay(
    client_for, make_site, web_app_xero
):
    client = client_for("admins")
    first = make_site(name="First Pty Ltd", code="first", connection_type="web_app")
    second = make_site(name="Second Pty Ltd", code="second", connection_type="web_app")
    connect(client, web_app_xero, first, web_app_xero.acme)
    connect(client, web_app_xero, second, web_app_xero.beta)

    page = " ".join(client.get(f"/sites/{first.code}/xero/disconnect/").content.decode().split())

    assert "<strong>does not revoke</strong> the consent" in page
    assert "1 other Site (Second Pty Ltd), which stays connected" in page
    assert "<strong>revokes</strong>" not in page


def test_asking_to_disconnect_a_site_not_connected_goes_back_to_its_setup(
    client_for, web_site, web_app_xero
):
    response = client_for("admins").get(f"/sites/{web_site.code}/xero/disconnect/")

    assert response.status_code == 302
    assert response["Location"] == "/sites/webby/xero/setup/#step-open_xero"


@pytest.mark.parametrize("role", ["staff", "support"])
def test_only_admins_are_asked_to_disconnect(client_for, web_site, web_app_xero, role):
    client = client_for(role)
    connect(client, web_app_xero, web_site, web_app_xero.acme)

    assert client.get(f"/sites/{web_site.code}/xero/disconnect/").status_code == 403


def test_disconnect_removes_the_connection_in_xero_revokes_and_clears_the_binding(
    client_for, web_site, web_app_xero
):
    client = client_for("admins")
    connect(client, web_app_xero, web_site, web_app_xero.acme)
    refresh_token = TokenSet.objects.get().refresh_token

    response = client.post(f"/sites/{web_site.code}/xero/disconnect/", follow=True)

    assert "Disconnected from Xero. Access revoked." in response.content.decode()
    assert web_app_xero.web_connections("6A7B8C9D0E1F2A3B4C5D6E7F8A9B0C1D") == []
    assert len(web_app_xero.revoked_grants) == 1
    assert stored_nothing()
    assert Site.objects.get(pk=web_site.pk).xero_organisation_name == ""
    refused = requests.post(
        web_app_xero.identity_url,
        auth=("6A7B8C9D0E1F2A3B4C5D6E7F8A9B0C1D", "warehouse-web-app-secret-for-tests"),
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        timeout=5,
    )
    assert refused.json() == {"error": "invalid_grant"}


def test_disconnect_keeps_a_token_set_another_site_uses(client_for, make_site, web_app_xero):
    client = client_for("admins")
    first = make_site(code="first", connection_type="web_app")
    second = make_site(code="second", connection_type="web_app")
    connect(client, web_app_xero, first, web_app_xero.acme)
    connect(client, web_app_xero, second, web_app_xero.beta)

    replaced = list(web_app_xero.revoked_grants)  # the first consent's, replaced (RFC 7009)
    client.post(f"/sites/{first.code}/xero/disconnect/")

    assert len(replaced) == 1 and web_app_xero.revoked_grants == replaced
    assert [
        c.organisation.Name
        for c in web_app_xero.web_connections("6A7B8C9D0E1F2A3B4C5D6E7F8A9B0C1D")
    ] == ["Beta Holdings"]
    assert TokenSet.objects.count() == 1
    assert list(TenantBinding.objects.values_list("site__code", flat=True)) == ["second"]


def test_connecting_and_disconnecting_are_in_the_sites_trail_without_the_tokens(
    client_for, make_site, web_app_xero
):
    client = client_for("admins")
    first = make_site(code="first", connection_type="web_app")
    second = make_site(code="second", connection_type="web_app")
    connect(client, web_app_xero, first, web_app_xero.acme)
    connect(client, web_app_xero, second, web_app_xero.beta)
    tokens = TokenSet.objects.get()
    secrets = (tokens.access_token, tokens.refresh_token)

    client.post(f"/sites/{first.code}/xero/disconnect/")
    client.post(f"/sites/{second.code}/xero/disconnect/")

    Kind = AuditEntry.Kind
    rows = AuditEntry.objects.filter(kind__in=[Kind.XERO_CONNECTED, Kind.XERO_DISCONNECTED])
    trail = list(rows.order_by("pk").values_list("site_code", "kind", "summary"))
    assert [(code, kind) for code, kind, _ in trail] == [
        ("first", Kind.XERO_CONNECTED),
        ("second", Kind.XERO_CONNECTED),
        ("first", Kind.XERO_DISCONNECTED),
        ("second", Kind.XERO_DISCONNECTED),
    ]
    assert "with the consent of Xero user" in trail[0][2]
    assert "The consent stays: other Sites use it." in trail[2][2]
    assert "The consent was revoked in Xero." in trail[3][2]
    assert len(set(rows.values_list("actor_username", flat=True))) == 1
    assert rows.first().actor_username != ""
    assert not any(secret in summary for secret in secrets for _, _, summary in trail)


def test_disconnect_when_xero_is_down_changes_nothing(client_for, web_site, web_app_xero):
    client = client_for("admins")
    connect(client, web_app_xero, web_site, web_app_xero.acme)
    web_app_xero.fail_next("connections_error")

    response = client.post(f"/sites/{web_site.code}/xero/disconnect/", follow=True)

    assert "Not disconnected" in response.content.decode()
    assert TenantBinding.objects.filter(site=web_site).exists()


def test_no_token_code_or_verifier_in_any_page_or_log(
    client_for, web_site, web_app_xero, caplog, capsys
):
    caplog.set_level(logging.DEBUG)
    client = client_for("admins")
    page = start(client, web_site)
    verifier = next(iter(client.session[PENDING_KEY].values()))["verifier"]
    callback = answer(web_app_xero, page, web_app_xero.acme, web_app_xero.beta)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    pages = [client.get(callback, follow=True)]
    pages.append(client.get("/sites/webby/xero/connect/choose/"))
    pages.append(
        client.post(
            "/sites/webby/xero/connect/choose/",
            {"tenant": web_app_xero.acme.tenant_id},
            follow=True,
        )
    )
    first = TokenSet.objects.get()
    web_app_xero.expire_tokens()
    pages.append(client.post("/sites/webby/xero/connection-test/", follow=True))
    second = TokenSet.objects.get()
    pages += [
        client.get("/sites/webby/xero/setup/"),
        client.get("/xero/health/"),
        client.get(f"/admin/sites/site/{web_site.pk}/change/"),
        client.get(callback),  # the replay's problem page
    ]
    secrets = {
        code,
        verifier,
        first.access_token,
        first.refresh_token,
        second.access_token,
        second.refresh_token,
    }
    assert second.refresh_token != first.refresh_token  # the test did refresh

    client.post(f"/sites/{web_site.code}/xero/disconnect/")
    web_site.delete()
    shown = "\n".join(response.content.decode() for response in pages)
    logged = caplog.text + "".join(capsys.readouterr())
    audited = "\n".join(str(row) for row in AuditEntry.objects.values_list())
    assert audited  # the trail recorded something, and none of it is a secret
    for secret in secrets:
        assert secret not in shown
        assert secret not in logged
        assert secret not in audited
        assert secret[:16] not in shown + logged + audited


def test_no_token_in_dumpdata(client_for, web_site, web_app_xero):
    connect(client_for("staff"), web_app_xero, web_site, web_app_xero.acme)
    token_set = TokenSet.objects.get()
    out = io.StringIO()

    call_command("dumpdata", "xero", "sites", stdout=out)

    assert token_set.access_token not in out.getvalue()
    assert token_set.refresh_token not in out.getvalue()


def test_deleting_a_site_disconnects_it_in_xero_and_revokes(client_for, web_site, web_app_xero):
    connect(client_for("staff"), web_app_xero, web_site, web_app_xero.acme)

    web_site.delete()

    assert web_app_xero.web_connections("6A7B8C9D0E1F2A3B4C5D6E7F8A9B0C1D") == []
    assert len(web_app_xero.revoked_grants) == 1
    assert stored_nothing()


def test_deleting_a_site_while_xero_is_down_still_deletes_it(client_for, web_site, web_app_xero):
    connect(client_for("staff"), web_app_xero, web_site, web_app_xero.acme)
    web_app_xero.fail_next("connections_error")

    web_site.delete()

    assert not Site.objects.filter(pk=web_site.pk).exists()
    assert not TenantBinding.objects.exists()


@pytest.mark.parametrize(("role", "status"), [("staff", 302), ("admins", 302), ("support", 403)])
def test_who_may_switch_a_site_to_connect_to_xero(client_for, site, web_app_xero, role, status):
    response = client_for(role).post(f"/sites/{site.code}/xero/setup/switch-to-web-app/")

    site.refresh_from_db()
    assert response.status_code == status
    assert (site.connection_type == "web_app") == (status == 302)
    assert (site.api_key == "") == (status == 302)


def test_the_setup_page_lets_its_connect_form_lead_to_xeros_sign_in_page_only(
    client_for, web_site, site, web_app_xero
):
    client = client_for("staff")

    web = client.get(f"/sites/{web_site.code}/xero/setup/")["Content-Security-Policy"]
    other = client.get(f"/sites/{site.code}/xero/setup/")["Content-Security-Policy"]

    assert f"form-action 'self' {web_app_xero.url}" in web
    assert web_app_xero.url not in other


def test_a_xero_users_name_with_nul_and_controls_is_stored_fitted(
    client_for, web_site, web_app_xero
):
    # From Xero's id_token, like every value from Xero: hostile until fitted (a NUL breaks
    # PostgreSQL's save, a bidi mark or line break the pages that show who connected).
    web_app_xero.sign_in("bea@example.com", given_name="Bea\x00\u202e", family_name="Keeper\r\nX")
    organisation = web_app_xero.add_user_organisation("Nul Pty Ltd")

    connect(client_for("staff"), web_app_xero, web_site, organisation)

    token_set = TokenSet.objects.get()
    assert token_set.xero_user_name == "Bea Keeper X"
    assert token_set.xero_user_email == "bea@example.com"


@pytest.mark.django_db(transaction=True)
def test_a_pending_state_and_verifier_are_in_no_dump_nor_database_file_and_still_work(
    client_for, web_site, web_app_xero
):
    client = client_for("admins")
    page = start(client, web_site)
    [(state, pending)] = client.session[PENDING_KEY].items()
    out = io.StringIO()

    call_command("dumpdata", stdout=out)

    copy = readable_text((database_files_bytes() or all_rows_text()).decode("latin-1"))
    dump = readable_text(out.getvalue())
    for secret in (state, pending["verifier"]):
        assert secret not in dump
        assert secret not in copy
    callback = answer(web_app_xero, page, web_app_xero.acme)
    assert client.get(callback).status_code == 302
    assert TenantBinding.objects.filter(site=web_site).exists()


def test_a_customer_refused_an_organisation_bound_elsewhere_is_not_told_whose_site(
    client_for, make_site, web_app_xero
):
    staff = client_for("staff")
    first = make_site(name="Other Customer Pty", code="other-customer", connection_type="web_app")
    second = make_site(code="second", connection_type="web_app")
    connect(staff, web_app_xero, first, web_app_xero.acme)
    staff.logout()
    client = customer_of(client_for, second)

    response = connect(client, web_app_xero, second, web_app_xero.acme)

    page = response.content.decode()
    assert response.status_code == 400
    assert "connected to another Site in the Warehouse" in page
    assert "ask Imagatec support" in page
    assert "Other Customer" not in page and "other-customer" not in page
    assert not TenantBinding.objects.filter(site=second).exists()
