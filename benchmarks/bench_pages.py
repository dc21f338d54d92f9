"""Render times of the Site list, the health page and a setup page with 10,000 Sites and
100,000 connection tests, each beside a bare Django admin changelist of the same rows.

Run: .venv/bin/python -m benchmarks.bench_pages [--sites 10000] [--tests-per-site 10] [--runs 15]
(on PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test before it)

The anchor is a plain ModelAdmin of Site on a throwaway admin site of the project's class,
rendered in the same run, so the ratios do not depend on the machine. Query counts come
from one render each.
"""

import argparse
import os
import statistics
import subprocess
import time

from benchmarks._fleet_data import build_fleet, throwaway_database

PLAIN_STATIC_STORAGE = "django.contrib.staticfiles.storage.StaticFilesStorage"

urlpatterns = []  # filled in main(): the project's URLs plus the bare admin


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--tests-per-site", type=int, default=10)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--queries", action="store_true", help="each page's queries, slowest first")
    args = parser.parse_args(argv)

    with throwaway_database():
        from django.apps import apps
        from django.conf import settings
        from django.contrib import admin
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext, override_settings
        from django.urls import NoReverseMatch, include, path, reverse
        from django.utils.module_loading import import_string

        from accounts.models import TOTPDevice
        from sites.models import Site

        print(f"machine: {os.cpu_count()} cores; {uptime()}")
        started = time.perf_counter()
        build_fleet(sites=args.sites, tests_per_site=args.tests_per_site)
        print(
            f"built {args.sites} Sites and {args.sites * args.tests_per_site} tests "
            f"in {time.perf_counter() - started:.1f} s ({connection.vendor})"
        )
        # The project's admin site class, so that the anchor renders the same base template
        # (its links name this site's own pages, the passkeys') behind the same gate.
        site_class = import_string(apps.get_app_config("admin").default_site)
        bare = site_class(name="bare")
        bare.register(Site, admin.ModelAdmin)
        urlpatterns[:] = [path("bare/", bare.urls), path("", include("warehouse.urls"))]
        user = get_user_model().objects.create_superuser("bench", password=None)
        client = Client()
        client.force_login(user)
        # Past the second factor as a person would be: the pages measured are the gated ones.
        device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
        code = f"{device.totp().token():06d}"
        assert client.post(reverse("admin:second_factor"), {"code": code}).status_code == 302

        # The plain static storage: production's manifest needs a `collectstatic` first,
        # and both pages and the anchor name the same files either way.
        plain = {**settings.STORAGES, "staticfiles": {"BACKEND": PLAIN_STATIC_STORAGE}}
        with override_settings(ROOT_URLCONF=__name__, STORAGES=plain):
            pages = {
                "Site admin changelist": reverse("admin:sites_site_changelist"),
                "health page": reverse("xero:health"),
            }
            try:
                code = Site.objects.order_by("pk").values_list("code", flat=True).first()
                pages["setup page"] = reverse("xero:setup", args=[code])
            except NoReverseMatch:
                print("setup page: xero:setup does not resolve on this branch; skipped")
            anchor = reverse("bare:sites_site_changelist")
            timings = {name: [] for name in [*pages, "anchor"]}
            queries = {}
            for name, url in [*pages.items(), ("anchor", anchor)]:
                with CaptureQueriesContext(connection) as captured:
                    response = client.get(url)  # also warms caches and templates
                assert response.status_code == 200, (url, response.status_code)
                queries[name] = len(captured.captured_queries)
                if args.queries:
                    print(f"{name}, first render:")
                    for query in sorted(captured.captured_queries, key=lambda q: -float(q["time"])):
                        print(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:150]}")
            for _ in range(args.runs):
                for name, url in [*pages.items(), ("anchor", anchor)]:
                    begin = time.perf_counter()
                    client.get(url)
                    timings[name].append(time.perf_counter() - begin)

        anchor_ms = statistics.median(timings["anchor"]) * 1000
        print(f"runs: {args.runs}; {uptime()}")
        print(f"bare admin changelist (anchor): {anchor_ms:.0f} ms, {queries['anchor']} queries")
        for name in pages:
            ms = statistics.median(timings[name]) * 1000
            print(f"{name}: {ms:.0f} ms, {queries[name]} queries, ratio {ms / anchor_ms:.2f}")


if __name__ == "__main__":
    main()
