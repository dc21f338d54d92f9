"""The connection test's outcome vocabulary (xero/models.py): one code, label and tone each."""

import pytest

from xero import exceptions
from xero.models import ConnectionTest

Outcome = ConnectionTest.Outcome


def test_every_failure_a_test_can_record_is_an_outcome_with_its_own_label():
    for failure in exceptions.connection_test_failures():
        assert Outcome(failure.code).label == failure.label
        # Each class words its own label: a subclass never inherits its parent's.
        assert "label" in vars(failure), failure.__name__


def test_the_outcomes_no_exception_names_are_members_too():
    for code in ("ok", "running", "interrupted", "internal_error", "skipped", "cooldown"):
        assert code in Outcome.values


def test_no_two_outcomes_read_the_same():
    assert len(set(Outcome.labels)) == len(Outcome.labels)


@pytest.mark.parametrize(
    ("outcome", "failing"),
    [
        ("ok", False),
        ("running", False),
        ("interrupted", False),
        ("rate_limited", False),
        ("signature_invalid", True),
        ("timeout", True),
        ("internal_error", True),
        ("a_code_no_longer_known", True),
    ],
)
def test_failing_is_a_verdict_other_than_a_pass(outcome, failing):
    assert Outcome.is_failing(outcome) is failing
    assert ConnectionTest(outcome=outcome).failing is failing


@pytest.mark.parametrize(
    ("outcome", "icon", "tone"),
    [("ok", "✓", "ok"), ("forbidden", "✗", "failed"), ("running", "", "neutral")],
)
def test_each_outcome_has_one_icon_and_colour(outcome, icon, tone):
    assert (Outcome.icon_of(outcome), Outcome.tone_of(outcome)) == (icon, tone)


def test_a_code_no_longer_known_reads_as_itself():
    assert ConnectionTest(outcome="gone_code").outcome_label == "gone_code"


def test_one_rule_orders_current_certificates_in_the_database_and_in_memory(
    site, issue_certificate
):
    from xero.models import Certificate

    retired = issue_certificate(site)
    active = issue_certificate(site)
    Certificate.objects.filter(pk=retired.pk).update(state="retired")
    Certificate.objects.filter(pk=active.pk).update(state="active")
    pending = issue_certificate(site)
    assert list(site.certificates.current()) == [pending, active]
    assert Certificate.current_order(site.certificates.all()) == [pending, active]
    assert site.certificates.to_paste() == pending


@pytest.mark.django_db
def test_save_result_writes_every_field_and_tells_the_save_listeners(site):
    from django.db.models.signals import post_save

    test = ConnectionTest.objects.create(site=site, connection_type=site.connection_type)
    heard = []

    def listener(sender, instance, created, **kwargs):
        heard.append((instance.pk, created, instance.outcome))

    post_save.connect(listener, sender=ConnectionTest)
    try:
        test.outcome = Outcome.OK
        test.organisation_name = "Acme Pty Ltd"
        test.is_demo_company = False
        test.minute_limit_remaining = 59
        test.save_result()
    finally:
        post_save.disconnect(listener, sender=ConnectionTest)

    row = ConnectionTest.objects.get()
    assert (row.pk, row.outcome, row.organisation_name) == (test.pk, "ok", "Acme Pty Ltd")
    assert (row.is_demo_company, row.minute_limit_remaining) == (False, 59)
    assert heard == [(test.pk, False, "ok")]


@pytest.mark.django_db
def test_save_result_of_a_row_deleted_meanwhile_inserts_it_as_save_does(site):
    test = ConnectionTest.objects.create(site=site, connection_type=site.connection_type)
    ConnectionTest.objects.all().delete()
    test.outcome = Outcome.OK

    test.save_result()

    assert ConnectionTest.objects.get(pk=test.pk).outcome == "ok"


@pytest.mark.django_db
def test_save_result_of_a_row_read_in_part_writes_only_what_was_read_as_save_does(site):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ConnectionTest.objects.create(
        site=site, connection_type=site.connection_type, organisation_name="Acme Pty Ltd"
    )
    test = ConnectionTest.objects.only("pk", "outcome").get()
    test.outcome = Outcome.OK

    with CaptureQueriesContext(connection) as captured:
        test.save_result()

    # First an UPDATE of the field read, not a read of each deferred field to write it back
    # (what follows is the save listeners').
    first = captured.captured_queries[0]["sql"]
    assert first.startswith("UPDATE") and "organisation_name" not in first

    row = ConnectionTest.objects.get()
    assert (row.outcome, row.organisation_name) == ("ok", "Acme Pty Ltd")
