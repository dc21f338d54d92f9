"""What the health page lists (xero/selectors.py): filters and search."""

import datetime

import pytest
from django.utils import timezone

from xero.models import ConnectionTest
from xero.selectors import site_health_list


def record(site, outcome, minutes_ago=10):
    return ConnectionTest.objects.create(
        site=site,
        outcome=outcome,
        connection_type=site.connection_type,
        started_at=timezone.now() - datetime.timedelta(minutes=minutes_ago),
    )


@pytest.fixture
def fleet(make_site, issue_certificate):
    failing = make_site(name="Failing Ltd", xero_organisation_name="Failing Org")
    record(failing, "ok", 20)
    record(failing, "signature_invalid", 10)
    recovered = make_site(name="Recovered Ltd")
    record(recovered, "forbidden", 20)
    record(recovered, "ok", 10)
    never = make_site(name="Never Ltd")
    expiring = make_site(name="Expiring Ltd", code="exp-syd")
    issue_certificate(expiring, days=30)
    record(expiring, "ok")
    healthy = make_site(name="Healthy Ltd")
    issue_certificate(healthy, days=400)
    record(healthy, "ok")
    return {"failing": failing, "recovered": recovered, "never": never, "expiring": expiring}


def names(sites):
    return [site.name for site in sites]


def test_failing_lists_sites_whose_last_test_failed(fleet):
    assert names(site_health_list(filter="failing")) == ["Failing Ltd"]


def test_never_tested_lists_sites_without_a_test(fleet):
    assert names(site_health_list(filter="never")) == ["Never Ltd"]


def test_expiring_lists_active_certificates_in_their_last_60_days(fleet):
    assert names(site_health_list(filter="expiring")) == ["Expiring Ltd"]


def test_no_filter_lists_every_site_by_name_with_its_last_test(fleet):
    sites = list(site_health_list())
    assert names(sites) == [
        "Expiring Ltd", "Failing Ltd", "Healthy Ltd", "Never Ltd", "Recovered Ltd",
    ]  # fmt: skip
    by_name = {site.name: site for site in sites}
    assert by_name["Failing Ltd"].last_test_outcome == "signature_invalid"
    assert by_name["Recovered Ltd"].last_test_outcome == "ok"
    assert by_name["Never Ltd"].last_test_at is None
    assert by_name["Expiring Ltd"].active_certificate_expires is not None


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("failing l", ["Failing Ltd"]),
        ("EXP-SYD", ["Expiring Ltd"]),
        ("failing org", ["Failing Ltd"]),
    ],
)
def test_search_matches_name_code_or_organisation(fleet, search, expected):
    assert names(site_health_list(search=search)) == expected


def test_filter_and_search_combine(fleet):
    assert names(site_health_list(filter="failing", search="healthy")) == []


def test_failing_leaves_out_a_site_whose_last_test_met_a_rate_limit(fleet, make_site):
    # The same rule as the alerts: Xero asking us to slow down says nothing about the Site.
    limited = make_site(name="Limited Ltd")
    record(limited, "rate_limited")
    assert names(site_health_list(filter="failing")) == ["Failing Ltd"]


def test_selectors_only_read_they_take_no_request_and_build_no_form():
    import inspect

    from xero import selectors

    for name, function in inspect.getmembers(selectors, inspect.isfunction):
        if function.__module__ == selectors.__name__:
            assert "request" not in inspect.signature(function).parameters, name
    assert not any(
        inspect.ismodule(value) and value.__name__.endswith("forms")
        for value in vars(selectors).values()
    )
    assert "Form" not in " ".join(vars(selectors))


@pytest.mark.django_db
def test_skipped_counts_count_paused_sites_and_sites_tested_daily_that_are_not_paused(make_site):
    from xero.models import CircuitBreaker, SitePause
    from xero.selectors import fleet_skipped_counts

    paused, both, daily, _ = (make_site(name=name) for name in ("P", "B", "D", "Untouched"))
    tomorrow = timezone.now() + datetime.timedelta(days=1)
    for site in (paused, both):
        SitePause.objects.create(site=site, reason="Closed for the season")
    for site in (both, daily):
        CircuitBreaker.objects.create(site=site, outcome="forbidden", next_check_at=tomorrow)

    assert fleet_skipped_counts() == {"paused": 2, "tested_daily": 1}


@pytest.mark.django_db
def test_skipped_counts_are_zero_when_nothing_is_skipped(make_site):
    from xero.selectors import fleet_skipped_counts

    make_site(name="Untouched")

    assert fleet_skipped_counts() == {"paused": 0, "tested_daily": 0}
