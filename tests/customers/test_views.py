"""Inviting from the Site's page, and opening the link: accept, reuse, expiry, revocation,
forgery, the hourly limit, an existing customer, no secret in any email."""

import datetime
import re
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.access import CUSTOMERS
from customers.exceptions import InvitationNeedsPassword
from customers.models import Invitation, Membership, token_hash
from customers.services import (
    invitation_accept,
    invitation_create,
    invitation_revoke,
    membership_add,
)
from sites.models import AuditEntry
from sites.roles import STAFF
from tests.conftest import CONSUMER_SECRET, audit_rows_text

PASSWORD = "a-long-customer-pass-42"
INVITATION_KINDS = [
    AuditEntry.Kind.INVITATION_SENT,
    AuditEntry.Kind.INVITATION_ACCEPTED,
    AuditEntry.Kind.INVITATION_REVOKED,
    AuditEntry.Kind.CUSTOMER_ADDED,
]


def _invite(site, email="anna@example.com", **options):
    return invitation_create(site=site, email=email, link_base="http://testserver", **options)


def _path(link):
    return link.removeprefix("http://testserver")


def _accept(client, link, password=PASSWORD):
    return client.post(_path(link), {"password1": password, "password2": password})


def test_staff_invites_from_the_site_page_and_the_email_carries_only_the_link(client_for, site):
    client = client_for("staff")
    page = client.get(reverse("admin:sites_site_change", args=[site.pk])).text
    assert reverse("customers:invite", args=[site.code]) in page
    response = client.post(
        reverse("customers:invite", args=[site.code]), {"email": "anna@example.com"}, follow=True
    )
    assert "Invitation emailed to anna@example.com" in response.text
    (message,) = mail.outbox
    assert message.to == ["anna@example.com"]
    (link,) = re.findall(r"http://testserver/invitations/\S+/", message.body)
    token = link.rstrip("/").rsplit("/", 1)[1]
    invitation = Invitation.objects.get()
    assert invitation.token_hash == token_hash(token)
    assert token not in invitation.token_hash
    assert site.api_key not in message.body and CONSUMER_SECRET not in message.body
    assert "BEGIN CERTIFICATE" not in message.body


def test_accepting_sets_a_password_and_lands_on_the_sites_setup_page(client, site):
    _, link = _invite(site)
    page = client.get(_path(link))
    assert "Acme Pty Ltd" in page.text and "anna@example.com" in page.text
    response = _accept(client, link)
    assert response.status_code == 302
    assert response.url == reverse("xero:setup", args=[site.code])
    user = get_user_model().objects.get(email="anna@example.com")
    assert user.check_password(PASSWORD)
    assert Membership.objects.filter(site=site, user=user).exists()
    # REQUIRE_TWO_FACTOR: the admin's gate has them enrol first, then go on to the page.
    enrol = client.get(response.url, follow=True)
    assert enrol.request["PATH_INFO"] == reverse("admin:second_factor_enrol")
    assert enrol.request["QUERY_STRING"] == "next=" + quote(response.url, safe="")


def test_without_a_required_second_factor_accepting_opens_the_setup_page(client, site, settings):
    settings.REQUIRE_TWO_FACTOR = False
    _, link = _invite(site)
    response = _accept(client, link)
    assert client.get(response.url).status_code == 200


def test_a_weak_or_mismatched_password_makes_no_account(client, site):
    _, link = _invite(site)
    weak = _accept(client, link, password="anna")
    mismatched = client.post(_path(link), {"password1": PASSWORD, "password2": PASSWORD + "x"})
    assert weak.status_code == mismatched.status_code == 200
    assert "The two passwords differ" in mismatched.text
    assert not get_user_model().objects.filter(email="anna@example.com").exists()
    assert Invitation.objects.get().accepted_at is None


def test_a_used_link_says_so_and_makes_nothing_more(client, site, make_user):
    inviter = make_user(STAFF)
    inviter.email = "sam@imagatec.example"
    inviter.save()
    _, link = _invite(site, invited_by=inviter)
    _accept(client, link)
    client.logout()
    response = _accept(client, link, password="another-long-pass-99")
    assert response.status_code == 410
    assert "already been used" in response.text and "sam@imagatec.example" in response.text
    assert get_user_model().objects.get(email="anna@example.com").check_password(PASSWORD)


def test_an_expired_link_says_so_and_makes_no_account(client, site, settings):
    settings.INVITATION_DAYS = 7
    _, link = _invite(site, now=timezone.now() - datetime.timedelta(days=7, seconds=1))
    response = _accept(client, link)
    assert response.status_code == 410 and "expired" in response.text
    assert not get_user_model().objects.filter(email="anna@example.com").exists()


def test_a_revoked_link_says_so_and_makes_no_account(client_for, site):
    invitation, link = _invite(site)
    client = client_for("support")
    client.post(reverse("customers:revoke", args=[site.code, invitation.pk]))
    client.logout()
    response = _accept(client, link)
    assert response.status_code == 410 and "withdrawn" in response.text
    assert not get_user_model().objects.filter(email="anna@example.com").exists()


@pytest.mark.parametrize("token", ["forged-token", "x" * 43, "%00", "a" * 500])
def test_a_forged_link_says_so_and_leaks_nothing(client, site, token):
    _invite(site)
    response = client.get(f"/invitations/{token}/")
    assert response.status_code == 404
    assert "not valid" in response.text
    assert "Acme" not in response.text and "anna@" not in response.text


def test_inviting_again_revokes_the_earlier_link_of_that_address_in_the_trail(site):
    first, first_link = _invite(site)
    _invite(site)
    first.refresh_from_db()
    assert first.state() == Invitation.State.REVOKED
    assert AuditEntry.objects.filter(
        kind=AuditEntry.Kind.INVITATION_REVOKED, object_pk=str(first.pk)
    ).exists()


def test_reinviting_an_existing_customer_adds_the_site_at_once(client, site, make_site):
    _, link = _invite(site)
    _accept(client, link)
    other = make_site(name="Beta Pty Ltd")
    invitation, sign_in_link = _invite(other, email="ANNA@example.com")
    assert invitation is None
    user = get_user_model().objects.get(email="anna@example.com")
    assert set(Membership.objects.filter(user=user).values_list("site", flat=True)) == {
        site.pk,
        other.pk,
    }
    assert sign_in_link.endswith(reverse("xero:setup", args=[other.code]))
    assert "Beta Pty Ltd was added" in mail.outbox[-1].body


def test_a_staff_users_address_cannot_be_invited(client_for, site, make_user):
    staff = make_user(STAFF)
    staff.email = "sam@imagatec.example"
    staff.save()
    client = client_for("admins")
    response = client.post(
        reverse("customers:invite", args=[site.code]), {"email": staff.email}, follow=True
    )
    assert "belongs to a Warehouse staff account" in response.text
    assert not Invitation.objects.exists()


def test_an_inviter_is_limited_per_hour(client_for, site, settings):
    settings.INVITATIONS_PER_HOUR = 2
    client = client_for("staff")
    url = reverse("customers:invite", args=[site.code])
    for number in range(3):
        response = client.post(url, {"email": f"c{number}@example.com"}, follow=True)
    assert Invitation.objects.count() == 2
    assert "2 invitations in the last hour" in response.text
    assert len(mail.outbox) == 2


def test_sites_added_to_existing_accounts_count_towards_the_hourly_limit(
    client_for, make_site, make_user, settings
):
    settings.INVITATIONS_PER_HOUR = 2
    staff = client_for("staff")
    _, link = _invite(make_site(name="First Pty Ltd"))
    _accept(Client(), link)

    for number in range(3):
        site = make_site(name=f"Site {number} Pty Ltd")
        response = staff.post(
            reverse("customers:invite", args=[site.code]),
            {"email": "anna@example.com"},
            follow=True,
        )

    assert "2 invitations in the last hour" in response.text
    assert Membership.objects.filter(user__email="anna@example.com").count() == 3


def test_a_second_open_link_to_an_existing_account_needs_its_password(site, make_site):
    # Anna was invited to two Sites before she had an account, and accepted the first.
    other = make_site(name="Beta Pty Ltd")
    _, first_link = _invite(site)
    _, second_link = _invite(other)
    _accept(Client(), first_link)
    anna = get_user_model().objects.get(email="anna@example.com")
    holder = Client()  # whoever holds the second link: a shared mailbox, a forward

    page = holder.get(_path(second_link))
    wrong = holder.post(_path(second_link), {"password": "not-annas-password-1"})

    assert "You have a Warehouse account already" in page.text
    assert wrong.status_code == 200 and "not the password of this account" in wrong.text
    assert not Membership.objects.filter(user=anna, site=other).exists()
    assert holder.get(reverse("xero:setup", args=[other.code])).status_code == 302

    right = holder.post(_path(second_link), {"password": PASSWORD})

    assert right.status_code == 302
    assert right.url == reverse("xero:setup", args=[other.code])
    assert Membership.objects.filter(user=anna, site=other).exists()


def test_accepting_for_an_existing_account_without_its_password_is_refused(site, make_site):
    _, first_link = _invite(site)
    _, second_link = _invite(make_site(name="Beta Pty Ltd"))
    _accept(Client(), first_link)
    token = second_link.rstrip("/").rsplit("/", 1)[1]

    with pytest.raises(InvitationNeedsPassword):
        invitation_accept(token=token, password="anything-at-all-123")


def test_an_invalid_address_is_refused_with_a_message(client_for, site):
    response = client_for("staff").post(
        reverse("customers:invite", args=[site.code]), {"email": "not an address"}, follow=True
    )
    assert "email address, e.g. anna@example.com" in response.text
    assert not Invitation.objects.exists()


def test_revoking_an_accepted_invitation_changes_nothing(client, site, make_user):
    invitation, link = _invite(site)
    _accept(client, link)
    invitation.refresh_from_db()
    invitation_revoke(invitation=invitation, revoked_by=make_user(STAFF))
    invitation.refresh_from_db()
    assert invitation.state() == Invitation.State.ACCEPTED


def test_invitations_are_in_the_sites_audit_trail_under_who_did_them_and_never_the_token(
    client_for, client, site, make_site
):
    staff = client_for("staff")
    staff.post(reverse("customers:invite", args=[site.code]), {"email": "anna@example.com"})
    (link,) = re.findall(r"http://testserver/invitations/\S+/", mail.outbox[-1].body)
    staff.logout()
    _accept(client, link)
    other = make_site(name="Beta Pty Ltd")
    revoked, _ = _invite(other, email="bob@example.com", invited_by=staff.user)
    invitation_revoke(invitation=revoked, revoked_by=staff.user)
    _invite(other, email="anna@example.com", invited_by=staff.user)

    rows = list(
        AuditEntry.objects.filter(kind__in=INVITATION_KINDS)
        .order_by("pk")
        .values_list("kind", "site_code", "actor_username", "summary")
    )
    assert rows == [
        ("invitation_sent", "acme", staff.user.username, "Invitation emailed to anna@example.com"),
        (
            "invitation_accepted",
            "acme",
            "anna@example.com",
            "anna@example.com accepted the invitation",
        ),
        (
            "invitation_sent",
            other.code,
            staff.user.username,
            "Invitation emailed to bob@example.com",
        ),
        (
            "invitation_revoked",
            other.code,
            staff.user.username,
            "Invitation of bob@example.com revoked",
        ),
        (
            "customer_added",
            other.code,
            staff.user.username,
            "Site added to the customer account of anna@example.com",
        ),
    ]
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert token not in audit_rows_text()


def test_a_customers_save_on_the_setup_page_is_in_the_trail_under_their_name(customer_for, site):
    client = customer_for(site)
    new_key = "AB7KJ1M2N3B4V5C6X7Z8L9K0J1H2YC"
    response = client.post(
        reverse("xero:setup", args=[site.code]),
        {"api_key": new_key, "new_api_secret": "a-new-customer-secret-42", "payroll_enabled": "on"},
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.filter(kind=AuditEntry.Kind.SITE_CHANGED).latest("pk")
    assert entry.actor_username == client.user.username
    assert entry.site_code == site.code
    assert new_key in audit_rows_text()
    assert "a-new-customer-secret-42" not in audit_rows_text()


def _remove_url(membership):
    return reverse("customers:remove", args=[membership.site.code, membership.pk])


@pytest.fixture
def customer_of(make_user):
    """``customer_of(*sites)``: a customer account of ``sites``, not signed in anywhere yet
    (the test client stays free for whoever removes them)."""

    def customer_of(*sites):
        user = make_user(CUSTOMERS)
        for site in sites:
            membership_add(site=site, user=user)
        return user

    return customer_of


def _signed_in(user, log_in):
    return log_in(Client(), user)


def test_the_customers_panel_offers_remove_beside_each_customer(client_for, customer_of, site):
    customer = customer_of(site)
    membership = Membership.objects.get(user=customer)
    page = client_for("support").get(reverse("admin:sites_site_change", args=[site.pk])).text
    # A link to the page that asks first (its address has no stray "?").
    assert f'<a class="button" href="{_remove_url(membership)}">Remove<span' in page


def test_asking_to_remove_a_customer_says_what_happens_and_changes_nothing(
    client_for, customer_of, site
):
    customer = customer_of(site)
    membership = Membership.objects.get(user=customer)
    response = client_for("staff").get(_remove_url(membership))
    page = " ".join(response.text.split())
    assert response.status_code == 200
    assert f"<strong>{customer.username}</strong> may do Acme Pty Ltd's Xero setup" in page
    assert "it has no other Site, so they see an empty list when they sign in" in page
    assert "<strong>revokes</strong>" not in page
    assert '<button type="submit" class="button default">Remove their access</button>' in page
    assert (
        f'href="/admin/sites/site/{site.pk}/change/#customers" class="button cancel-link"' in page
    )
    assert Membership.objects.filter(pk=membership.pk).exists()
    assert not AuditEntry.objects.filter(kind=AuditEntry.Kind.CUSTOMER_REMOVED).exists()


def test_removing_a_customer_takes_one_site_keeps_the_account_and_is_in_the_trail(
    client_for, customer_of, site, make_site, log_in
):
    other = make_site(name="Beta Pty Ltd")
    customer = customer_of(site, other)
    membership = Membership.objects.get(user=customer, site=site)
    staff = client_for("staff")
    asked = " ".join(staff.get(_remove_url(membership)).text.split())

    response = staff.post(_remove_url(membership), follow=True)

    assert "keeps</strong> their account, with their 1 other Site." in asked
    assert response.redirect_chain[-1][0] == f"/admin/sites/site/{site.pk}/change/#customers"
    assert f"Removed {customer.username}&#x27;s access to Acme Pty Ltd" in response.text
    assert list(Membership.objects.filter(user=customer).values_list("site", flat=True)) == [
        other.pk
    ]
    customer.refresh_from_db()
    assert customer.is_active
    entry = AuditEntry.objects.get(kind=AuditEntry.Kind.CUSTOMER_REMOVED)
    assert (entry.site_code, entry.actor_username, entry.summary) == (
        site.code,
        staff.user.username,
        f"{customer.username} removed from the Site's customers; their account stays",
    )
    theirs = _signed_in(customer, log_in)
    assert theirs.get(reverse("xero:setup", args=[site.code])).status_code == 404
    assert theirs.get(reverse("xero:setup", args=[other.code])).status_code == 200


def test_a_customer_removed_from_their_only_site_sees_an_empty_home(
    client_for, customer_of, site, log_in
):
    customer = customer_of(site)
    client_for("admins").post(_remove_url(Membership.objects.get(user=customer)))

    home = _signed_in(customer, log_in).get(reverse("customers:home"))

    assert home.status_code == 200
    assert "No Site is linked to your account yet" in home.text
    assert get_user_model().objects.filter(pk=customer.pk).exists()


def test_removing_a_customer_revokes_their_open_invitations_to_that_site_only(
    client_for, customer_of, site, make_site
):
    other = make_site(name="Beta Pty Ltd")
    here, _ = _invite(site, email="anna@example.com")
    there, _ = _invite(other, email="anna@example.com")
    customer = customer_of(site)
    customer.email = "anna@example.com"
    customer.save()
    membership = Membership.objects.get(user=customer)
    staff = client_for("staff")
    asked = " ".join(staff.get(_remove_url(membership)).text.split())

    staff.post(_remove_url(membership))

    assert "<strong>revokes</strong> their open invitation to this Site" in asked
    here.refresh_from_db()
    there.refresh_from_db()
    assert here.state() == Invitation.State.REVOKED and here.revoked_by == staff.user
    assert there.state() == Invitation.State.OPEN
    assert list(
        AuditEntry.objects.filter(kind__in=INVITATION_KINDS + [AuditEntry.Kind.CUSTOMER_REMOVED])
        .order_by("pk")
        .values_list("kind", flat=True)
    ) == ["invitation_sent", "invitation_sent", "invitation_revoked", "customer_removed"]


def test_a_customer_of_another_site_cannot_be_removed_through_this_one(
    client_for, customer_of, site, make_site
):
    other = make_site()
    membership = Membership.objects.get(user=customer_of(other))
    url = reverse("customers:remove", args=[site.code, membership.pk])
    staff = client_for("staff")
    assert staff.get(url).status_code == staff.post(url).status_code == 404
    assert Membership.objects.filter(pk=membership.pk).exists()
