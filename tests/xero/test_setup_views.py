"""The setup page (xero/views.py setup_view): what each role sees and may do, and the Xero
Details form's rules. The browser walk is in tests/browser/."""

import pytest
from django.urls import reverse

from customers.services import membership_add
from sites.models import Site
from tests.conftest import CONSUMER_KEY, CONSUMER_SECRET

from .conftest import CLIENT_ID


def setup_url(site):
    return reverse("xero:setup", args=[site.code])


@pytest.mark.parametrize(
    ("role", "status"),
    [("superuser", 200), ("admins", 200), ("staff", 200), ("support", 200), ("nobody", 403)],
)
def test_who_may_open_the_setup_page(client_for, site, role, status):
    assert client_for(role).get(setup_url(site)).status_code == status


def test_anonymous_users_are_sent_to_log_in(client, site):
    response = client.get(setup_url(site))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_page_sits_inside_the_admin_and_shows_the_procedures_facts(client_for, site):
    page = client_for("staff").get(setup_url(site)).content.decode()
    assert 'id="site-name"' in page  # the admin's header
    assert "Xero retired private applications on 30 September 2021" in page
    assert 'value="Private"' in page and 'value="ImagatecAPI"' in page
    assert "X509 Public Key Certificate: Paste In" in page
    assert "Enable Payroll API for this organisation" in page
    assert 'target="_blank"' in page
    assert "IMAGATEC" in page and "Set by Imagatec" in page


# Which controls each role sees: (certificate issue, details form, test button, switch).
CONTROLS = {
    "superuser": (True, True, True, True),
    "admins": (True, True, True, True),
    "staff": (False, True, False, True),
    "support": (False, False, True, False),
}


@pytest.mark.parametrize("role", CONTROLS)
def test_each_role_sees_only_its_controls(client_for, site, role):
    page = client_for(role).get(setup_url(site)).content.decode()
    issue, details, test, switch = CONTROLS[role]
    assert (reverse("xero:certificate_issue", args=[site.code]) in page) == issue
    assert ('value="Save Xero Details"' in page) == details
    assert (reverse("xero:connection_test", args=[site.code]) in page) == test
    assert (reverse("xero:switch_to_custom_connection", args=[site.code]) in page) == switch
    assert CONSUMER_SECRET not in page


def test_others_see_who_to_ask_for_a_certificate(client_for, site):
    page = client_for("staff").get(setup_url(site)).content.decode()
    assert "Ask an Admin to issue one." in page


def test_admins_see_the_certificate_to_paste_with_copy_and_download(
    client_for, site, issue_certificate
):
    certificate = issue_certificate(site)
    page = client_for("admins").get(setup_url(site)).content.decode()
    assert certificate.certificate_pem.strip() in page
    assert 'data-copy-target="certificate-to-paste"' in page
    assert certificate.download_filename in page


def test_during_rotation_the_pending_certificate_is_the_one_to_paste(
    client_for, site, issue_certificate
):
    issue_certificate(site)
    pending = issue_certificate(site)
    page = client_for("admins").get(setup_url(site)).content.decode()
    start = page.index('id="certificate-to-paste"')
    assert pending.certificate_pem.strip() in page[start : start + 3000]


def test_staff_save_the_xero_details_in_place(client_for, make_site):
    site = make_site()
    response = client_for("staff").post(
        setup_url(site),
        {"api_key": f" {CONSUMER_KEY}\u200b\n", "new_api_secret": CONSUMER_SECRET,
         "payroll_enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    assert response["Location"].endswith("#step-xero_details")
    site.refresh_from_db()
    assert site.api_key == CONSUMER_KEY and site.api_secret == CONSUMER_SECRET


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"api_key": "short"}, "16"),
        ({"api_key": "KEY WITH ÜMLAUT 0123456789"}, "letters"),
        ({"api_key": CONSUMER_KEY, "new_api_secret": "x" * 200}, "128"),
        ({"api_key": CONSUMER_KEY, "new_api_secret": "NEWSECRET0123456789AB",
          "clear_api_secret": "on"}, "not both"),
        ({"api_key": CONSUMER_KEY, "interconnect_id": "OTHER"}, "always IMAGATEC"),
    ],
)  # fmt: skip
def test_bad_details_are_refused_clearly_and_lose_nothing(client_for, site, data, message):
    before = (site.api_key, site.api_secret, site.payroll_enabled)
    response = client_for("staff").post(setup_url(site), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert "The Xero Details were not saved" in page
    site.refresh_from_db()
    assert (site.api_key, site.api_secret, site.payroll_enabled) == before
    assert CONSUMER_SECRET not in page
    assert "LL.....QO" in page  # the stored secret's mask, not the refused input


def test_two_sites_cannot_share_a_key(client_for, site, make_site):
    other = make_site()
    response = client_for("staff").post(setup_url(other), {"api_key": CONSUMER_KEY})
    assert "Another Site already uses this API Key" in response.content.decode()


def test_a_customer_refused_another_sites_key_is_not_told_that_it_exists(
    client_for, site, make_site
):
    other = make_site(name="Their Own Pty")
    client = client_for("customer")
    membership_add(site=other, user=client.user)
    response = client.post(setup_url(other), {"api_key": CONSUMER_KEY})
    page = response.content.decode()
    assert response.status_code == 200
    assert "This API Key cannot be used for this Site" in page
    assert "ask Imagatec support" in page
    assert "already uses" not in page and "Another Site" not in page
    assert site.name not in page and site.code not in page
    other.refresh_from_db()
    assert other.api_key != CONSUMER_KEY


@pytest.mark.parametrize("role", ["support", "nobody"])
def test_roles_without_change_permission_cannot_post_details(client_for, site, role):
    response = client_for(role).post(setup_url(site), {"api_key": "X" * 20})
    assert response.status_code == 403
    site.refresh_from_db()
    assert site.api_key == CONSUMER_KEY


def test_switching_to_a_custom_connection_clears_the_consumer_credentials(client_for, site):
    response = client_for("staff").post(
        reverse("xero:switch_to_custom_connection", args=[site.code]), follow=True
    )
    site.refresh_from_db()
    assert site.connection_type == Site.ConnectionType.CUSTOM_CONNECTION
    assert (site.api_key, site.api_secret) == ("", "")
    page = response.content.decode()
    assert "Xero retired private applications" not in page
    assert "Choose the scopes and authorise the organisation" in page
    assert "payroll.settings.read" in page


def test_support_cannot_switch_the_connection_type(client_for, site):
    url = reverse("xero:switch_to_custom_connection", args=[site.code])
    assert client_for("support").post(url).status_code == 403


def test_custom_connection_step_3_names_the_client_id(client_for, make_site):
    site = make_site(connection_type="custom_connection", api_key=CLIENT_ID)
    page = client_for("staff").get(setup_url(site)).content.decode()
    assert "Client ID" in page and "Client Secret" in page
    assert "X509" not in page


def test_the_page_takes_a_fixed_number_of_queries(
    client_for, private_site, issue_certificate, django_assert_max_num_queries, settings
):
    from xero.services import connection_test_run

    settings.XERO_TEST_COOLDOWN = 0
    client = client_for("admins")
    with django_assert_max_num_queries(16) as few:
        client.get(setup_url(private_site))
    for _ in range(5):
        issue_certificate(private_site)
        connection_test_run(site=private_site)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(setup_url(private_site)).status_code == 200


def test_the_site_page_and_list_link_to_the_setup_page(client_for, site):
    client = client_for("staff")
    assert setup_url(site) in client.get(reverse("admin:sites_site_changelist")).content.decode()
    change = client.get(reverse("admin:sites_site_change", args=[site.pk])).content.decode()
    assert setup_url(site) in change


def test_a_failed_test_links_to_the_step_that_fixes_it(client_for, private_site, fake_xero):
    from xero.services import connection_test_run

    fake_xero.reset()
    connection_test_run(site=private_site)
    page = client_for("support").get(setup_url(private_site)).content.decode()
    assert 'class="xero-state xero-state-problem"' in page
    assert "Fix it at step:" in page
    assert "Copy the Consumer Key and Secret into the Xero Details</a>" in page


def test_the_setup_page_answers_only_get_and_post(client_for, site):
    assert client_for("staff").put(setup_url(site)).status_code == 405


def test_the_switch_asks_first_and_a_get_changes_nothing(client_for, site):
    url = reverse("xero:switch_to_custom_connection", args=[site.code])
    page = client_for("staff").get(url).content.decode()
    assert "Switch and clear the Key and Secret" in page
    assert CONSUMER_KEY in page and CONSUMER_SECRET not in page
    site.refresh_from_db()
    assert site.connection_type == Site.ConnectionType.PRIVATE_APP


def test_the_switch_to_connect_to_xero_asks_first_and_a_get_changes_nothing(client_for, site):
    url = reverse("xero:switch_to_web_app", args=[site.code])
    page = client_for("staff").get(url).content.decode()
    assert "Switch and clear the Key and Secret" in page
    assert "Connect to Xero uses the Warehouse" in page
    assert CONSUMER_KEY in page and CONSUMER_SECRET not in page
    site.refresh_from_db()
    assert site.connection_type == Site.ConnectionType.PRIVATE_APP


def test_the_private_banner_links_to_both_switches_and_has_no_switching_form(client_for, site):
    page = client_for("staff").get(setup_url(site)).content.decode()
    for name in ("xero:switch_to_web_app", "xero:switch_to_custom_connection"):
        url = reverse(name, args=[site.code])
        assert f'href="{url}"' in page
        assert f'action="{url}"' not in page
