from django.core.management.base import CommandError

from sites.audit import chain_verify
from sites.models import AuditEntry
from warehouse.commands import PlainErrorsCommand


class Command(PlainErrorsCommand):
    help = (
        "Walk the audit trail's hash chain from its first kept row to its last; name the "
        "first row that does not fit (exit status 1). The result is kept for the health "
        "page and /readyz."
    )

    def handle(self, *args, **options):
        check = chain_verify()
        if check.broken_pk is None:
            if check.last_verified_pk is None:
                self.stdout.write("The audit trail is empty: nothing to verify.")
                return
            self.stdout.write(
                f"Audit chain verified: {check.rows} row(s), #{check.first_pk} to "
                f"#{check.last_verified_pk}; last hash {check.last_verified_hash}."
            )
            return
        row = AuditEntry.objects.filter(pk=check.broken_pk).first()
        what = f" ({row.timestamp:%Y-%m-%d %H:%M:%S} UTC, {row.get_kind_display()})" if row else ""
        held = (
            f"Rows #{check.first_pk} to #{check.last_verified_pk} verified before it."
            if check.last_verified_pk is not None
            else "No row before it verified."
        )
        raise CommandError(
            f"Audit chain broken at row #{check.broken_pk}{what}: {check.reason}. {held} "
            "Compare the row with a backup, and find who can write to the audit table.",
            returncode=1,
        )
