"""``/metrics``: the Warehouse in Prometheus' text format (prometheus-client).

Read from the database at scrape time by one custom collector, so every web process
answers the same figures and no process keeps state of its own: gauges from the tables
(Sites, queued checks, certificates, token sets, heartbeats) and counters from
``operations_counter`` (``counters.py``), which every process adds to. prometheus-client
rather than django-prometheus: the latter instruments each process's own requests and
models in memory (multiprocess mode for gunicorn) and knows nothing of our domain; here
only the text format and the metric types are needed.
"""

import datetime
import hmac
import re
import time
from collections import defaultdict
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from . import counters
from .heartbeat import worker_heartbeats
from .models import SiteHealth

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NEVER_TESTED = "never_tested"

_KEY = re.compile(r"(?P<name>\w+)(?:\{(?P<labels>.*)\})?")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def token_accepted(authorization: str) -> bool:
    """``Authorization: Bearer <METRICS_TOKEN>``, compared in constant time."""
    expected = settings.METRICS_TOKEN
    scheme, _, given = authorization.partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def parse_key(key: str) -> tuple[str, dict[str, str]]:
    match = _KEY.fullmatch(key)
    if match is None:
        return key, {}
    labels = {
        name: value.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        for name, value in _LABEL.findall(match["labels"] or "")
    }
    return match["name"], labels


def _days(delta: datetime.timedelta) -> float:
    return round(delta.total_seconds() / 86400, 2)


class WarehouseCollector:
    """Every metric, read when Prometheus scrapes."""

    def __init__(self, *, now: datetime.datetime | None = None) -> None:
        self.now = now or timezone.now()

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        counters.flush()  # this process's own counts first
        yield from self.sites()
        yield from self.counted()
        yield from self.calls_left()
        yield from self.queue()
        yield from self.outbox()
        yield from self.workers()
        yield from self.expiries()
        yield GaugeMetricFamily(
            "warehouse_metrics_scrape_seconds",
            "How long reading these metrics from the database took.",
            value=round(time.perf_counter() - started, 4),
        )

    def sites(self) -> Iterator[Metric]:
        from sites.models import Site
        from xero.models import ConnectionTest

        by_type = GaugeMetricFamily(
            "warehouse_sites", "Sites by connection type.", labels=["connection_type"]
        )
        sites = 0
        for connection_type, count in (
            Site.objects.order_by().values_list("connection_type").annotate(n=Count("pk"))
        ):
            by_type.add_metric([connection_type], count)
            sites += count
        yield by_type

        by_outcome = GaugeMetricFamily(
            "warehouse_sites_by_last_outcome",
            f"Sites by the outcome of their last connection test ({NEVER_TESTED}: none yet).",
            labels=["outcome"],
        )
        failing = tested = 0
        rows = SiteHealth.objects.order_by().values_list("outcome").annotate(n=Count("pk"))
        for outcome, count in rows:
            by_outcome.add_metric([outcome], count)
            tested += count
            if ConnectionTest.Outcome.is_failing(outcome):
                failing += count
        by_outcome.add_metric([NEVER_TESTED], sites - tested)
        yield by_outcome
        yield GaugeMetricFamily(
            "warehouse_sites_failing",
            "Sites whose last connection test failed (the health page's Failing filter).",
            value=failing,
        )

    def counted(self) -> Iterator[Metric]:
        values: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
        for key, value in counters.values().items():
            name, labels = parse_key(key)
            values[name].append((labels, value))

        tests = CounterMetricFamily(
            "warehouse_connection_tests",
            "Connection tests run, by outcome and by how they were started "
            "(button, fleet, command, api).",
            labels=["outcome", "started_by"],
        )
        for labels, value in values["connection_tests_total"]:
            tests.add_metric([labels.get("outcome", ""), labels.get("started_by", "")], value)
        yield tests

        buckets = {
            labels.get("le"): value
            for labels, value in values["xero_call_duration_seconds_bucket_only"]
        }
        cumulative, running = [], 0.0
        for bound in [*(f"{b:g}" for b in counters.XERO_LATENCY_BUCKETS), "+Inf"]:
            running += buckets.get(bound, 0.0)
            cumulative.append((bound, running))
        total = sum(value for _, value in values["xero_call_duration_seconds_sum"])
        yield HistogramMetricFamily(
            "warehouse_xero_call_duration_seconds",
            "Time from sending a call to Xero to having read its answer.",
            buckets=cumulative,
            sum_value=total,
        )
        yield self._counter(values, "xero_rate_limited", "Calls Xero answered 429 (rate limited).")
        yield self._counter(values, "lockouts", "Sign-in lockouts (django-axes).")
        worker_errors = CounterMetricFamily(
            "warehouse_worker_errors",
            "Database or task-queue errors a worker met and outlived (tried again with a "
            "growing pause), by part (loop: the task loop; sweep: the fleet queue's sweep).",
            labels=["part"],
        )
        for labels, value in values["worker_errors_total"]:
            worker_errors.add_metric([labels.get("part", "")], value)
        yield worker_errors
        failures = CounterMetricFamily(
            "warehouse_sign_in_failures",
            "Failed sign-ins, by factor (password, second_factor).",
            labels=["factor"],
        )
        for labels, value in values["sign_in_failures_total"]:
            failures.add_metric([labels.get("factor", "")], value)
        yield failures

    @staticmethod
    def _counter(values: dict, name: str, documentation: str) -> CounterMetricFamily:
        return CounterMetricFamily(
            f"warehouse_{name}",
            documentation,
            value=sum(value for _, value in values[f"{name}_total"]),
        )

    def calls_left(self) -> Iterator[Metric]:
        """The lowest count of calls left that Xero reported, over Sites, in the window it
        applies to (a minute's count is stale after a minute, a day's after a day)."""
        family = GaugeMetricFamily(
            "warehouse_xero_calls_left",
            "Lowest calls left against Xero's limit (minute, day) over Sites, from each "
            "Site's last test within that window; absent when unknown.",
            labels=["limit"],
        )
        for limit, field, window in (
            ("minute", "minute_limit_remaining", datetime.timedelta(minutes=1)),
            ("day", "day_limit_remaining", datetime.timedelta(days=1)),
        ):
            lowest = SiteHealth.objects.filter(
                tested_at__gte=self.now - window, **{f"{field}__isnull": False}
            ).aggregate(lowest=Min(field))["lowest"]
            if lowest is not None:
                family.add_metric([limit], lowest)
        yield family

    def queue(self) -> Iterator[Metric]:
        from xero.models import QueuedCheck

        summary = QueuedCheck.objects.aggregate(n=Count("pk"), oldest=Min("queued_at"))
        yield GaugeMetricFamily(
            "warehouse_queued_checks", "Site checks waiting for a worker.", value=summary["n"]
        )
        oldest = summary["oldest"]
        yield GaugeMetricFamily(
            "warehouse_oldest_queued_check_age_seconds",
            "Age of the oldest queued check (0 when none).",
            value=max(0.0, (self.now - oldest).total_seconds()) if oldest else 0.0,
        )

    def outbox(self) -> Iterator[Metric]:
        from outbox.models import OutboxMessage

        by_state = GaugeMetricFamily(
            "warehouse_outbox_emails",
            "Emails in the outbox by state (failed: given up after OUTBOX_MAX_TRIES).",
            labels=["state"],
        )
        counts = dict(OutboxMessage.objects.values_list("state").annotate(n=Count("pk")).order_by())
        for state in OutboxMessage.State:
            by_state.add_metric([state.value], counts.get(state.value, 0))
        yield by_state
        oldest = OutboxMessage.objects.filter(state=OutboxMessage.State.QUEUED).aggregate(
            at=Min("created_at")
        )["at"]
        yield GaugeMetricFamily(
            "warehouse_outbox_oldest_queued_age_seconds",
            "Age of the oldest email not sent yet (0 when none): the mail server may be down.",
            value=max(0.0, (self.now - oldest).total_seconds()) if oldest else 0.0,
        )

    def workers(self) -> Iterator[Metric]:
        ages = worker_heartbeats(now=self.now)
        if ages is None:
            return
        window = settings.WORKER_HEARTBEAT_WINDOW
        yield GaugeMetricFamily(
            "warehouse_workers_alive",
            "Task workers whose heartbeat is within WORKER_HEARTBEAT_WINDOW.",
            value=sum(1 for age in ages if age <= window),
        )
        if ages:
            yield GaugeMetricFamily(
                "warehouse_worker_last_heartbeat_age_seconds",
                "Seconds since the freshest worker heartbeat.",
                value=round(ages[0], 1),
            )

    def expiries(self) -> Iterator[Metric]:
        from xero.models import REFRESH_TOKEN_LIFETIME, Certificate, TokenSet

        soonest = Certificate.objects.filter(state=Certificate.State.ACTIVE).aggregate(
            at=Min("not_valid_after")
        )["at"]
        if soonest is not None:
            yield GaugeMetricFamily(
                "warehouse_certificate_expiry_soonest_days",
                "Days until the soonest expiry of an active certificate.",
                value=_days(soonest - self.now),
            )
        yield GaugeMetricFamily(
            "warehouse_token_sets_needing_attention",
            "Connect to Xero token sets whose last refresh failed or whose refresh token is "
            "in its last 14 of 60 days.",
            value=TokenSet.objects.needing_attention(now=self.now).count(),
        )
        oldest = TokenSet.objects.aggregate(at=Min("refresh_token_issued_at"))["at"]
        if oldest is not None:
            yield GaugeMetricFamily(
                "warehouse_refresh_token_expiry_soonest_days",
                "Days until the soonest refresh token reaches Xero's 60 days unused.",
                value=_days(oldest + REFRESH_TOKEN_LIFETIME - self.now),
            )


def exposition(*, now: datetime.datetime | None = None) -> bytes:
    """The metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WarehouseCollector(now=now))
    return generate_latest(registry)
