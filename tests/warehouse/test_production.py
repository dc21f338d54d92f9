"""warehouse/production.py and gunicorn.conf.py: the proxy trusted in one place, and a worker
timeout computed from the longest request."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.environment import manage_environment
from tests.warehouse.test_settings import PRODUCTION, run_manage
from warehouse import production

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def gunicorn_config(**variables: str) -> dict[str, str]:
    """gunicorn's fully resolved configuration under ``variables``, as it would start."""
    result = subprocess.run(
        [str(GUNICORN), "--print-config"],
        cwd=ROOT,
        env=manage_environment(**{**PRODUCTION, **variables}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return {
        name.strip(): value.strip()
        for name, _, value in (line.partition("=") for line in result.stdout.splitlines())
    }


def test_gunicorn_takes_bind_workers_and_threads_from_the_environment():
    config = gunicorn_config(WEB_BIND="0.0.0.0:9000", WEB_WORKERS="5", WEB_THREADS="8")
    assert (config["bind"], config["workers"], config["threads"]) == ("['0.0.0.0:9000']", "5", "8")


def test_gunicorn_defaults_suit_a_two_core_machine():
    config = gunicorn_config()
    assert config["bind"] == "['127.0.0.1:8000']"
    assert int(config["threads"]) > 1
    assert int(config["workers"]) >= 2


def test_gunicorn_worker_timeout_outlasts_a_connection_test_and_a_database_wait():
    config = gunicorn_config(
        XERO_CONNECT_TIMEOUT="5", XERO_READ_TIMEOUT="40", DATABASE_LOCK_WAIT="20"
    )
    assert int(config["timeout"]) > 5 + 40 + 20
    assert int(gunicorn_config()["timeout"]) > 5 + 15 + 20


def test_worker_timeout_follows_the_settings(settings):
    settings.XERO_CONNECT_TIMEOUT, settings.XERO_READ_TIMEOUT = 5.0, 15.0
    settings.DATABASE_LOCK_WAIT = 20
    assert production.worker_timeout() == 40 + production.WORKER_TIMEOUT_MARGIN
    settings.XERO_READ_TIMEOUT = 60.5
    assert production.worker_timeout() == 86 + production.WORKER_TIMEOUT_MARGIN


def test_gunicorn_believes_forwarded_headers_from_the_trusted_proxy_only():
    assert gunicorn_config(TRUSTED_PROXY_IPS="10.1.2.3,fd00::/8")["forwarded_allow_ips"] == (
        "['10.1.2.3', 'fd00::/8']"
    )
    assert gunicorn_config()["forwarded_allow_ips"] == "['127.0.0.1', '::1']"


def test_gunicorn_access_log_goes_through_the_apps_log_format():
    config = gunicorn_config(LOG_FORMAT="json")
    assert config["accesslog"] == "-"
    assert "warehouse.logs.JSONFormatter" in config["logconfig_dict"]


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        ([], "192.0.2.1", "203.0.113.9", "192.0.2.1"),
        (["127.0.0.1"], "127.0.0.1", "198.51.100.7, 203.0.113.9", "203.0.113.9"),
        (["10.0.0.0/8"], "10.4.5.6", "203.0.113.9", "203.0.113.9"),
        (["10.0.0.0/8"], "192.0.2.1", "203.0.113.9", "192.0.2.1"),
        (["127.0.0.1"], "127.0.0.1", "", "127.0.0.1"),
        (["::1"], "::1", "2001:db8::1", "2001:db8::1"),
        (["127.0.0.1"], "not-an-address", "203.0.113.9", "not-an-address"),
    ],
)
def test_the_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(
    settings, trusted, remote, forwarded, expected
):
    settings.TRUSTED_PROXY_IPS = trusted
    meta = {"REMOTE_ADDR": remote, "HTTP_X_FORWARDED_FOR": forwarded}
    assert production.client_address_of(meta) == expected


def test_lockouts_use_the_same_rule(rf, settings):
    from warehouse.addresses import client_ip_address

    settings.TRUSTED_PROXY_IPS = ["127.0.0.1"]
    request = rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert client_ip_address(request) == "203.0.113.9"
    settings.TRUSTED_PROXY_IPS = []
    assert client_ip_address(request) == "127.0.0.1"


@pytest.mark.parametrize(
    ("variables", "warning"),
    [
        ({"SECURE_PROXY_SSL": "True"}, "warehouse.W002"),
        ({"TRUSTED_PROXY_IPS": "10.0.0.1", "SECURE_PROXY_SSL": "False"}, "warehouse.W003"),
        ({"TRUSTED_PROXY_IPS": "*"}, "warehouse.W004"),
        ({"TRUSTED_PROXY_IPS": "proxy.example.com"}, "warehouse.W001"),
    ],
)
def test_check_deploy_warns_when_the_proxy_settings_disagree(variables, warning):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, **variables)
    assert result.returncode != 0
    assert warning in result.stderr
    assert "Traceback" not in result.stderr


def test_check_deploy_is_clean_behind_a_named_proxy():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, TRUSTED_PROXY_IPS="10.0.0.1"
    )
    assert result.returncode == 0, result.stderr


def test_the_proxy_check_is_silent_without_a_proxy(settings):
    settings.TRUSTED_PROXY_IPS = []
    assert production.check_proxy_trust() == []
    call_command("check")


def test_a_client_cannot_pick_its_own_address_to_dodge_a_lockout_without_a_trusted_proxy(
    client, make_user, settings
):
    from tests.accounts.test_views import sign_in

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.TRUSTED_PROXY_IPS = []
    user = make_user("Staff")
    for n in range(5):
        sign_in(client, user, password="wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    assert sign_in(client, user, HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 429
