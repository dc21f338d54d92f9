"""xero/web_app.py: token sets refreshed on expiry, rotated, under a lock; reconnect_needed;
and the connection test of a "Connect to Xero" Site, against the fake Xero."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from xero import web_app
from xero.client import XeroSession
from xero.exceptions import ReconnectNeeded
from xero.models import ConnectionTest, TokenSet
from xero.services import connection_test_run

from .connecting import connect, expire


def test_an_unexpired_access_token_is_used_without_refreshing(connected_site, web_app_xero):
    token_set = TokenSet.objects.get()

    token = web_app.access_token(token_set=token_set, session=XeroSession(site=connected_site))

    assert token == token_set.access_token
    assert web_app_xero.refresh_count == 0


def test_an_expired_token_set_is_refreshed_rotated_and_stored(connected_site, web_app_xero):
    before = TokenSet.objects.get()
    expire(web_app_xero)
    token_set = TokenSet.objects.get()

    token = web_app.access_token(token_set=token_set, session=XeroSession(site=connected_site))

    stored = TokenSet.objects.get()
    assert web_app_xero.refresh_count == 1
    assert token == stored.access_token != before.access_token
    assert stored.refresh_token != before.refresh_token
    assert stored.last_refreshed_at is not None
    assert stored.access_token_expires_at > timezone.now()


def test_invalid_grant_is_reconnect_needed_with_its_fixing_step(connected_site, web_app_xero):
    expire(web_app_xero)
    web_app_xero.fail_next("invalid_grant")

    test = connection_test_run(site=connected_site)

    assert test.outcome == "reconnect_needed"
    assert "Press “Connect to Xero” again" in test.message
    assert test.step == "open_xero"
    assert TokenSet.objects.get().refresh_failure == "reconnect_needed"
    with pytest.raises(ReconnectNeeded):
        web_app.access_token(
            token_set=TokenSet.objects.get(), session=XeroSession(site=connected_site)
        )
    assert web_app_xero.refresh_count == 0


def test_a_lost_refresh_answer_is_retried_with_the_old_token_within_the_grace(
    connected_site, web_app_xero
):
    expire(web_app_xero)
    web_app_xero.fail_next("token_lost")

    lost = connection_test_run(site=connected_site, now=timezone.now())
    ConnectionTest.objects.all().delete()
    retried = connection_test_run(site=connected_site)

    assert lost.outcome == "unreachable"
    assert retried.passed, retried.message
    assert web_app_xero.refresh_count == 2


def test_a_refresh_answer_with_a_lifetime_no_datetime_holds_keeps_the_old_pair(
    connected_site, web_app_xero
):
    expire(web_app_xero)
    before = TokenSet.objects.get()
    web_app_xero.fail_next("odd_token")

    odd = connection_test_run(site=connected_site, now=timezone.now())
    ConnectionTest.objects.all().delete()
    retried = connection_test_run(site=connected_site)

    assert odd.outcome == "unexpected_response"
    assert "whose lifetime (expires_in) is 100000000000000000000" in odd.message
    # The refresh token Xero rotated in that answer was not stored: the old one, within
    # Xero's grace, renews the pair at the next test.
    assert retried.passed, retried.message
    assert TokenSet.objects.get().refresh_token != before.refresh_token
    assert web_app_xero.refresh_count == 2


@pytest.mark.parametrize("expires_in", [True, "1800.5", -1, 0, None])
def test_a_refresh_answer_whose_lifetime_is_no_whole_number_stores_nothing(
    connected_site, web_app_xero, expires_in
):
    expire(web_app_xero)
    before = TokenSet.objects.get()
    web_app_xero.fail_next("odd_token", token={"expires_in": expires_in})

    test = connection_test_run(site=connected_site)

    assert test.outcome == "unexpected_response"
    assert "lifetime (expires_in)" in test.message
    after = TokenSet.objects.get()
    assert (after.access_token, after.refresh_token) == (before.access_token, before.refresh_token)
    assert after.access_token_expires_at == before.access_token_expires_at


@pytest.mark.django_db(transaction=True)
def test_two_workers_refreshing_one_token_set_at_once_both_succeed_with_one_refresh(
    client_for, web_site, web_app_xero
):
    connect(client_for("staff"), web_app_xero, web_site, web_app_xero.acme)
    expire(web_app_xero)
    # The refresh takes a while at Xero, so the second worker arrives while it is out.
    web_app_xero.latency = 0.3
    start = threading.Barrier(2)
    tokens, errors = [], []

    def worker():
        try:
            token_set = TokenSet.objects.get()  # each worker's own stale copy
            start.wait()
            session = XeroSession(site=web_site)
            tokens.append(web_app.access_token(token_set=token_set, session=session))
        except Exception as error:  # reported below, with the thread's failure
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(tokens) == 2 and tokens[0] == tokens[1] == TokenSet.objects.get().access_token
    assert web_app_xero.refresh_count == 1


def test_the_health_page_flags_token_sets_failing_or_near_expiry(
    client_for, connected_site, web_app_xero
):
    client = client_for("support")
    assert "needing attention" not in client.get("/xero/health/").content.decode()

    TokenSet.objects.update(refresh_token_issued_at=timezone.now() - datetime.timedelta(days=50))
    near = client.get("/xero/health/").content.decode()
    TokenSet.objects.update(refresh_failure="reconnect_needed")
    failing = client.get("/xero/health/").content.decode()

    assert "Xero connections needing attention" in near
    assert "refresh token lapses" in near and "Webby Pty Ltd" in near
    assert "Xero refused the refresh: press Connect to Xero again" in failing


def test_xero_refusing_the_warehouses_app_credentials_says_whose_settings(
    connected_site, web_app_xero, settings
):
    expire(web_app_xero)
    settings.XERO_APP_CLIENT_SECRET = "not-the-apps-secret"

    test = connection_test_run(site=connected_site)

    assert test.outcome == "app_credentials_rejected"
    assert "XERO_APP_CLIENT_ID and XERO_APP_CLIENT_SECRET" in test.message


def _refresh_in_a_process(site_pk, start, results):
    """A worker process (forked): its own database connection, its own locks."""
    from django.db import connections

    from sites.models import Site

    connections.close_all()  # never share the parent's connection
    try:
        site = Site.objects.get(pk=site_pk)
        token_set = TokenSet.objects.get()
        start.wait()
        token = web_app.access_token(token_set=token_set, session=XeroSession(site=site))
        results.put(("ok", token))
    except Exception as error:  # reported to the test
        results.put(("error", repr(error)))
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_refreshing_one_token_set_at_once_make_one_refresh(
    client_for, web_site, web_app_xero
):
    import multiprocessing

    from django.db import connections

    connect(client_for("staff"), web_app_xero, web_site, web_app_xero.acme)
    expire(web_app_xero)
    web_app_xero.latency = 0.3
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(2), context.Queue()
    connections.close_all()

    workers = [
        context.Process(target=_refresh_in_a_process, args=(web_site.pk, start, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    answers = [results.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)

    assert [status for status, _ in answers] == ["ok", "ok"], answers
    assert answers[0][1] == answers[1][1] == TokenSet.objects.get().access_token
    assert web_app_xero.refresh_count == 1
