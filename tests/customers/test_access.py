"""The permission matrix: every role x action, and for customers their own Site and another.

Staff roles act on any Site (their permissions are global); a customer acts on their own Sites
only, and any other Site's URL answers 404, as if it did not exist.
"""

import pytest
from django.urls import reverse

from customers.access import CUSTOMERS, is_customer, page_flags
from customers.models import Invitation
from customers.services import invitation_create
from tests.customers.conftest import client_user

ROLES = ["staff", "admins", "support", "nobody", "superuser"]

# action: (method, expected status for staff, admins, support, nobody, superuser,
#          a customer on their own Site, a customer on another Site). A customer meets 404
# also for the actions they never do: the fence lets only their own pages answer them.
MATRIX = {
    "setup_page": ("get", 200, 200, 200, 403, 200, 200, 404),
    "save_details": ("post", 302, 302, 403, 403, 302, 302, 404),
    "download_certificate": ("get", 403, 200, 403, 403, 200, 200, 404),
    "run_test": ("post", 403, 302, 302, 403, 302, 302, 404),
    "test_history": ("get", 200, 200, 200, 403, 200, 200, 404),
    "issue_certificate": ("post", 403, 302, 403, 403, 302, 404, 404),
    "activate_certificate": ("post", 403, 302, 403, 403, 302, 404, 404),
    "reactivate_certificate": ("post", 403, 302, 403, 403, 302, 404, 404),
    "switch_connection_type": ("post", 302, 302, 403, 403, 302, 404, 404),
    "switch_to_private_app": ("post", 302, 302, 403, 403, 302, 404, 404),
    # The Site is a private application's, so Connect goes back to its setup page saying so,
    # and with no consent under way the choice of organisation is a plain 400 page.
    "connect": ("post", 302, 302, 302, 403, 302, 302, 404),
    "connect_choose": ("get", 400, 400, 400, 403, 400, 400, 404),
    # Not connected: asking goes back to the setup page, and disconnecting says so there.
    "ask_to_disconnect": ("get", 403, 302, 403, 403, 302, 404, 404),
    "disconnect": ("post", 403, 302, 403, 403, 302, 404, 404),
    "invite": ("post", 302, 302, 302, 403, 302, 404, 404),
    "revoke_invitation": ("post", 302, 302, 302, 403, 302, 404, 404),
    "site_admin_page": ("get", 200, 200, 200, 403, 200, 404, 404),
    "site_history": ("get", 200, 200, 200, 403, 200, 404, 404),
}


def _url(action, site, certificate, invitation):
    return {
        "setup_page": reverse("xero:setup", args=[site.code]),
        "save_details": reverse("xero:setup", args=[site.code]),
        "download_certificate": reverse(
            "xero:certificate_download", args=[site.code, certificate.pk]
        ),
        "run_test": reverse("xero:connection_test", args=[site.code]),
        "test_history": reverse("xero:connection_tests", args=[site.code]),
        "issue_certificate": reverse("xero:certificate_issue", args=[site.code]),
        "activate_certificate": reverse(
            "xero:certificate_activate", args=[site.code, certificate.pk]
        ),
        "reactivate_certificate": reverse(
            "xero:certificate_reactivate", args=[site.code, certificate.pk]
        ),
        "switch_connection_type": reverse("xero:switch_to_custom_connection", args=[site.code]),
        "switch_to_private_app": reverse("xero:switch_to_private_app", args=[site.code]),
        "connect": reverse("xero:connect", args=[site.code]),
        "connect_choose": reverse("xero:connect_choose", args=[site.code]),
        "ask_to_disconnect": reverse("xero:disconnect", args=[site.code]),
        "disconnect": reverse("xero:disconnect", args=[site.code]),
        "invite": reverse("customers:invite", args=[site.code]),
        "revoke_invitation": reverse("customers:revoke", args=[site.code, invitation.pk]),
        "site_admin_page": reverse("admin:sites_site_change", args=[site.pk]),
        "site_history": reverse("admin:sites_site_history", args=[site.pk]),
    }[action]


POST_DATA = {
    "save_details": {"connection_type": "private_app", "api_key": "", "payroll_enabled": "on"},
    "issue_certificate": {"key_size": "2048", "days": "365"},
    "invite": {"email": "new.customer@example.com"},
}


@pytest.fixture
def target(make_site, issue_certificate):
    """A Site with a certificate and an open invitation: something for every action."""

    def target(**fields):
        site = make_site(**fields)
        certificate = issue_certificate(site)
        invitation, _ = invitation_create(
            site=site, email=f"invited@{site.code}.example.com", link_base="http://testserver"
        )
        return site, certificate, invitation

    return target


def _request(client, action, site, certificate, invitation):
    method = MATRIX[action][0]
    url = _url(action, site, certificate, invitation)
    if method == "get":
        return client.get(url)
    return client.post(url, POST_DATA.get(action, {}))


@pytest.mark.parametrize("action", MATRIX)
@pytest.mark.parametrize("role", ROLES)
def test_staff_role_may_do_exactly_its_actions_on_any_site(client_for, target, role, action):
    site, certificate, invitation = target()
    response = _request(client_for(role), action, site, certificate, invitation)
    assert response.status_code == MATRIX[action][1 + ROLES.index(role)]


@pytest.mark.parametrize("action", MATRIX)
def test_customer_may_do_the_procedure_on_their_own_site_only(customer_for, target, action):
    site, certificate, invitation = target()
    response = _request(customer_for(site), action, site, certificate, invitation)
    assert response.status_code == MATRIX[action][6]


@pytest.mark.parametrize("action", MATRIX)
def test_customer_gets_404_for_every_url_of_another_site(customer_for, target, action):
    own, *_ = target()
    other, certificate, invitation = target()
    response = _request(customer_for(own), action, other, certificate, invitation)
    assert response.status_code == MATRIX[action][7] == 404
    assert other.name.encode() not in response.content


def test_customer_on_another_sites_unknown_code_gets_the_same_404(customer_for, target):
    own, *_ = target()
    other, *_ = target()
    client = customer_for(own)
    existing = client.get(reverse("xero:setup", args=[other.code]))
    missing = client.get(reverse("xero:setup", args=["no-such-site"]))
    assert existing.status_code == missing.status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/admin/auth/user/",
        "/admin/auth/group/",
        "/admin/xero/connectiontest/",
        "/admin/customers/invitation/",
        "/xero/health/",
    ],
)
def test_customer_never_sees_lists_health_or_other_models(customer_for, target, url):
    site, *_ = target()
    assert customer_for(site).get(url).status_code == 404


@pytest.mark.parametrize("name", ["admin:index", "admin:sites_site_changelist"])
def test_customer_is_sent_from_the_index_and_site_list_to_their_site(customer_for, target, name):
    site, *_ = target()
    other, *_ = target()
    response = customer_for(site).get(reverse(name), follow=True)
    assert response.redirect_chain[-1][0] == reverse("xero:setup", args=[site.code])
    assert other.name not in response.text


def test_customer_of_two_sites_chooses_one_and_sees_no_third(customer_for, target):
    first, *_ = target()
    second, *_ = target()
    third, *_ = target()
    response = customer_for(first, second).get(reverse("customers:home"))
    assert response.status_code == 200
    assert first.name in response.text and second.name in response.text
    assert third.name not in response.text


def test_customer_save_keeps_interconnect_id_and_masks_the_secret(customer_for, target):
    site, *_ = target()
    client = customer_for(site)
    secret = "CUSTOMERSECRETVALUE1234567890AB"
    response = client.post(
        reverse("xero:setup", args=[site.code]),
        {
            "connection_type": "private_app",
            "api_key": "QZ7KJ1M2N3B4V5C6X7Z8L9K0J1H2ZZ",
            "new_api_secret": secret,
            "payroll_enabled": "on",
        },
        follow=True,
    )
    assert secret not in response.text
    site.refresh_from_db()
    assert site.api_secret == secret
    assert "CU.....AB" in response.text


def test_customer_setup_page_offers_the_procedure_but_no_issue_or_switch(customer_for, target):
    site, certificate, _ = target()
    page = customer_for(site).get(reverse("xero:setup", args=[site.code])).text
    assert reverse("xero:certificate_download", args=[site.code, certificate.pk]) in page
    assert reverse("xero:connection_test", args=[site.code]) in page
    assert reverse("xero:certificate_issue", args=[site.code]) not in page
    assert reverse("xero:switch_to_custom_connection", args=[site.code]) not in page
    assert reverse("admin:sites_site_changelist") not in page
    assert "PRIVATE KEY" not in page
    assert 'id="nav-sidebar"' not in page


def test_customers_group_is_a_customer_but_a_superuser_in_it_is_not(client_for, django_user_model):
    from django.contrib.auth.models import Group

    client = client_for("customer")
    assert is_customer(client_user(client))
    superuser = django_user_model.objects.create_superuser("root-1", password="pw-1-long-pw")
    superuser.groups.add(Group.objects.get(name=CUSTOMERS))
    assert not is_customer(superuser)
    assert Invitation.objects.count() == 0


def test_customer_sees_when_a_new_certificate_waits_to_be_pasted(
    customer_for, target, issue_certificate
):
    site, _, _ = target()
    client = customer_for(site)
    url = reverse("xero:setup", args=[site.code])
    assert "A new certificate is waiting" not in client.get(url).text
    pending = issue_certificate(site)
    page = client.get(url).text
    assert "A new certificate is waiting to be pasted" in page
    assert reverse("xero:certificate_download", args=[site.code, pending.pk]) in page


@pytest.mark.parametrize(("role", "status"), [("customer", 400), ("nobody", 403)])
def test_xeros_callback_answers_a_customer_and_refuses_a_user_in_no_group(client_for, role, status):
    response = client_for(role).get(reverse("xero:callback"), {"state": "made-up", "code": "x"})
    assert response.status_code == status


def test_customer_may_connect_their_own_site_only_and_never_disconnect(customer_for, target):
    own, *_ = target()
    other, *_ = target()
    user = client_user(customer_for(own))
    assert page_flags(user, own)["can_connect_xero"]
    assert not page_flags(user, other)["can_connect_xero"]
    assert not page_flags(user, own)["can_disconnect_xero"]


def test_customers_group_holds_no_model_permission_connecting_included(db):
    from django.contrib.auth.models import Group

    permissions = Group.objects.get(name=CUSTOMERS).permissions.all()
    assert [p.codename for p in permissions] == ["own_sites_only"]


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    ("role", "status"),
    [("staff", 200), ("admins", 200), ("support", 200), ("nobody", 403), ("superuser", 200)],
)
def test_whoever_may_invite_may_remove_a_customer(
    client_for, make_user, target, role, status, method
):
    from customers.models import Membership
    from customers.services import membership_add

    site, *_ = target()
    membership = membership_add(site=site, user=make_user(CUSTOMERS))
    url = reverse("customers:remove", args=[site.code, membership.pk])
    response = getattr(client_for(role), method)(url)
    removed = status == 200 and method == "post"
    assert response.status_code == (302 if removed else status)
    assert Membership.objects.filter(pk=membership.pk).exists() != removed


def test_a_customer_cannot_remove_anyone_even_on_their_own_site(customer_for, make_user, target):
    from customers.models import Membership
    from customers.services import membership_add

    site, *_ = target()
    membership = membership_add(site=site, user=make_user(CUSTOMERS))
    client = customer_for(site)
    url = reverse("customers:remove", args=[site.code, membership.pk])
    assert client.get(url).status_code == client.post(url).status_code == 404
    assert Membership.objects.filter(pk=membership.pk).exists()
