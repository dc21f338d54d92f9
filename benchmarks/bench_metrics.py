"""The cost of a Prometheus scrape of /metrics with 10,000 Sites and 100,000 connection
tests, beside a bare endpoint that reads one row (the anchor), in the same run.

Run: .venv/bin/python -m benchmarks.bench_metrics [--sites 10000] [--tests-per-site 10] [--runs 31]
(on PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test before it)

Both answer through the same middleware position (operations.ProbeMiddleware),
over Django's test client, so the difference is the collector's queries. The issue's goal:
a scrape under 100 ms.
"""

import argparse
import datetime
import importlib
import statistics
import time

from benchmarks._fleet_data import build_fleet, throwaway_database

TOKEN = "bench-metrics-token-0123456789"  # noqa: S105 -- a throwaway database's


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--tests-per-site", type=int, default=10)
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--queries", action="store_true", help="each query, slowest first")
    args = parser.parse_args(argv)

    with throwaway_database():
        from django.apps import apps
        from django.db import connection
        from django.http import HttpRequest, HttpResponse
        from django.test import Client
        from django.test.utils import CaptureQueriesContext, override_settings
        from django.utils import timezone

        from operations import counters, middleware
        from operations.heartbeat import beat
        from sites.models import Site
        from xero.models import QueuedCheck

        started = time.perf_counter()
        build_fleet(sites=args.sites, tests_per_site=args.tests_per_site)
        # The fleet is bulk-created past the services: fill each Site's last outcome as the
        # migration does for an existing database.
        importlib.import_module("operations.migrations.0002_hprod_sitehealth").backfill(apps, None)
        # What a running Warehouse has besides: counters of every kind, a queue, workers.
        for outcome in ("ok", "signature_invalid", "rate_limited", "timeout"):
            for origin in ("button", "fleet", "command", "api"):
                counters.add("connection_tests_total", {"outcome": outcome, "started_by": origin})
        for seconds in (0.05, 0.2, 0.4, 0.9, 2.0, 4.0, 9.0, 30.0):
            counters.xero_call(seconds=seconds, status=429 if seconds > 20 else 200)
        counters.add("lockouts_total")
        now = timezone.now()
        QueuedCheck.objects.bulk_create(
            QueuedCheck(
                site_id=pk,
                batch="00000000-0000-0000-0000-000000000001",
                chunk="00000000-0000-0000-0000-000000000002",
                queued_at=now - datetime.timedelta(seconds=30),
            )
            for pk in Site.objects.order_by("pk").values_list("pk", flat=True)[:500]
        )
        for number in range(4):
            beat(worker=f"bench-{number}", started_at=now)
        print(
            f"built {args.sites} Sites and {args.sites * args.tests_per_site} tests "
            f"in {time.perf_counter() - started:.1f} s ({connection.vendor})"
        )

        def anchor(request: HttpRequest) -> HttpResponse:
            site = Site.objects.order_by("pk").values_list("code", flat=True).first()
            return HttpResponse(str(site), content_type="text/plain")

        middleware.ENDPOINTS["/bench-anchor"] = anchor
        client = Client()
        headers = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
        with override_settings(METRICS_TOKEN=TOKEN):
            urls = {"/metrics": "/metrics", "anchor": "/bench-anchor"}
            queries = {}
            for name, url in urls.items():
                with CaptureQueriesContext(connection) as captured:
                    response = client.get(url, **headers)
                assert response.status_code == 200, (url, response.status_code)
                queries[name] = len(captured.captured_queries)
                if args.queries:
                    print(f"{name}, first answer:")
                    for query in sorted(captured.captured_queries, key=lambda q: -float(q["time"])):
                        print(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:150]}")
            timings: dict[str, list[float]] = {name: [] for name in urls}
            for _ in range(args.runs):
                for name, url in urls.items():
                    begin = time.perf_counter()
                    client.get(url, **headers)
                    timings[name].append(time.perf_counter() - begin)

        anchor_ms = statistics.median(timings["anchor"]) * 1000
        metrics_ms = statistics.median(timings["/metrics"]) * 1000
        slowest = max(timings["/metrics"]) * 1000
        print(f"runs: {args.runs}")
        print(f"anchor (one row): {anchor_ms:.1f} ms, {queries['anchor']} queries")
        print(
            f"/metrics: {metrics_ms:.1f} ms median, {slowest:.1f} ms slowest, "
            f"{queries['/metrics']} queries, ratio {metrics_ms / anchor_ms:.1f}"
        )
        print("under 100 ms: " + ("yes" if metrics_ms < 100 else "NO"))


if __name__ == "__main__":
    main()
