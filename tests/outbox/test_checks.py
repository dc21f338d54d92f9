from outbox.checks import check_mail_goes_through_the_outbox


def _ids(settings) -> list[str]:
    return [warning.id for warning in check_mail_goes_through_the_outbox(None)]


def test_the_defaults_raise_no_warning(settings):
    settings.EMAIL_BACKEND = "outbox.backends.OutboxBackend"
    settings.OUTBOX_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert _ids(settings) == []


def test_mail_around_the_outbox_is_a_deploy_warning(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert _ids(settings) == ["outbox.W001"]


def test_mail_to_the_console_is_a_deploy_warning(settings):
    settings.EMAIL_BACKEND = "outbox.backends.OutboxBackend"
    settings.OUTBOX_EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    assert _ids(settings) == ["outbox.W002"]
