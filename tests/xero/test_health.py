"""The health page (/xero/health/): who sees it, who may queue tests, and its cost."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks import default_task_backend

from sites.models import Site
from xero.models import ConnectionTest, QueuedCheck

from .test_tasks import TimingOutBackend

URL = "/xero/health/"


@pytest.fixture
def dummy_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    return default_task_backend


def record(site, outcome):
    return ConnectionTest.objects.create(
        site=site,
        outcome=outcome,
        connection_type=site.connection_type,
        started_at=timezone.now() - datetime.timedelta(minutes=5),
    )


def test_the_url_is_named():
    assert reverse("xero:health") == URL


@pytest.mark.parametrize(
    ("role", "status"),
    [("superuser", 200), ("admins", 200), ("staff", 200), ("support", 200), ("nobody", 403)],
)
def test_everyone_who_sees_sites_sees_the_health_page(client_for, site, role, status):
    response = client_for(role).get(URL)
    assert response.status_code == status
    if status == 200:
        assert "Acme Pty Ltd" in response.text
        assert 'id="user-tools"' in response.text  # the admin's own header


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("superuser", True), ("admins", True), ("support", True), ("staff", False), ("nobody", False)],
)
def test_only_roles_that_run_tests_may_queue_them(client_for, site, dummy_tasks, role, allowed):
    client = client_for(role)
    page = client.get(URL)
    response = client.post(URL, {"action": "test_selected", "sites": [site.pk]})
    assert response.status_code == (302 if allowed else 403)
    assert QueuedCheck.objects.filter(site=site).exists() == allowed
    assert len(dummy_tasks.results) == int(allowed)
    if page.status_code == 200:
        assert ("Test selected" in page.text) == allowed


def test_test_all_failing_queues_only_the_failing_sites(client_for, make_site, dummy_tasks):
    failing, passing, _never = make_site(), make_site(), make_site()
    record(failing, "timeout")
    record(passing, "ok")
    response = client_for("support").post(URL, {"action": "test_failing"}, follow=True)
    assert list(QueuedCheck.objects.values_list("site", flat=True)) == [failing.pk]
    assert "Queued 1 Site test" in response.text


def test_an_enqueue_the_queue_did_not_confirm_is_said_and_stays_queued(client_for, site, settings):
    settings.TASKS = {"default": {"BACKEND": "tests.xero.test_tasks.TimingOutBackend"}}
    TimingOutBackend.accept = 0
    response = client_for("support").post(
        URL, {"action": "test_selected", "sites": [site.pk]}, follow=True
    )
    assert "did not confirm 1 of the 1 Site checks" in response.text
    assert QueuedCheck.objects.filter(site=site).exists()


def test_test_selected_without_a_selection_says_so(client_for, site, dummy_tasks):
    response = client_for("support").post(URL, {"action": "test_selected"}, follow=True)
    assert "Select the Sites to test first." in response.text
    assert not QueuedCheck.objects.exists()


def test_queueing_needs_the_csrf_token(make_user, log_in, site, dummy_tasks):
    from django.test import Client

    csrf_client = log_in(Client(enforce_csrf_checks=True), make_user("Support"))
    response = csrf_client.post(URL, {"action": "test_selected", "sites": [site.pk]})
    assert response.status_code == 403
    assert not QueuedCheck.objects.exists()


def test_the_page_is_paginated_and_keeps_the_filter(client_for, db):
    Site.objects.bulk_create(Site(name=f"Bulk {n:03}", code=f"bulk-{n}") for n in range(120))
    client = client_for("staff")
    first = client.get(URL, {"filter": "never"})
    assert "Page 1 of 2" in first.text
    assert "filter=never&amp;page=2" in first.text
    second = client.get(URL, {"filter": "never", "page": 2})
    assert len(second.context["page"].object_list) == 20


def test_the_number_of_queries_does_not_grow_with_the_sites(
    client_for, make_site, issue_certificate, django_assert_max_num_queries
):
    client = client_for("support")
    few = make_site()
    issue_certificate(few)
    record(few, "ok")
    client.get(URL)  # session and permissions cached the same way in both counts
    # Nine, plus one for the Xero incident shown at the top, one for the Sites paused and
    # tested daily (counted apart), and three for the app's tier (organisations bound,
    # organisations bound to none, whether the user is an Admin who may disconnect them).
    with django_assert_max_num_queries(14) as small:
        client.get(URL)
    for _ in range(20):
        site = make_site()
        issue_certificate(site, days=30)
        record(site, "ok")
        record(site, "forbidden")
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(URL)
    assert len(response.context["page"].object_list) == 21


@pytest.mark.parametrize("site_id", [str(2**63), str(2**64), "9" * 40, "-1", "1e9", "١"])
def test_a_site_id_out_of_range_gets_a_plain_message_not_a_500(
    client_for, site, dummy_tasks, site_id
):
    response = client_for("support").post(
        URL, {"action": "test_selected", "sites": [site_id]}, follow=True
    )
    assert response.status_code == 200
    assert "is not a Site" in response.text
    assert not QueuedCheck.objects.exists()


def test_the_largest_possible_site_id_is_simply_not_queued(client_for, site, dummy_tasks):
    response = client_for("support").post(
        URL, {"action": "test_selected", "sites": [str(2**63 - 1), str(site.pk)]}, follow=True
    )
    assert response.status_code == 200
    assert list(QueuedCheck.objects.values_list("site", flat=True)) == [site.pk]


def test_the_health_page_shows_outcome_labels_not_codes(client_for, site):
    record(site, "consumer_key_unknown")
    page = client_for("staff").get(URL).content.decode()
    assert "✗ Consumer Key unknown" in page
    assert "consumer_key_unknown" not in page
