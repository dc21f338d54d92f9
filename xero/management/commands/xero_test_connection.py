import json

from django.core.management.base import CommandError

from sites.models import Site
from warehouse.commands import PlainErrorsCommand
from xero.exceptions import ConnectionTestCooldown, WarehouseBusy
from xero.services import connection_test_run


class Command(PlainErrorsCommand):
    help = (
        "Test the Xero connection of Sites, as the Test connection button does. "
        "Exits with 0 only if every Site passed."
    )

    def add_arguments(self, parser):
        parser.add_argument("site_codes", nargs="*", metavar="site-code")
        parser.add_argument(
            "--all", action="store_true", dest="every_site", help="Test every Site."
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="One JSON object per Site."
        )

    def handle(self, *args, site_codes, every_site, as_json, **options):
        if every_site == bool(site_codes):
            raise CommandError("Name the Sites to test by their codes, or use --all (not both).")
        if every_site:
            sites = list(Site.objects.order_by("code"))
        else:
            found = {site.code: site for site in Site.objects.filter(code__in=site_codes)}
            unknown = [code for code in site_codes if code not in found]
            if unknown:
                raise CommandError(f"No Site has the code {', '.join(map(repr, unknown))}.")
            sites = [found[code] for code in dict.fromkeys(site_codes)]
        failed = 0
        for site in sites:
            try:
                test = connection_test_run(site=site, audited=True)
            except (ConnectionTestCooldown, WarehouseBusy) as error:
                # Not run: tested moments ago, or the database too busy to start a row.
                failed += 1
                self.report_not_run(site, error, as_json=as_json)
                continue
            failed += not test.passed
            self.report(test, as_json=as_json)
        if failed:
            raise SystemExit(1)

    def report(self, test, *, as_json):
        if as_json:
            self.stdout.write(json_dumps(test.as_dict()))
        elif test.passed:
            self.stdout.write(self.style.SUCCESS(f"{test.site.code}: passed. ") + test.message)
        else:
            step = f" (fix at step: {test.step})" if test.step else ""
            self.stdout.write(
                self.style.ERROR(f"{test.site.code}: {test.outcome}{step}. ") + test.message
            )

    def report_not_run(self, site, error, *, as_json):
        if as_json:
            self.stdout.write(
                json_dumps(
                    {
                        "site": site.code,
                        "passed": False,
                        "outcome": error.code,
                        "message": error.message,
                    }
                )  # fmt: skip
            )
        else:
            self.stdout.write(self.style.WARNING(f"{site.code}: {error.message}"))


def json_dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
