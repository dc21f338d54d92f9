"""Xero's limits and tiers in view (xero/tiers.py, the fleet's day-call reserve), against
the fake Xero over HTTP: the tier's cap on connected organisations, the warnings, the
organisations no Site uses, and calls left today."""

import pytest

from tests.xero.connecting import answer, connect, start
from xero.fleet import fleet_checks_queue
from xero.models import ConnectionTest, TenantBinding, UnboundConnection


@pytest.fixture
def admins(make_user):
    admin = make_user("Admins", username="ada")
    admin.email = "ada@example.com"
    admin.save()
    return admin


def test_the_starter_tier_warns_at_80_percent_and_refuses_the_sixth_before_xero(
    make_site, web_app_xero, client_for, admins, mailoutbox, settings
):
    settings.XERO_APP_TIER = "starter"
    client = client_for("staff")
    sites = [
        make_site(name=f"Shop {n}", code=f"shop{n}", connection_type="web_app") for n in range(6)
    ]
    for site in sites[:5]:
        organisation = web_app_xero.add_user_organisation(f"{site.name} Ltd")
        assert connect(client, web_app_xero, site, organisation).status_code == 302
    assert TenantBinding.objects.count() == 5
    warnings = [m for m in mailoutbox if "Xero app tier" in m.subject]
    assert [m.subject for m in warnings] == [
        "[Warehouse] Xero app tier Starter: 4 of 5 organisations connected"
    ]
    assert warnings[0].to == ["ada@example.com"]

    response = client.post(f"/sites/{sites[5].code}/xero/connect/", follow=True)

    assert response.redirect_chain[-1][0].startswith(f"/sites/{sites[5].code}/xero/setup/")
    text = response.content.decode()
    assert "on Xero&#x27;s Starter tier, which allows 5 connected organisations" in text
    assert "Nothing was sent to Xero" in text
    # Connecting a Site already connected again takes no new place.
    assert client.post(f"/sites/{sites[0].code}/xero/connect/").status_code == 302
    health = client_for("support").get("/xero/health/").content.decode()
    assert "<strong>5</strong> of 5 organisations connected (100%)" in health


def test_organisations_connected_to_no_site_are_listed_and_admins_disconnect_them(
    web_site, web_app_xero, client_for, settings
):
    settings.XERO_APP_TIER = "core"
    client = client_for("admins")
    callback = answer(web_app_xero, start(client, web_site), web_app_xero.acme, web_app_xero.beta)
    # A consent that ticked two organisations, and nobody chose between them (choosing one
    # disconnects the others in Xero): both cost a connection, bound to no Site.
    client.get(callback)
    assert sorted(UnboundConnection.objects.values_list("tenant_name", flat=True)) == [
        "Acme Pty Ltd",
        "Beta Holdings",
    ]
    unbound = UnboundConnection.objects.get(tenant_name="Beta Holdings")
    health = client.get("/xero/health/").content.decode()
    assert "<strong>2</strong> of 50 organisations connected" in health
    assert "Beta Holdings" in health and ">Disconnect</button>" in health

    response = client.post(f"/xero/organisations/{unbound.pk}/disconnect/")

    assert response.status_code == 302
    assert list(UnboundConnection.objects.values_list("tenant_name", flat=True)) == ["Acme Pty Ltd"]
    assert [c.organisation.Name for c in web_app_xero.web_connections(web_app_xero_client())] == [
        "Acme Pty Ltd"
    ]
    assert (
        client_for("support").post(f"/xero/organisations/{unbound.pk}/disconnect/").status_code
        == 403
    )


def web_app_xero_client():
    from tests.xero.conftest import WEB_APP_CLIENT_ID

    return WEB_APP_CLIENT_ID


def test_a_site_under_the_day_call_reserve_is_skipped_and_calls_left_are_shown(
    make_private_site, fake_xero_settings, fleet_check, settings, client_for
):
    settings.XERO_DAY_CALLS_RESERVE = 200
    site = make_private_site(name="Busy Pty")
    fleet_check()
    first = ConnectionTest.objects.get(site=site)
    assert first.day_limit_remaining == 4999  # the fake's header, counting down
    tenant = fake_xero_settings._private_apps[site.api_key].organisation.tenant_id
    fake_xero_settings.spend_day_calls(tenant, 4850)
    fleet_check()
    assert ConnectionTest.objects.filter(site=site).latest("started_at").day_limit_remaining == 148

    queued = fleet_checks_queue()

    assert queued.queued == 0 and queued.reserve == 1
    assert "1 with fewer than 200 of Xero's calls left today" in queued.summary()
    health = client_for("support").get("/xero/health/").content.decode()
    assert "148 / " in health
    setup = client_for("staff").get(f"/sites/{site.code}/xero/setup/").content.decode()
    assert "<strong>148</strong> today" in setup


def test_crossing_50_connected_organisations_warns_about_certification_once(
    make_site, web_app_xero, client_for, admins, mailoutbox, settings
):
    from xero.models import TokenSet

    settings.XERO_APP_TIER = "plus"
    client = client_for("staff")
    first = make_site(name="First", code="first", connection_type="web_app")
    connect(client, web_app_xero, first, web_app_xero.acme)
    token_set = TokenSet.objects.get()
    UnboundConnection.objects.bulk_create(
        UnboundConnection(token_set=token_set, tenant_id=f"t{n}", connection_id=f"c{n}")
        for n in range(50)
    )
    second = make_site(name="Second", code="second", connection_type="web_app")

    connect(client, web_app_xero, second, web_app_xero.beta)
    third = make_site(name="Third", code="third", connection_type="web_app")
    connect(client, web_app_xero, third, web_app_xero.add_user_organisation("Gamma"))

    subjects = [m.subject for m in mailoutbox]
    assert subjects.count("[Warehouse] Xero app: more than 50 organisations connected") == 1
    assert "More than 50: Xero requires a certified app" in (
        client_for("support").get("/xero/health/").content.decode()
    )
