from django.core.management.base import CommandError

from sites.models import Site
from warehouse.commands import PlainErrorsCommand
from xero.certificates import KEY_SIZES, MAX_VALIDITY_DAYS
from xero.exceptions import XeroError
from xero.models import Certificate
from xero.services import certificate_issue


class Command(PlainErrorsCommand):
    help = (
        "Issue a Xero certificate for a Site and print its public certificate (PEM) to stdout. "
        "The private key stays encrypted in the database and is never printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("site_code", help="The Site's code, e.g. acme.")
        parser.add_argument(
            "--key-size", type=int, default=None, help=f"One of {', '.join(map(str, KEY_SIZES))}."
        )
        parser.add_argument(
            "--days", type=int, default=None, help=f"Validity, 1 to {MAX_VALIDITY_DAYS} days."
        )

    def handle(self, *args, site_code, key_size, days, **options):
        try:
            site = Site.objects.get(code=site_code)
        except Site.DoesNotExist:
            raise CommandError(f"No Site has the code “{site_code}”.") from None
        try:
            certificate = certificate_issue(site=site, key_size=key_size, days=days)
        except XeroError as error:
            raise CommandError(error.message) from None
        self.stdout.write(certificate.certificate_pem, ending="")
        if certificate.state == Certificate.State.PENDING:
            note = "pending: it becomes active once a connection test passes with it"
        else:
            note = "active"
        self.stderr.write(
            f"Issued certificate {certificate.serial_number} for {site.code} ({note}); "
            f"SHA-1 fingerprint {certificate.fingerprint_sha1}."
        )
