"""System checks of the mail settings (``check --deploy``)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

OUTBOX_BACKEND = "outbox.backends.OutboxBackend"
# Transports that write whole emails, invitation links included, where logs are read.
LOGGING_TRANSPORTS = {"django.core.mail.backends.console.EmailBackend"}


@register(Tags.security, deploy=True)
def check_mail_goes_through_the_outbox(app_configs, **kwargs):
    warnings = []
    if settings.EMAIL_BACKEND != OUTBOX_BACKEND:
        warnings.append(
            Warning(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}, not the outbox: a mail server that "
                "is down fails the request that sends (an invitation answers an error).",
                hint="Remove EMAIL_BACKEND from the environment and set the real transport as "
                "OUTBOX_EMAIL_BACKEND.",
                id="outbox.W001",
            )
        )
    transports = {settings.EMAIL_BACKEND, getattr(settings, "OUTBOX_EMAIL_BACKEND", "")}
    if transports & LOGGING_TRANSPORTS:
        warnings.append(
            Warning(
                "Mail is written to the console: invitation links, which are secrets, land in "
                "the server's log.",
                hint="Set OUTBOX_EMAIL_BACKEND to django.core.mail.backends.smtp.EmailBackend "
                "(production) or leave it at its default.",
                id="outbox.W002",
            )
        )
    return warnings
