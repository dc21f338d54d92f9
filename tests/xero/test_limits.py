"""Xero's call limits (xero/limits.py), checked against the fake Xero counting calls."""

import threading
import time

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.db.models import Max

from xero import limits
from xero.connection import xero_session
from xero.exceptions import ConnectionTestFailed, RateLimited
from xero.models import CallSlot


def organisation_url():
    return settings.XERO_API_URL + "Organisation"


def api_calls(fake):
    return [call for call in fake.calls if call.path.endswith("/Organisation")]


def test_a_click_past_sixty_calls_a_minute_is_refused_without_reaching_xero(
    private_site, fake_xero_settings
):
    session = xero_session(private_site)
    for _ in range(limits.MINUTE_LIMIT):
        session.get_json(organisation_url())
    started = time.monotonic()
    with pytest.raises(RateLimited) as refused:
        session.get_json(organisation_url())
    assert time.monotonic() - started < 1
    assert 1 <= refused.value.retry_after <= limits.WINDOW_SECONDS + 1
    assert "60-calls-a-minute" in refused.value.message
    assert len(api_calls(fake_xero_settings)) == limits.MINUTE_LIMIT


def test_each_site_has_its_own_minute_window(
    private_site, make_site, issue_certificate, fake_xero_settings, monkeypatch
):
    monkeypatch.setattr(limits, "MINUTE_LIMIT", 2)
    other = make_site(api_key="OTHERKEY1234567890ABCDEFGHIJ", api_secret="x" * 30)
    fake_xero_settings.register_private_app(other.api_key, issue_certificate(other).certificate_pem)
    first, second = xero_session(private_site), xero_session(other)
    for _ in range(2):
        first.get_json(organisation_url())
    with pytest.raises(RateLimited):
        first.get_json(organisation_url())
    assert second.get_json(organisation_url())["Organisations"]


def test_a_fleet_check_waits_for_the_window_and_never_sends_more_than_the_limit_in_it(
    private_site, fake_xero_settings, monkeypatch
):
    monkeypatch.setattr(limits, "MINUTE_LIMIT", 3)
    monkeypatch.setattr(limits, "WINDOW_SECONDS", 0.5)
    minute_slots = CallSlot.objects.filter(key__startswith=f"xero:site:{private_site.pk}:minute:")
    session = xero_session(private_site)
    lapses = []
    with limits.waiting():
        for _ in range(7):
            session.get_json(organisation_url())
            # The slot this call took is the one that lapses last.
            lapses.append(minute_slots.aggregate(last=Max("expires_at"))["last"])
    received = sorted(call.time for call in api_calls(fake_xero_settings))
    assert len(received) == len(set(lapses)) == 7
    # Each call beyond the limit went out only once the slot of the call `limit` before
    # it had lapsed (Xero saw it then or later): never 4 calls in one window. No margin:
    # a slot is taken by a statement that only overwrites a lapsed one.
    assert all(later >= lapsed for lapsed, later in zip(lapses, received[3:], strict=False)), list(
        zip(lapses, received[3:], strict=False)
    )


def test_a_fleet_check_waits_what_retry_after_says_then_sends_again(
    private_site, fake_xero_settings
):
    fake_xero_settings.fail_next("rate_limit_minute", retry_after=1)
    session = xero_session(private_site)
    with limits.waiting():
        body = session.get_json(organisation_url())
    assert body["Organisations"]
    refused, answered = api_calls(fake_xero_settings)
    assert (refused.status, answered.status) == (429, 200)
    assert answered.time - refused.time >= 0.95


def test_a_click_reports_xeros_rate_limit_at_once(private_site, fake_xero_settings):
    fake_xero_settings.fail_next("rate_limit_minute", retry_after=30)
    session = xero_session(private_site)
    started = time.monotonic()
    with pytest.raises(RateLimited) as refused:
        session.get_json(organisation_url())
    assert time.monotonic() - started < 1
    assert refused.value.retry_after == 30
    assert len(api_calls(fake_xero_settings)) == 1


def test_a_fleet_check_gives_up_on_a_wait_longer_than_it_is_worth(private_site, fake_xero_settings):
    fake_xero_settings.fail_next("rate_limit_day", retry_after=3600)
    session = xero_session(private_site)
    with limits.waiting(), pytest.raises(RateLimited):
        session.get_json(organisation_url())


def test_without_retry_after_a_fleet_check_backs_off_more_each_time(settings):
    limited = RateLimited(retry_after=None)
    assert limits.pause_after(limited, 0) is None  # a click never waits
    with limits.waiting():
        first, third = limits.pause_after(limited, 0), limits.pause_after(limited, 2)
        assert 1 <= first <= 1.5
        assert 4 <= third <= 6
        assert limits.pause_after(limited, settings.XERO_RATE_LIMIT_RETRIES) is None


@pytest.mark.django_db(transaction=True)
def test_calls_at_once_stay_within_five_per_site_and_the_global_cap(
    private_site, make_site, issue_certificate, fake_xero_settings, settings
):
    settings.XERO_MAX_CONCURRENT_CALLS = 7
    fake = fake_xero_settings
    fake.latency = 0.2
    fake.enforce_limits = True
    other = make_site(api_key="OTHERKEY1234567890ABCDEFGHIJ", api_secret="x" * 30)
    fake.register_private_app(other.api_key, issue_certificate(other).certificate_pem)
    statuses = []

    def call(site):
        try:
            with limits.waiting():
                xero_session(site).get_json(organisation_url())
            statuses.append(200)
        except RateLimited:
            statuses.append(429)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=call, args=(site,))
        for site in (private_site, other)
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 16
    assert [call.status for call in fake.calls] == [200] * 16
    assert max(fake.max_concurrent_per_organisation.values()) <= 5
    assert fake.max_concurrent <= 7


def test_a_slot_has_one_holder_until_it_lapses(db, monkeypatch):
    first, second = limits._SlotTable(), limits._SlotTable()
    second.holder = "another process"
    assert first.add("xero:test:0", 60)
    assert not second.add("xero:test:0", 60)
    second.delete("xero:test:0")  # not its slot: nothing happens
    assert not second.add("xero:test:0", 60)
    assert not second.touch("xero:test:0", 60)
    now = time.time()
    monkeypatch.setattr(limits.time, "time", lambda: now + 61)
    assert second.add("xero:test:0", 60)
    assert not first.touch("xero:test:0", 60)  # its lease lapsed and the slot moved on


def test_a_call_with_the_minute_full_and_every_concurrency_slot_held_is_rate_limited(
    private_site, fake_xero_settings, monkeypatch
):
    # Both the minute window and the Site's concurrency slots are taken by others (other
    # tests of the same Site at once): the call wins no slot, gives back none, and is told
    # rate limited (on PostgreSQL a give-back of no slots was ``IN ()``, a syntax error).
    monkeypatch.setattr(limits, "MINUTE_LIMIT", 2)
    others = limits._SlotTable()
    others.holder = "another process"
    organisation = f"xero:site:{private_site.pk}"
    for slot in range(2):
        assert others.add(f"{organisation}:minute:{slot}", 60)
    for slot in range(limits.CONCURRENT_PER_ORGANISATION):
        assert others.add(f"{organisation}:concurrent:{slot}", 60)
    # As a fleet thread does, holding a global slot for its run: only the Site's slots
    # are asked for.
    with limits.global_slot(), pytest.raises(RateLimited) as refused:
        xero_session(private_site).get_json(organisation_url())
    assert refused.value.retry_after >= 1
    assert api_calls(fake_xero_settings) == []


def test_giving_back_no_slots_sends_no_statement(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        limits._SlotTable().delete_many([])


@pytest.mark.django_db(transaction=True)
def test_calls_given_up_on_still_count_at_xero_and_no_limit_is_exceeded_there(
    private_site, make_site, issue_certificate, fake_xero_settings, settings
):
    # Xero answers after 1.5 s; we give up after 0.5 s, and Xero goes on with the call
    # until it answers (the fake counts it in flight, as Xero does). Our slots must count
    # it as long as Xero may.
    settings.XERO_MAX_CONCURRENT_CALLS = 6
    settings.XERO_CONNECT_TIMEOUT = 0.25
    settings.XERO_READ_TIMEOUT = 0.25
    settings.XERO_ABANDONED_CALL_SECONDS = 2.0
    fake = fake_xero_settings
    fake.latency = 1.5
    fake.enforce_limits = True
    other = make_site(api_key="OTHERKEY1234567890ABCDEFGHIJ", api_secret="x" * 30)
    fake.register_private_app(other.api_key, issue_certificate(other).certificate_pem)
    outcomes = []

    def calls(site):
        try:
            for _ in range(3):
                try:
                    xero_session(site).get_json(organisation_url())
                except ConnectionTestFailed as failure:
                    outcomes.append(failure.code)
                except OperationalError:
                    # The slot row's lock outwaited the call's deadline: the connection
                    # test service names this "warehouse_busy" (xero/services.py).
                    outcomes.append("warehouse_busy")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=calls, args=(site,))
        for site in (private_site, other)
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "timeout" in outcomes  # the calls were given up on
    assert 429 not in [call.status for call in fake.calls]  # Xero never refused one
    assert max(fake.max_concurrent_per_organisation.values()) <= 5
    assert fake.max_concurrent <= 6


def test_a_fleet_thread_gives_a_calls_slots_back_in_its_next_calls_take(
    private_site, make_site, issue_certificate, fake_xero_settings, django_assert_num_queries
):
    other = make_site(api_key="OTHERKEY1234567890ABCDEFGHIJ", api_secret="x" * 30)
    fake_xero_settings.register_private_app(other.api_key, issue_certificate(other).certificate_pem)
    first, second = xero_session(private_site), xero_session(other)

    def held(site, kind):
        return CallSlot.objects.filter(
            key__startswith=f"xero:site:{site.pk}:{kind}:", expires_at__gt=time.time()
        )

    with limits.waiting(), limits.global_slot():
        first.get_json(organisation_url())
        ended = time.time()
        # Still counted until the thread's next call: never less than the call lasted.
        assert held(private_site, "concurrent").count() == 1
        with django_assert_num_queries(1):  # the take, and the first call's give-back
            second.get_json(organisation_url())
        assert held(private_site, "concurrent").count() == 0
        assert held(other, "concurrent").count() == 1
        # The minute slot counts a window from the call's end, as a give-back at once does.
        minute = held(private_site, "minute").get()
        assert minute.expires_at >= ended - 1 + limits.WINDOW_SECONDS
    # The block's end gives back the last call's slots and the thread's global slot.
    assert held(other, "concurrent").count() == 0
    assert not CallSlot.objects.filter(
        key__startswith=limits.GLOBAL_CONCURRENT, expires_at__gt=time.time()
    ).exists()
