"""The Interconnect API's cost, each figure beside an anchor measured in the same run:

1. ``POST …/xero/access-token`` on the cached path (a Custom Connection whose token has 30
   minutes left), calls a second, against a bare Django view that reads one row and answers
   JSON, through the same middleware and test client (the anchor);
2. ``GET /api/v1/sites/`` pages at 10,000 Sites and 100,000 tests, time per Site listed,
   against the Site list page (the admin changelist, 100 Sites a page).

Run: .venv/bin/python -m benchmarks.bench_api [--sites 10000] [--calls 300] [--runs 15]
(on PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test before it)
"""

import argparse
import os
import statistics
import time

from benchmarks._fleet_data import build_fleet, throwaway_database

urlpatterns = []  # filled in main(): the project's URLs plus the bare view


def _bare_view(request):
    from django.http import JsonResponse

    from sites.models import Site

    row = Site.objects.filter(code=request.GET.get("code", "")).values("code", "name").first()
    return JsonResponse(row or {})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--tests-per-site", type=int, default=10)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)

    with throwaway_database():
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext, override_settings
        from django.urls import include, path, reverse

        from accounts.models import TOTPDevice
        from api.credentials import credential_create
        from sites.models import Site
        from xero.sandbox import FakeXero

        started = time.perf_counter()
        build_fleet(sites=args.sites, tests_per_site=args.tests_per_site)
        print(
            f"built {args.sites} Sites and {args.sites * args.tests_per_site} tests "
            f"in {time.perf_counter() - started:.1f} s ({connection.vendor}, "
            f"load {os.getloadavg()[0]:.1f})"
        )
        urlpatterns[:] = [path("bare/", _bare_view), path("", include("warehouse.urls"))]
        secret = credential_create(name="bench", scopes=["status", "credentials"], days=1).secret
        client_id, client_secret = "BENCHCLIENT0000000000000000000000", "bench-client-secret"
        with (
            FakeXero(port=0) as fake,
            override_settings(
                ROOT_URLCONF=__name__,
                API_RATE_LIMIT_PER_MINUTE=10**9,
                XERO_IDENTITY_URL=fake.identity_url,
                XERO_API_URL=fake.api_url,
                XERO_CONNECTIONS_URL=fake.connections_url,
            ),
        ):
            fake.register_custom_connection(client_id, client_secret)
            Site.objects.create(
                name="Bench Custom",
                code="bench-custom",
                connection_type=Site.ConnectionType.CUSTOM_CONNECTION,
                api_key=client_id,
                api_secret=client_secret,
            )
            api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
            token_url = "/api/v1/sites/bench-custom/xero/access-token"  # noqa: S105 - an address
            assert api.post(token_url).status_code == 200  # fills the cache
            anchor = Client()
            bare_url = "/bare/?code=bench-custom"
            assert anchor.get(bare_url).status_code == 200
            with CaptureQueriesContext(connection) as captured:
                api.post(token_url)
            token_queries = len(captured.captured_queries)
            with CaptureQueriesContext(connection) as captured:
                anchor.get(bare_url)
            bare_queries = len(captured.captured_queries)
            rates = {"token": [], "bare": []}
            for _ in range(5):
                for name, call in (
                    ("token", lambda: api.post(token_url)),
                    ("bare", lambda: anchor.get(bare_url)),
                ):
                    begin = time.perf_counter()
                    for _ in range(args.calls // 5):
                        call()
                    rates[name].append((args.calls // 5) / (time.perf_counter() - begin))
            assert fake.issued_tokens and len(fake.issued_tokens) == 1, "not the cached path"
            token_rate = statistics.median(rates["token"])
            bare_rate = statistics.median(rates["bare"])
            print(
                f"access-token, cached: {token_rate:.0f} calls/s ({token_queries} queries) vs "
                f"bare view reading one row {bare_rate:.0f} calls/s ({bare_queries} queries): "
                f"ratio {bare_rate / token_rate:.2f} (time per call, API ÷ anchor)"
            )

            user = get_user_model().objects.create_superuser("bench", password=None)
            admin = Client()
            admin.force_login(user)
            device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
            code = f"{device.totp().token():06d}"
            assert admin.post(reverse("admin:second_factor"), {"code": code}).status_code == 302
            # A page in the middle of the list, of each.
            middle = max(args.sites // 200, 1)
            pages = {
                "GET /api/v1/sites/ (100 a page)": (api, f"/api/v1/sites/?page={middle}", 100),
                "GET /api/v1/sites/ (500 a page)": (
                    api,
                    f"/api/v1/sites/?page={max(middle // 5, 1)}&page_size=500",
                    500,
                ),
                "Site list page (100 a page)": (
                    admin,
                    reverse("admin:sites_site_changelist") + f"?p={middle}",
                    100,
                ),
            }
            timings = {name: [] for name in pages}
            queries = {}
            for name, (client, url, _) in pages.items():
                with CaptureQueriesContext(connection) as captured:
                    response = client.get(url)
                assert response.status_code == 200, (name, response.status_code)
                queries[name] = len(captured.captured_queries)
            for _ in range(args.runs):
                for name, (client, url, _) in pages.items():
                    begin = time.perf_counter()
                    client.get(url)
                    timings[name].append(time.perf_counter() - begin)
            anchor_per_site = statistics.median(timings["Site list page (100 a page)"]) / 100
            for name, (_, _, rows) in pages.items():
                ms = statistics.median(timings[name]) * 1000
                per_site = ms / rows
                print(
                    f"{name}: {ms:.0f} ms, {per_site * 1000:.0f} µs a Site, {queries[name]} "
                    f"queries, ratio per Site {per_site / (anchor_per_site * 1000):.2f}"
                )
        print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
