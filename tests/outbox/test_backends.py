import logging
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.mail import send_mail

from outbox.models import OutboxMessage
from tests.environment import manage_environment

BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "SECRET_KEY": "x" * 20 + "production-secret-key-with-enough-entropy-0123456789",
    "FIELD_ENCRYPTION_KEYS": "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
}
LINK = "http://127.0.0.1:8000/invitations/s3cret-token-in-the-link/"


def _mail_settings(**variables) -> list[str]:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.OUTBOX_EMAIL_BACKEND)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=manage_environment(DJANGO_SETTINGS_MODULE="warehouse.settings", **variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.split()


@pytest.mark.parametrize(
    ("debug", "transport"),
    [("False", "smtp.EmailBackend"), ("True", "filebased.EmailBackend")],
)
def test_every_email_goes_through_the_outbox_to_smtp_or_in_development_files(debug, transport):
    backend, outbox_transport = _mail_settings(DEBUG=debug, **PRODUCTION)
    assert backend == "outbox.backends.OutboxBackend"
    assert outbox_transport == f"django.core.mail.backends.{transport}"


@pytest.mark.django_db
def test_development_mail_is_a_file_and_its_link_never_reaches_the_log(
    settings, mail_through_outbox, tmp_path, caplog, capsys
):
    settings.OUTBOX_EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "mail"
    caplog.set_level(logging.DEBUG)

    with mail_through_outbox():
        send_mail("Your invitation", f"Open {LINK}", None, ["anna@acme.example"])

    assert OutboxMessage.objects.get().state == OutboxMessage.State.SENT
    (written,) = (tmp_path / "mail").iterdir()
    assert LINK in written.read_text()
    printed = capsys.readouterr()
    assert "s3cret" not in caplog.text + printed.out + printed.err


@pytest.mark.django_db
def test_an_email_without_recipients_is_not_stored(mail_through_outbox):
    with mail_through_outbox():
        assert send_mail("Nobody", "Body", None, []) == 0
    assert not OutboxMessage.objects.exists()
