import pytest


@pytest.fixture
def smtp_settings(settings, mail_through_outbox):
    """The outbox's transport is SMTP to 127.0.0.1:``port`` (``smtp_settings(port)``)."""

    def smtp_settings(port: int):
        settings.OUTBOX_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_TIMEOUT = 5
        return mail_through_outbox

    return smtp_settings
