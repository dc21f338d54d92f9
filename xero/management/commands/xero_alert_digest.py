"""Send the daily digest of alerts to those who chose it (run once a day from cron)."""

from django.core.management.base import BaseCommand

from xero.link_alerts import digest_send


class Command(BaseCommand):
    help = "Email each person who chose the daily digest the alerts kept for it since the last."

    def handle(self, *args, **options):
        sent = digest_send()
        self.stdout.write(f"Sent {sent} digest email{'s' * (sent != 1)}.")
