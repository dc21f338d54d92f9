"""Refused pages leave a row in the audit trail, one per user, page kind and hour."""

import pytest
from django.urls import reverse

from customers.services import membership_add
from sites.models import AuditEntry, RefusedAccessCount


@pytest.fixture
def customer_for(client_for):
    def customer_for(site):
        client = client_for("customer")
        membership_add(site=site, user=client.user)
        return client

    return customer_for


def _refusal_rows(user):
    return AuditEntry.objects.filter(kind=AuditEntry.Kind.ACCESS_REFUSED, actor_id=user.pk)


def test_a_staff_members_refused_page_is_in_the_trail(client_for):
    client = client_for("nobody")
    response = client.get(reverse("xero:health"))
    assert response.status_code == 403
    (row,) = _refusal_rows(client.user)
    assert "403 for /xero/health/" in row.summary and "(xero:health)" in row.summary
    assert row.actor_username == client.user.username


def test_a_customers_fenced_page_is_in_the_trail(customer_for, site, make_site):
    client = customer_for(site)
    other = make_site()
    assert client.get(reverse("xero:setup", args=[other.code])).status_code == 404
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 404
    user_id = client.session["_auth_user_id"]
    kinds = sorted(
        AuditEntry.objects.filter(
            kind=AuditEntry.Kind.ACCESS_REFUSED, actor_id=user_id
        ).values_list("summary", flat=True)
    )
    assert len(kinds) == 2
    assert any("(xero:setup)" in summary for summary in kinds)
    assert any("(admin:auth_user_changelist)" in summary for summary in kinds)


def test_a_scan_makes_one_row_per_page_kind_and_hour_and_counts_the_rest(
    customer_for, site, one_clock_hour
):
    client = customer_for(site)
    for number in range(40):
        assert client.get(reverse("xero:setup", args=[f"not-mine-{number}"])).status_code == 404
        assert client.get(f"/no-such-page-{number}/").status_code == 404
    user_id = int(client.session["_auth_user_id"])
    assert (
        AuditEntry.objects.filter(kind=AuditEntry.Kind.ACCESS_REFUSED, actor_id=user_id).count()
        == 2
    )
    counts = dict(RefusedAccessCount.objects.values_list("page_kind", "count"))
    assert counts == {"xero:setup": 40, "unknown": 40}


def test_strangers_and_allowed_pages_leave_no_refusal_row(client, client_for):
    client.get("/no-such-page/")
    client_for("staff").get(reverse("xero:health"))
    assert not AuditEntry.objects.filter(kind=AuditEntry.Kind.ACCESS_REFUSED).exists()
