"""Background checks: idempotent enqueueing (xero/fleet.py) and the task (xero/tasks.py)."""

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks import default_task_backend

from xero.fleet import fleet_checks_enqueue, fleet_checks_run
from xero.models import ConnectionTest, QueuedCheck
from xero.tasks import check_sites


@pytest.fixture
def dummy_tasks(settings):
    """Tasks are recorded, not run: ``dummy_tasks.results`` lists what was enqueued."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    return default_task_backend


@pytest.fixture
def make_private_site(make_site, issue_certificate, fake_xero_settings):
    """Private-application Sites the fake Xero knows, one organisation each."""
    numbers = iter(range(10**6))

    def make_private_site(**fields):
        key = f"FLEETKEY{next(numbers):022d}"
        site = make_site(api_key=key, api_secret="s" * 30, payroll_enabled=False, **fields)
        fake_xero_settings.register_private_app(key, issue_certificate(site).certificate_pem)
        return site

    return make_private_site


def batches(backend):
    return [result.kwargs["batch"] for result in backend.results]


def test_enqueueing_twice_queues_each_site_once(make_site, dummy_tasks):
    sites = [make_site() for _ in range(3)]
    assert fleet_checks_enqueue() == 3
    assert fleet_checks_enqueue() == 0
    assert len(dummy_tasks.results) == 1
    assert QueuedCheck.objects.filter(batch=batches(dummy_tasks)[0]).count() == 3
    newcomer = make_site()
    assert fleet_checks_enqueue(site_ids=[sites[0].pk, newcomer.pk]) == 1
    assert len(dummy_tasks.results) == 2


def test_a_site_can_be_queued_again_once_its_check_started(site, dummy_tasks, settings):
    settings.XERO_MAX_CONCURRENT_CALLS = 1
    fleet_checks_enqueue()
    fleet_checks_run(batch=batches(dummy_tasks)[0])
    assert fleet_checks_enqueue() == 1


def test_a_check_whose_task_was_lost_is_queued_again_after_the_timeout(site, dummy_tasks):
    long_ago = timezone.now() - datetime.timedelta(hours=2)
    assert fleet_checks_enqueue(now=long_ago) == 1
    assert fleet_checks_enqueue() == 1
    assert len(dummy_tasks.results) == 2
    # The lost batch finds nothing left to run.
    assert fleet_checks_run(batch=batches(dummy_tasks)[0]) == {}


def test_the_task_tests_each_queued_site_and_counts_the_outcomes(
    make_private_site, make_site, dummy_tasks, settings
):
    settings.XERO_MAX_CONCURRENT_CALLS = 1
    passing = make_private_site()
    unconfigured = make_site()
    fleet_checks_enqueue()
    assert check_sites.call(batch=batches(dummy_tasks)[0]) == {
        "ok": 1,
        "credentials_missing": 1,
    }
    assert ConnectionTest.objects.get(site=passing).passed
    assert not QueuedCheck.objects.filter(site=unconfigured).exists()


def test_a_bulk_check_waits_out_xeros_rate_limit_instead_of_failing(
    make_private_site, dummy_tasks, settings, fake_xero_settings
):
    settings.XERO_MAX_CONCURRENT_CALLS = 1
    site = make_private_site()
    fake_xero_settings.fail_next("rate_limit_minute", retry_after=1)
    fleet_checks_enqueue()
    assert fleet_checks_run(batch=batches(dummy_tasks)[0]) == {"ok": 1}
    assert list(ConnectionTest.objects.filter(site=site).values_list("outcome", flat=True)) == [
        "ok"
    ]


@pytest.mark.django_db(transaction=True)
def test_a_bulk_run_tests_sites_side_by_side_within_the_cap(
    make_private_site, dummy_tasks, settings, fake_xero_settings
):
    settings.XERO_MAX_CONCURRENT_CALLS = 4
    fake_xero_settings.latency = 0.3
    fake_xero_settings.enforce_limits = True
    for _ in range(8):
        make_private_site()
    fleet_checks_enqueue()
    assert fleet_checks_run(batch=batches(dummy_tasks)[0]) == {"ok": 8}
    # Side by side, as the fake counted the calls in flight; never more than the cap.
    # (How much faster that is belongs to benchmarks/bench_fleet.py.)
    assert 1 < fake_xero_settings.max_concurrent <= 4


def test_the_cron_command_queues_every_site_once(make_site, dummy_tasks, capsys):
    make_site(), make_site()
    call_command("xero_check_fleet")
    call_command("xero_check_fleet")
    assert capsys.readouterr().out.splitlines() == [
        "Queued 2 Site checks.",
        "Queued 0 Site checks.",
    ]
    assert len(dummy_tasks.results) == 1


def test_the_default_backend_keeps_tasks_in_the_database(make_site):
    from django_tasks_db.models import DBTaskResult

    make_site()
    fleet_checks_enqueue()
    assert DBTaskResult.objects.get().task_path == "xero.tasks.check_sites"
