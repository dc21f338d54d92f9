"""/metrics (operations/metrics.py): Prometheus' text format behind a bearer
token, read from the database at scrape time."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from operations import counters
from operations.heartbeat import beat
from sites.models import Site
from tests.accounts.test_views import sign_in
from xero.models import ConnectionTest

TOKEN = "metrics-token-for-tests-0123456789"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client) -> dict[str, float]:
    """Every sample as ``name{label="value",…}`` → value (labels sorted)."""
    response = client.get("/metrics", HTTP_HOST="10.0.0.9", **AUTH)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[counters.key(sample.name, sample.labels)] = sample.value
    return samples


def test_metrics_answer_404_without_a_configured_token(client, db, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", **AUTH).status_code == 404


@pytest.mark.parametrize(
    "authorization", ["", "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"]
)
def test_metrics_answer_401_to_a_missing_or_wrong_token(client, db, metrics_token, authorization):
    response = client.get("/metrics", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 401
    assert b"warehouse_" not in response.content


def test_metrics_need_no_session_or_second_factor(client, db, metrics_token):
    assert "warehouse_sites_failing" in scrape(client)


def test_metrics_name_every_family_the_operator_needs(client, db, metrics_token, site):
    beat(worker="w1", started_at=timezone.now())
    text = client.get("/metrics", **AUTH).content.decode()
    for family in (
        "warehouse_sites{",
        "warehouse_sites_by_last_outcome{",
        "warehouse_sites_failing ",
        "warehouse_connection_tests_total",
        "warehouse_xero_call_duration_seconds_bucket",
        "warehouse_xero_rate_limited_total",
        "warehouse_xero_calls_left",
        "warehouse_queued_checks ",
        "warehouse_oldest_queued_check_age_seconds ",
        "warehouse_workers_alive ",
        "warehouse_worker_last_heartbeat_age_seconds ",
        "warehouse_token_sets_needing_attention ",
        "warehouse_lockouts_total",
        "warehouse_sign_in_failures_total",
    ):
        assert family in text, family
    assert site.code not in text and site.name not in text


def recorded(site, **fields) -> ConnectionTest:
    """A test's row, recorded as the test's service records it."""
    test = ConnectionTest.objects.create(site=site, **fields)
    counters.connection_test(test=test, started_by="command")
    return test


def test_sites_are_counted_by_type_and_by_last_outcome(client, metrics_token, make_site):
    passing, failing, _never = make_site(), make_site(), make_site()
    web = make_site(connection_type=Site.ConnectionType.WEB_APP)
    long_ago = timezone.now() - datetime.timedelta(days=2)
    recorded(failing, outcome="signature_invalid")
    # Finishing later than a newer test (a slow fleet thread) does not hide the newer one.
    recorded(failing, outcome="ok", started_at=long_ago)
    recorded(passing, outcome="signature_invalid", started_at=long_ago)
    recorded(passing, outcome="ok", minute_limit_remaining=41, day_limit_remaining=4000)
    recorded(web, outcome="ok", minute_limit_remaining=55, day_limit_remaining=3000)

    samples = scrape(client)

    assert samples['warehouse_sites{connection_type="web_app"}'] == 1
    default_type = Site().connection_type
    assert samples[f'warehouse_sites{{connection_type="{default_type}"}}'] == 3
    assert samples['warehouse_sites_by_last_outcome{outcome="ok"}'] == 2
    assert samples['warehouse_sites_by_last_outcome{outcome="signature_invalid"}'] == 1
    assert samples['warehouse_sites_by_last_outcome{outcome="never_tested"}'] == 1
    assert samples["warehouse_sites_failing"] == 1
    assert samples['warehouse_xero_calls_left{limit="minute"}'] == 41
    assert samples['warehouse_xero_calls_left{limit="day"}'] == 3000


def test_a_test_from_the_button_counts_its_outcome_origin_and_xero_calls(
    client_for, metrics_token, private_site, settings
):
    settings.XERO_TEST_COOLDOWN = 0
    client = client_for("support")
    client.post(reverse("xero:connection_test", args=[private_site.code]))
    call_command("xero_test_connection", private_site.code, stdout=io.StringIO())

    samples = scrape(client)

    assert samples['warehouse_connection_tests_total{outcome="ok",started_by="button"}'] == 1
    assert samples['warehouse_connection_tests_total{outcome="ok",started_by="command"}'] == 1
    calls = samples["warehouse_xero_call_duration_seconds_count"]
    assert calls >= 2
    assert samples['warehouse_xero_call_duration_seconds_bucket{le="+Inf"}'] == calls
    assert samples["warehouse_xero_call_duration_seconds_sum"] > 0


def test_a_rate_limited_answer_is_counted(client_for, metrics_token, private_site, fake_xero):
    client = client_for("support")
    fake_xero.fail_next("rate_limit_minute", retry_after=30)
    client.post(reverse("xero:connection_test", args=[private_site.code]))

    samples = scrape(client)

    assert samples["warehouse_xero_rate_limited_total"] == 1
    assert (
        samples['warehouse_connection_tests_total{outcome="rate_limited",started_by="button"}'] == 1
    )


def test_lockouts_and_failed_second_factors_are_counted(client, make_user, metrics_token):
    from accounts.models import TOTPDevice
    from tests.accounts.test_views import VERIFY
    from tests.second_factor import wrong_code

    user = make_user("Staff")
    for _ in range(4):
        sign_in(client, user, password="wrong")
    sign_in(client, user)
    client.post(VERIFY, {"code": wrong_code(TOTPDevice.objects.get(user=user))})

    samples = scrape(client)

    assert samples['warehouse_sign_in_failures_total{factor="password"}'] == 4
    assert samples['warehouse_sign_in_failures_total{factor="second_factor"}'] == 1
    assert samples["warehouse_lockouts_total"] == 1


def test_counters_add_across_calls_in_one_statement(db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        counters.add_many({"a_total": 1, 'b_total{x="1"}': 2.5})
        counters.add("a_total")
        assert not queries.captured_queries, "added up in the process first"
        counters.flush()
    assert len([q for q in queries if "INSERT" in q["sql"]]) == 1
    counters.add("a_total")
    counters.add("a_total", amount=-1)
    assert counters.values() == {"a_total": 2.0, 'b_total{x="1"}': 2.5}


def test_a_worker_writes_its_counts_when_a_task_ends(db, settings):
    from operations.models import Counter
    from xero.tasks import check_chunk

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    counters.add("lockouts_total")
    check_chunk.enqueue(chunk="00000000-0000-0000-0000-000000000009")

    assert Counter.objects.get(key="lockouts_total").value == 1


def test_queue_and_heartbeat_gauges(client, metrics_token, site):
    from xero.models import QueuedCheck

    QueuedCheck.objects.create(
        site=site,
        batch="00000000-0000-0000-0000-000000000001",
        chunk="00000000-0000-0000-0000-000000000002",
        queued_at=timezone.now() - datetime.timedelta(seconds=120),
    )
    beat(worker="w1", started_at=timezone.now())
    samples = scrape(client)
    assert samples["warehouse_queued_checks"] == 1
    assert 119 < samples["warehouse_oldest_queued_check_age_seconds"] < 180
    assert samples["warehouse_workers_alive"] == 1


def test_the_migration_fills_each_sites_last_outcome_from_the_history(db, make_site):
    import importlib

    from django.apps import apps

    from operations.models import SiteHealth

    site, other = make_site(), make_site()
    ConnectionTest.objects.create(
        site=site, outcome="ok", started_at=timezone.now() - datetime.timedelta(hours=1)
    )
    ConnectionTest.objects.create(site=site, outcome="timeout", day_limit_remaining=7)
    migration = importlib.import_module("operations.migrations.0002_hprod_sitehealth")
    migration.backfill(apps, None)
    health = SiteHealth.objects.get()
    assert (health.site_id, health.outcome, health.day_limit_remaining) == (site.pk, "timeout", 7)
    assert not SiteHealth.objects.filter(site=other).exists()
