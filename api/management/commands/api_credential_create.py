"""``manage.py api_credential_create NAME --scope SCOPE [--site CODE…] [--days N]``."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from api import credentials
from warehouse.commands import PlainErrorsCommand


class Command(PlainErrorsCommand):
    help = (
        "Create an API credential for a machine (the Interconnect). The secret is printed "
        "once, alone on the last line: only its hash is kept."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="Who uses it, e.g. 'Interconnect prod'.")
        parser.add_argument(
            "--scope",
            action="append",
            required=True,
            choices=credentials.SCOPES,
            help="status (read Sites' link state), credentials (tokens and signatures).",
        )
        parser.add_argument(
            "--site",
            action="append",
            default=[],
            metavar="CODE",
            help="Reach only these Sites (repeat); without it, every Site.",
        )
        parser.add_argument("--days", type=int, default=None, help="Lifetime (default 365).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            issued = credentials.credential_create(
                name=options["name"],
                scopes=options["scope"],
                site_codes=options["site"],
                days=options["days"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        credential = issued.credential
        sites = ", ".join(credential.sites.values_list("code", flat=True)) or "every Site"
        self.stdout.write(
            f"Created API credential “{credential.name}” ({credential.display_id}): "
            f"scopes {', '.join(credential.scopes)}; {sites}; expires "
            f"{credential.expires_at:%Y-%m-%d}. The secret, shown only now:"
        )
        self.stdout.write(issued.secret)
