import subprocess
import sys
from pathlib import Path

import environ
import pytest

from tests.environment import TEST_ENVIRONMENT, manage_environment, settings_environment
from warehouse import envfile

BASE_DIR = Path(__file__).resolve().parents[2]


def run_manage(*args, **variables):
    """Run manage.py with exactly ``variables``: no `.env`, nothing from the shell."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=manage_environment(**variables),
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DEBUG": "False",
    "SECRET_KEY": "x" * 20 + "production-secret-key-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "warehouse.example.com",
    "FIELD_ENCRYPTION_KEYS": "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
}


def test_check_deploy_is_clean_with_production_variables():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_debug_on():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", **{**PRODUCTION, "DEBUG": "True"}
    )
    assert result.returncode != 0
    assert "security.W018" in result.stderr


def test_missing_encryption_keys_stop_startup_with_a_clear_message():
    result = run_manage("check", **{**PRODUCTION, "FIELD_ENCRYPTION_KEYS": ""})
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_postgres_database_url_is_understood_unchanged():
    config = environ.Env.db_url_config("postgres://postgres@127.0.0.1:5432/test")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["HOST"], config["PORT"]) == (
        "test",
        "postgres",
        "127.0.0.1",
        5432,
    )


def test_env_file_is_written_once_with_fresh_keys(tmp_path):
    path = tmp_path / ".env"
    envfile.main(path)
    first = path.read_text()
    assert "SECRET_KEY=" in first and "FIELD_ENCRYPTION_KEYS=" in first
    envfile.main(path)
    assert path.read_text() == first
    other = tmp_path / "other.env"
    envfile.main(other)
    assert other.read_text() != first


def test_the_suite_runs_on_settings_defaults_whatever_env_file_and_shell_hold(settings):
    # CI's hostile run sets every one of these otherwise, in .env and in the shell.
    assert settings.XERO_API_URL == "https://api.xero.com/api.xro/2.0/"
    assert settings.XERO_TEST_COOLDOWN == 5
    assert settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"
    assert "django_tasks_db" in settings.INSTALLED_APPS
    assert "django_rq" not in settings.INSTALLED_APPS
    assert settings.ALLOWED_HOSTS[:2] == ["127.0.0.1", "localhost"]
    assert settings.LOGGING["root"]["level"] == "INFO"


def test_only_database_url_passes_from_the_shell_into_the_suites_settings(monkeypatch):
    monkeypatch.setenv("XERO_API_URL", "http://127.0.0.1:8765/api.xro/2.0/")
    monkeypatch.setenv("DEBUG", "False")
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/elsewhere")
    assert settings_environment() == {
        **TEST_ENVIRONMENT,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/elsewhere",
    }
    monkeypatch.delenv("DATABASE_URL")
    assert settings_environment() == TEST_ENVIRONMENT


def test_a_malformed_number_in_the_environment_is_said_in_one_line_not_a_traceback():
    result = run_manage("prune_audit_trail", "--dry-run", **PRODUCTION, AUDIT_RETENTION_DAYS="ten")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: The environment variable AUDIT_RETENTION_DAYS")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "database_url",
    [
        "",  # a placeholder left empty in .env
        "nonsense",
        "://warehouse:hunter2-secret@db.example.com/warehouse",
        "mysql://warehouse:hunter2-secret@db.example.com/warehouse",
        "postgres://warehouse:hunter2-secret@db.example.com:fivefour/warehouse",
    ],
)
def test_a_database_url_the_warehouse_cannot_use_is_said_in_one_line_without_its_text(
    database_url,
):
    result = run_manage("check", **PRODUCTION, DATABASE_URL=database_url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(
        "Error: The environment variable DATABASE_URL is not a database URL the Warehouse "
        "can use: it must be postgres://"
    )
    assert len(result.stderr.strip().splitlines()) == 1
    assert "hunter2" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TIME_ZONE", "Mars/Olympus_Mons"),
        ("TIME_ZONE", "../../etc/passwd"),
        ("LOG_LEVEL", "verbose"),
        ("TASKS_BACKEND", "celery.Backend"),
        ("PORT", "70000"),
        ("PORT", "-1"),
        ("AUDIT_RETENTION_DAYS", "99999999999999999999"),
        ("OUTBOX_KEEP_SENT_DAYS", "0"),
        ("XERO_CHECK_CHUNK_SIZE", "0"),
        ("SESSION_MAX_HOURS", "99999999999999999999"),
        ("WORKER_HEARTBEAT_INTERVAL", "-1.5"),
    ],
)
def test_a_value_out_of_its_range_is_said_in_one_line_not_a_traceback(variable, value):
    result = run_manage("check", **PRODUCTION, **{variable: value})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"Error: The environment variable {variable} must ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_libraries_commands_that_would_rewrite_the_audit_trail_are_refused_plainly():
    for command in (["auditlogflush", "-y"], ["auditlogmigratejson"]):
        result = run_manage(*command, **PRODUCTION)
        assert result.returncode == 1, command
        assert "Traceback" not in result.stderr
        assert "append-only" in result.stderr


def test_passkeys_work_at_warehouse_url_unless_set_otherwise():
    show = (
        "from django.conf import settings as s; "
        "print(s.OTP_WEBAUTHN_RP_ID, s.OTP_WEBAUTHN_ALLOWED_ORIGINS)"
    )
    derived = run_manage(
        "shell", "-c", show, **PRODUCTION, WAREHOUSE_URL="https://warehouse.example.com"
    )
    assert (
        derived.stdout.splitlines()[-1] == "warehouse.example.com ['https://warehouse.example.com']"
    )
    chosen = run_manage(
        "shell",
        "-c",
        show,
        **PRODUCTION,
        WAREHOUSE_URL="https://warehouse.example.com:8443",
        OTP_WEBAUTHN_RP_ID="example.com",
    )
    assert chosen.stdout.splitlines()[-1] == "example.com ['https://warehouse.example.com:8443']"


def test_make_run_serves_on_the_port_it_is_given_and_passes_it_on():
    ran = subprocess.run(
        ["make", "-n", "run", "PORT=8001"], cwd=BASE_DIR, capture_output=True, text=True
    )
    assert "PORT=8001 .venv/bin/python manage.py runserver 127.0.0.1:8001" in ran.stdout


def test_warehouse_url_follows_the_port_unless_set():
    show = ["diffsettings", "--all"]

    def warehouse_url(**variables):
        out = run_manage(*show, **TEST_ENVIRONMENT, **variables).stdout
        (line,) = [line for line in out.splitlines() if line.startswith("WAREHOUSE_URL = ")]
        return line.removeprefix("WAREHOUSE_URL = ").removesuffix("###").strip()

    assert warehouse_url(PORT="8001") == "'http://127.0.0.1:8001'"
    assert warehouse_url() == "'http://127.0.0.1:8000'"
    assert warehouse_url(PORT="8001", WAREHOUSE_URL="https://w.example") == "'https://w.example'"
