import argparse
import threading

from django.conf import settings
from django.core.management.base import CommandError
from django.urls import reverse

from warehouse.commands import PlainErrorsCommand
from xero.sandbox import FakeXero

MAX_PORT = 65535
# The sandbox's own web app, when the Warehouse has none configured (not Imagatec's real one).
SANDBOX_APP_CLIENT_ID = "SANDBOXWEBAPP000000000000000000000"
SANDBOX_APP_CLIENT_SECRET = "sandbox-web-app-secret"  # noqa: S105 - the fake Xero's only


class Command(PlainErrorsCommand):
    help = (
        "Run a fake Xero on 127.0.0.1 in the foreground, for trying the Warehouse without "
        "Xero. Put the printed lines in .env, restart the Warehouse, press Ctrl-C to stop. "
        "Register apps and inject failures through its /_sandbox/ JSON API."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1")
        parser.add_argument(
            "--latency", type=float, default=0.0, help="seconds every request sleeps"
        )
        parser.add_argument(
            "--limits",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="refuse calls past Xero's limits (60 a minute and 5 at once per "
            "organisation, 5,000 a day) as Xero does (default); --no-limits never refuses",
        )
        parser.add_argument(
            "--redirect-uri",
            default=None,
            help="the Warehouse's callback, registered for its Xero app (Connect to Xero); "
            "default: WAREHOUSE_URL's /xero/callback/",
        )

    def handle(self, *args, port, latency, limits, redirect_uri, **options):
        if not 0 <= port <= MAX_PORT:
            raise CommandError(f"--port must be 0 to {MAX_PORT} (0 picks a free port); not {port}.")
        if latency < 0:
            raise CommandError(f"--latency must be 0 seconds or more; not {latency:g}.")
        fake = FakeXero(
            port=port, latency=latency, enforce_limits=limits, verbose=options["verbosity"] > 1
        )
        self.fake = fake
        try:
            fake.start()
        except OSError as error:
            raise CommandError(
                f"Cannot listen on 127.0.0.1 port {port}: {error.strerror or error}. Stop "
                "whatever uses it, or choose another port with --port (0 picks a free one)."
            ) from None
        # "Connect to Xero": the Warehouse's own app, and a Xero user with two organisations
        # to pick from on the consent page.
        client_id = settings.XERO_APP_CLIENT_ID or SANDBOX_APP_CLIENT_ID
        secret = settings.XERO_APP_CLIENT_SECRET or SANDBOX_APP_CLIENT_SECRET
        redirect_uri = redirect_uri or (
            settings.WAREHOUSE_URL.rstrip("/") + reverse("xero:callback")
        )
        fake.register_web_app(client_id, secret, redirect_uri)
        fake.add_user_organisation("Demo Company (AU)")
        fake.add_user_organisation("Acme Pty Ltd")
        self.stdout.write(f"Fake Xero listening on {fake.url}. Put these lines in .env:")
        self.stdout.write(f"XERO_API_URL={fake.api_url}")
        self.stdout.write(f"XERO_PAYROLL_URL={fake.payroll_url}")
        self.stdout.write(f"XERO_IDENTITY_URL={fake.identity_url}")
        self.stdout.write(f"XERO_CONNECTIONS_URL={fake.connections_url}")
        self.stdout.write(f"XERO_AUTHORIZE_URL={fake.authorize_url}")
        self.stdout.write(f"XERO_REVOCATION_URL={fake.revocation_url}")
        self.stdout.write(f"XERO_JWKS_URL={fake.jwks_url}")
        if not settings.XERO_APP_CLIENT_ID or not settings.XERO_APP_CLIENT_SECRET:
            self.stdout.write(f"XERO_APP_CLIENT_ID={client_id}")
            self.stdout.write(f"XERO_APP_CLIENT_SECRET={secret}")
        self.stdout.write(f"Connect to Xero sends people back to {redirect_uri}.")
        self.stdout.write(f"Control API: {fake.url}/_sandbox/ . Press Ctrl-C to stop.")
        try:
            self.wait()
        except KeyboardInterrupt:
            pass
        finally:
            fake.stop()
        self.stdout.write("Fake Xero stopped.")

    def wait(self) -> None:
        """Block until Ctrl-C; a seam so tests can stop the command at once."""
        threading.Event().wait()
