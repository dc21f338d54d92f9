from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.core.validators import validate_email

from customers.exceptions import InvitationError
from customers.forms import EMAIL_MAX_LENGTH
from customers.services import invitation_create
from sites.models import Site
from warehouse.commands import PlainErrorsCommand


class Command(PlainErrorsCommand):
    help = (
        "Invite a customer to do a Site's Xero setup: emails them the link and prints it. "
        "The link works once, for INVITATION_DAYS days. An address that already has a customer "
        "account gets the Site added to it instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("site_code", help="The Site's code, e.g. acme.")
        parser.add_argument("email", help="The customer's email address.")

    def handle(self, *args, site_code, email, **options):
        try:
            site = Site.objects.get(code=site_code)
        except Site.DoesNotExist:
            raise CommandError(f"No Site has the code “{site_code}”.") from None
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"“{email}” is not an email address.") from None
        if len(email) > EMAIL_MAX_LENGTH:
            raise CommandError(f"The email address is longer than {EMAIL_MAX_LENGTH} characters.")
        try:
            invitation, link = invitation_create(
                site=site, email=email, link_base=settings.WAREHOUSE_URL.rstrip("/")
            )
        except InvitationError as error:
            raise CommandError(error.message) from None
        self.stdout.write(link)
        if invitation is None:
            self.stderr.write(f"{email} already has a customer account: {site.code} was added.")
        else:
            self.stderr.write(
                f"Invitation of {email} to {site.code} emailed; the link works once, until "
                f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC."
            )
