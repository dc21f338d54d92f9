"""xero/link_alerts.py and the "Disconnected in Xero" outcome, against the fake Xero over
HTTP: who is told what when a Site's link breaks, is disconnected in Xero, works again."""

import re

import pytest

from api import webhooks
from api.models import WebhookDelivery
from customers.services import membership_add
from tests.xero.connecting import answer, connect, start
from xero.models import Alert, TenantBinding
from xero.services import connection_test_run


@pytest.fixture(autouse=True)
def _links(settings):
    settings.WAREHOUSE_URL = "https://warehouse.example.com"


@pytest.fixture
def people(make_user, connected_site):
    """A customer of the Site, a customer of no Site, an Admin and Support, all with
    addresses; returns their addresses by role."""
    customer = make_user("Customers", username="cara")
    other = make_user("Customers", username="olga")
    admin = make_user("Admins", username="ada")
    support = make_user("Support", username="sam")
    for user in (customer, other, admin, support):
        user.email = f"{user.username}@example.com"
        user.save()
    membership_add(site=connected_site, user=customer)
    return {"customer": customer.email, "admin": admin.email, "support": support.email}


def sent_to(mailoutbox, address):
    return [mail for mail in mailoutbox if address in mail.to]


def test_a_disconnect_in_xero_is_its_own_outcome_naming_who_connected_it_and_when(
    connected_site, web_app_xero
):
    binding = TenantBinding.objects.get(site=connected_site)
    web_app_xero.disconnect_in_xero(web_app_xero.acme.tenant_id)

    test = connection_test_run(site=connected_site)

    assert test.outcome == "disconnected_in_xero"
    assert test.outcome_label == "Disconnected in Xero"
    assert test.step == "open_xero"
    assert "Acme Pty Ltd was disconnected in Xero" in test.message
    assert "connected by Bea Keeper (bookkeeper@example.com)" in test.message
    assert f"{binding.connected_at:%Y}" in test.message
    assert "Press “Connect to Xero” again and choose Acme Pty Ltd." in test.message


def test_a_custom_connection_removed_in_xero_after_passing_is_disconnected_in_xero(
    custom_site, fake_xero_settings, settings
):
    settings.XERO_TEST_COOLDOWN = 0
    from tests.xero.conftest import CLIENT_ID, CLIENT_SECRET

    organisation = fake_xero_settings.register_custom_connection(CLIENT_ID, CLIENT_SECRET)
    assert connection_test_run(site=custom_site).passed
    fake_xero_settings.disconnect_in_xero(organisation.tenant_id)

    test = connection_test_run(site=custom_site)

    assert test.outcome == "disconnected_in_xero", test.message
    assert test.step == "create_application"
    assert "authorisation link" in test.message


def test_the_fleet_check_tells_the_customer_how_to_reconnect_with_a_working_link_once(
    fleet_check, connected_site, web_app_xero, people, mailoutbox, client_for, log_in
):
    fleet_check()
    assert mailoutbox == []  # passing: nothing to tell
    webhooks.endpoint_create(url="http://127.0.0.1:9/hook")
    web_app_xero.disconnect_in_xero(web_app_xero.acme.tenant_id)

    fleet_check()

    [mail] = sent_to(mailoutbox, people["customer"])
    assert mail.subject == "[Warehouse] Webby Pty Ltd: disconnected in Xero, connect it again"
    assert "was disconnected in Xero (Settings › Connected apps)" in mail.body
    assert "connected by Bea Keeper (bookkeeper@example.com)" in mail.body
    link = "https://warehouse.example.com/sites/webby/xero/setup/#step-open_xero"
    assert link in mail.body
    assert people["support"] in mail.to and "olga@example.com" not in mail.to
    # The Admins get their own alert (failing after passing), as before.
    assert [m.subject for m in sent_to(mailoutbox, people["admin"])] == [
        "[Warehouse] Webby Pty Ltd (webby): Xero connection test failing"
    ]
    assert "site.disconnected" in WebhookDelivery.objects.values_list("event_type", flat=True)

    # The link opens the customer's setup page, which says so and offers Connect again.
    client = client_for("customer")
    membership_add(site=connected_site, user=client.user)
    page = client.get(re.search(r"https://warehouse.example.com(\S+)#", mail.body).group(1))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Disconnected in Xero" in text
    assert "Connect to Xero again" in text

    fleet_check()  # still disconnected: told once
    assert len(sent_to(mailoutbox, people["customer"])) == 1


def test_reconnecting_the_same_organisation_sends_works_again_to_those_told(
    fleet_check, connected_site, web_app_xero, people, mailoutbox, client_for
):
    fleet_check()
    web_app_xero.disconnect_in_xero(web_app_xero.acme.tenant_id)
    fleet_check()
    mailoutbox.clear()

    response = connect(client_for("staff"), web_app_xero, connected_site, web_app_xero.acme)
    assert response.status_code == 302
    assert response["Location"].endswith("#step-connection_test")
    fleet_check()

    recovered = [m for m in mailoutbox if "works again" in m.subject]
    assert len(recovered) == 1
    assert set(recovered[0].to) == {people["customer"], people["admin"], people["support"]}
    assert Alert.objects.filter(kind="recovered").count() == 1
    fleet_check()
    assert len([m for m in mailoutbox if "works again" in m.subject]) == 1


def test_a_consent_binding_another_organisation_asks_first_naming_both(
    connected_site, web_app_xero, client_for
):
    web_app_xero.disconnect_in_xero(web_app_xero.acme.tenant_id)
    client = client_for("staff")

    callback = answer(web_app_xero, start(client, connected_site), web_app_xero.beta)
    response = client.get(callback)

    assert response.status_code == 302
    assert TenantBinding.objects.get(site=connected_site).tenant_name == "Acme Pty Ltd"
    page = client.get(response["Location"]).content.decode()
    assert "reached <strong>Acme Pty Ltd</strong> until now" in page
    assert "connects <strong>Beta Holdings</strong> instead" in page
    assert "Connect Beta Holdings instead" in page

    client.post(
        f"/sites/{connected_site.code}/xero/connect/choose/",
        {"tenant": web_app_xero.beta.tenant_id},
    )
    assert TenantBinding.objects.get(site=connected_site).tenant_name == "Beta Holdings"


def test_a_consent_revoked_in_xero_tells_the_customer_to_connect_again(
    fleet_check, connected_site, web_app_xero, people, mailoutbox
):
    fleet_check()
    assert web_app_xero.revoke_consent_in_xero() == 1

    fleet_check()

    [mail] = sent_to(mailoutbox, people["customer"])
    assert mail.subject == "[Warehouse] Webby Pty Ltd: the link to Xero stopped working"
    assert "Reconnect needed" in mail.body
    assert "https://warehouse.example.com/sites/webby/xero/setup/#step-open_xero" in mail.body


def test_the_person_whose_click_found_the_break_is_not_emailed_it(
    connected_site, web_app_xero, mailoutbox, client_for, settings
):
    settings.XERO_TEST_COOLDOWN = 0
    client = client_for("customer")
    client.user.email = "cara@example.com"
    client.user.save()
    membership_add(site=connected_site, user=client.user)
    client.post(f"/sites/{connected_site.code}/xero/connection-test/")
    web_app_xero.disconnect_in_xero(web_app_xero.acme.tenant_id)

    client.post(f"/sites/{connected_site.code}/xero/connection-test/")

    assert Alert.objects.filter(kind="disconnected").exists()
    assert sent_to(mailoutbox, "cara@example.com") == []


def test_each_person_chooses_immediately_digest_or_off_per_kind_on_their_settings_page(
    fleet_check,
    connected_site,
    web_app_xero,
    people,
    mailoutbox,
    client_for,
    log_in,
    django_user_model,
):
    from django.core.management import call_command

    customer = django_user_model.objects.get(email=people["customer"])
    support = django_user_model.objects.get(email=people["support"])
    for user, choice in ((customer, "digest"), (support, "off")):
        client = log_in(client_for("nobody"), user)
        page = client.get("/account/alerts/").content.decode()
        assert "Disconnected in Xero (told to the customers)" in page
        assert client.post("/account/alerts/", {"disconnected": choice}).status_code == 400
        fields = {kind: "immediately" for kind in ("disconnected", "broken", "recovered")}
        if user == support:
            fields = {kind: "immediately" for kind in Alert.Kind.values}
        response = client.post("/account/alerts/", {**fields, "disconnected": choice})
        assert response.status_code == 302, response.content
    fleet_check()
    web_app_xero.disconnect_in_xero(web_app_xero.acme.tenant_id)

    fleet_check()

    assert sent_to(mailoutbox, people["customer"]) == []  # kept for the digest
    assert sent_to(mailoutbox, people["support"]) == []  # off
    call_command("xero_alert_digest")
    [digest] = sent_to(mailoutbox, people["customer"])
    assert digest.subject == "[Warehouse] Your Xero alerts: 1 since the last digest"
    assert "Webby Pty Ltd: disconnected in Xero, connect it again" in digest.body
    assert "https://warehouse.example.com/sites/webby/xero/setup/#step-open_xero" in digest.body
    call_command("xero_alert_digest")
    assert len(sent_to(mailoutbox, people["customer"])) == 1  # sent once


def test_a_made_up_delivery_is_refused_plainly(client_for):
    client = client_for("admins")

    response = client.post("/account/alerts/", {"failing": "<script>", "expiring": "off"})

    assert response.status_code == 400
    assert "Choose immediately, daily digest or off." in response.content.decode()


def test_a_site_disconnected_in_xero_before_any_pass_is_told_once_not_at_every_check(
    fleet_check, connected_site, web_app_xero, people, mailoutbox
):
    web_app_xero.disconnect_in_xero(web_app_xero.acme.tenant_id)

    fleet_check()
    fleet_check()

    assert len(sent_to(mailoutbox, people["customer"])) == 1
