from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.management.base import CommandError

from sites.models import Site
from warehouse.commands import PlainErrorsCommand


class Command(PlainErrorsCommand):
    help = (
        "Do in the local fake Xero (manage.py xero_sandbox) what the customer does in Xero: "
        "create the Site's application with its certificate (private application) or its "
        "Client ID and Secret (Custom Connection). For trying the Warehouse offline."
    )

    def add_arguments(self, parser):
        parser.add_argument("site_code")
        parser.add_argument(
            "--url",
            default=None,
            help="the sandbox's URL; default: where XERO_API_URL points (the lines "
            "xero_sandbox prints for .env)",
        )
        parser.add_argument("--organisation", default="", help="organisation name to answer")
        parser.add_argument("--no-payroll", action="store_true", help="leave payroll off")

    def handle(self, *args, site_code, url, organisation, no_payroll, **options):
        try:
            site = Site.objects.get(code=site_code)
        except Site.DoesNotExist:
            raise CommandError(f"No Site has the code “{site_code}”.") from None
        data: dict[str, object] = {"payroll_enabled": not no_payroll}
        if organisation:
            data["organisation_name"] = organisation
        if not site.api_key:
            raise CommandError("Save the Site's API Key first (the Consumer Key or Client ID).")
        if site.connection_type == Site.ConnectionType.CUSTOM_CONNECTION:
            if not site.api_secret:
                raise CommandError("Save the Site's API Secret (the Client Secret) first.")
            path = "custom-connections"
            data.update(client_id=site.api_key, client_secret=site.api_secret)
        else:
            certificate = site.certificates.to_paste()
            if certificate is None:
                raise CommandError("Issue a certificate for the Site first.")
            path = "private-apps"
            data.update(consumer_key=site.api_key, certificate_pem=certificate.certificate_pem)
        url = url or _sandbox_url()
        try:
            response = requests.post(f"{url.rstrip('/')}/_sandbox/{path}", json=data, timeout=5)
            response.raise_for_status()
        except requests.RequestException:
            raise CommandError(
                f"The sandbox did not answer at {url}. Start it with `python manage.py "
                "xero_sandbox` in another terminal."
            ) from None
        try:
            name = str(response.json()["organisation"]["Name"])
        except (ValueError, KeyError, TypeError):
            raise CommandError(
                f"Something answered at {url}, but not the sandbox (its answer was not the "
                "sandbox's JSON). Check --url, or start the sandbox with `python manage.py "
                "xero_sandbox`."
            ) from None
        self.stdout.write(
            self.style.SUCCESS(f"Registered {site.code} with the sandbox; it reaches “{name}”.")
        )


def _sandbox_url() -> str:
    """The sandbox's address, from the XERO_API_URL it printed for .env."""
    parts = urlsplit(settings.XERO_API_URL)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise CommandError(
            f"XERO_API_URL is {settings.XERO_API_URL}, not a local sandbox. Put the lines "
            "`python manage.py xero_sandbox` prints in .env (or pass --url)."
        )
    return f"{parts.scheme}://{parts.netloc}"
