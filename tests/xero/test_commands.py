import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from tests.environment import TEST_ENVIRONMENT, manage_environment
from xero.models import Certificate

from .conftest import database_url_for_subprocess, site_lock


def test_issue_command_prints_the_pem_and_never_the_key(site, capsys):
    call_command("xero_issue_certificate", "acme", "--days", "90")
    out, err = capsys.readouterr()
    certificate = Certificate.objects.get(site=site)
    assert out == certificate.certificate_pem
    assert "PRIVATE KEY" not in out + err
    assert certificate.fingerprint_sha1 in err and "(active)" in err
    assert certificate.days_to_expiry() in (89, 90)


def test_issue_command_makes_later_certificates_pending(site, capsys, issue_certificate):
    issue_certificate(site)
    call_command("xero_issue_certificate", "acme", "--key-size", "4096")
    assert "pending" in capsys.readouterr().err
    assert Certificate.objects.pending().get().key_size == 4096


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "No Site has the code “nope”."),
        (["acme", "--key-size", "1024"], "The key size must be 2048 or 4096 bits."),
        (["acme", "--days", "0"], "The certificate must be valid for 1 to 3650 days."),
    ],
)
def test_issue_command_refuses_bad_input_with_a_plain_message(site, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("xero_issue_certificate", *args)
    assert not Certificate.objects.exists()


def test_rotating_encryption_keys_reencrypts_private_keys_too(site, issue_certificate, settings):
    from cryptography.fernet import Fernet

    certificate = issue_certificate(site)
    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]
    call_command("rotate_encryption_keys")
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    assert Certificate.objects.get(pk=certificate.pk).private_key_pem == certificate.private_key_pem


def test_test_connection_command_prints_one_json_object_per_site(
    private_site, make_site, fake_xero, capsys
):
    import json

    make_site(name="Bare Ltd", code="bare")
    with pytest.raises(SystemExit) as exit:
        call_command("xero_test_connection", "--all", "--json")
    assert exit.value.code == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["site"], line["outcome"]) for line in lines] == [
        ("acme", "ok"),
        ("bare", "credentials_missing"),
    ]
    assert lines[0]["organisation"]["name"] == "Demo Company (AU)"
    assert lines[0]["rate_limits"]["minute_remaining"] == 58
    assert lines[1]["step"] == "xero_details"


def test_test_connection_command_exits_0_when_every_site_passed(private_site, capsys):
    call_command("xero_test_connection", "acme")
    assert "acme: passed." in capsys.readouterr().out


def test_test_connection_command_names_the_step_to_fix(private_site, fake_xero, capsys):
    fake_xero.reset()
    with pytest.raises(SystemExit):
        call_command("xero_test_connection", "acme")
    out = capsys.readouterr().out
    assert "acme: consumer_key_unknown (fix at step: xero_details)." in out


@pytest.mark.parametrize(
    ("args", "message"),
    [([], "Name the Sites to test"), (["acme", "--all"], "not both"), (["nope"], "'nope'")],
)
def test_test_connection_command_refuses_bad_input(site, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("xero_test_connection", *args)


def test_sandbox_register_pastes_the_sites_certificate_into_the_fake_xero(
    site, issue_certificate, fake_xero, settings, capsys
):
    from xero.services import connection_test_run

    settings.XERO_API_URL = fake_xero.api_url
    settings.XERO_PAYROLL_URL = fake_xero.payroll_url
    issue_certificate(site)
    call_command("xero_sandbox_register", "acme", "--url", fake_xero.url, "--organisation", "Acme")
    assert "reaches “Acme”" in capsys.readouterr().out
    assert connection_test_run(site=site).organisation_name == "Acme"


def test_sandbox_register_says_how_to_start_the_sandbox(site, issue_certificate):
    issue_certificate(site)
    with pytest.raises(CommandError, match="xero_sandbox"):
        call_command("xero_sandbox_register", "acme", "--url", "http://127.0.0.1:9")


def test_sandbox_register_finds_the_sandbox_where_xero_api_url_points(
    site, issue_certificate, fake_xero_settings, capsys
):
    issue_certificate(site)
    call_command("xero_sandbox_register", "acme", "--organisation", "Acme")
    assert "reaches “Acme”" in capsys.readouterr().out


def test_sandbox_register_against_real_xero_says_to_put_the_sandbox_lines_in_env(
    site, issue_certificate
):
    issue_certificate(site)
    with pytest.raises(CommandError, match="not a local sandbox"):
        call_command("xero_sandbox_register", "acme")


def test_sandbox_register_needs_a_certificate_first(site):
    with pytest.raises(CommandError, match="Issue a certificate"):
        call_command("xero_sandbox_register", "acme")


# Commands end in one plain line, never a traceback (issue 9). They run as a person runs
# them, in their own process against the test database, so that what reaches the
# terminal (including Python's "Exception ignored" traces at exit) is what is checked.
def manage(*args, keys=None):
    """Run ``manage.py *args``; return (exit status, stdout, stderr)."""
    env = manage_environment(
        **TEST_ENVIRONMENT
        | {
            "DATABASE_URL": database_url_for_subprocess(),
            "FIELD_ENCRYPTION_KEYS": ",".join(keys or django_settings.FIELD_ENCRYPTION_KEYS),
        }
    )
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def assert_one_plain_line(stderr: str, words: str):
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("CommandError: ") and words in lines[0]


WRONG_KEY = Fernet.generate_key().decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "args", [["xero_test_connection", "acme"], ["xero_issue_certificate", "acme"]]
)
def test_a_key_that_cannot_decrypt_the_secrets_ends_in_one_plain_line(site, args):
    status, _, stderr = manage(*args, keys=[WRONG_KEY])
    assert status == 1
    assert_one_plain_line(stderr, "cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS")


@pytest.mark.django_db(transaction=True)
def test_rotating_with_a_key_that_cannot_decrypt_ends_cleanly(site):
    status, stdout, stderr = manage("rotate_encryption_keys", keys=[WRONG_KEY])
    assert status == 1 and stdout == ""
    assert_one_plain_line(stderr, "cannot be decrypted")


@pytest.mark.django_db(transaction=True)
def test_an_unknown_site_ends_in_one_plain_line(db):
    status, _, stderr = manage("xero_test_connection", "nope")
    assert status == 1
    assert_one_plain_line(stderr, "No Site has the code 'nope'.")


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_sandbox_refuses_a_port_out_of_range(db, port):
    with pytest.raises(CommandError, match="--port must be 0 to 65535"):
        call_command("xero_sandbox", "--port", port)


def test_sandbox_on_a_port_in_use_ends_in_one_plain_line(db):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        status, _, stderr = manage("xero_sandbox", "--port", str(taken.getsockname()[1]))
    assert status == 1
    assert_one_plain_line(stderr, "Cannot listen on 127.0.0.1 port")


@pytest.fixture
def web_page_server():
    """Something else on the sandbox's port: a web server answering every POST a page."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the base class names it so
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b"<!doctype html><title>Welcome to nginx</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_sandbox_register_against_a_non_json_answer_says_it_is_not_the_sandbox(
    site, issue_certificate, web_page_server
):
    issue_certificate(site)
    with pytest.raises(CommandError, match="not the sandbox") as error:
        call_command("xero_sandbox_register", "acme", "--url", web_page_server)
    assert "\n" not in str(error.value)


@pytest.mark.django_db(transaction=True)
def test_the_test_command_says_the_database_was_busy_and_exits_1(
    site, settings, lock_held_elsewhere, capsys
):
    settings.XERO_CONNECT_TIMEOUT = 0.5
    settings.XERO_READ_TIMEOUT = 0.5
    lock_held_elsewhere(3, statement=site_lock(site))

    with pytest.raises(SystemExit) as exit:
        call_command("xero_test_connection", "acme")

    assert exit.value.code == 1
    out = capsys.readouterr().out
    assert out.startswith("acme: The Warehouse's database was busy") and out.count("\n") == 1
