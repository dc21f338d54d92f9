"""warehouse/logs.py and the request id: one JSON object per line with the request's
context, secrets redacted in every format, the id carried into the tasks a request queues."""

import io
import json
import logging

import pytest
from django_tasks import default_task_backend

from operations.middleware import REQUEST_ID
from tests.warehouse.test_settings import PRODUCTION, run_manage
from warehouse import logs

ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0LXVzZXIifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
FERNET = "gAAAAABnZ2xvcnktdG9rZW4tdGhhdC1pcy1lbmNyeXB0ZWQtZm9yLXRlc3RpbmctMTIzNDU2Nzg5MA=="
SECRET = "LLA9S8D7F6G5H4J3K2L1Q0W9E8R7QO"


class Captured:
    """The root logger's records through the app's handler (filters and a formatter)."""

    def __init__(self, log_format: str) -> None:
        config = logs.logging_config(log_format=log_format, level="INFO")
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.addFilter(logs.ContextFilter())
        self.handler.addFilter(logs.RedactingFilter())
        formatter_class = {"text": logs.TextFormatter, "json": logs.JSONFormatter}[
            config["handlers"]["console"]["formatter"]
        ]
        self.handler.setFormatter(formatter_class())

    def __enter__(self) -> "Captured":
        logging.getLogger().addHandler(self.handler)
        return self

    def __exit__(self, *exc_info: object) -> None:
        logging.getLogger().removeHandler(self.handler)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(
    ("message", "args", "hidden"),
    [
        ("token answer %s", ({"access_token": ACCESS_TOKEN, "expires_in": 1800},), ACCESS_TOKEN),
        ("sending Authorization: Bearer %s", ("abc.def-ghi",), "abc.def-ghi"),
        ("client_secret=%s&grant_type=client_credentials", (SECRET,), SECRET),
        ("stored %s", (FERNET,), FERNET),
        ('body {"refresh_token": "%s"}', ("r-tok-123456",), "r-tok-123456"),
        ("api_secret: %s", (SECRET,), SECRET),
        ("key\\n-----BEGIN PRIVATE KEY-----\\nMIIEv%s\\n-----END PRIVATE KEY-----", ("Q" * 40,),
         "Q" * 40),
    ],
)  # fmt: skip
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_never_reach_the_log_in_either_format(log_format, message, args, hidden):
    with Captured(log_format) as captured:
        logging.getLogger("xero.client").warning(message, *args)
    assert hidden not in captured.text
    assert logs.REDACTED in captured.text


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_traceback_is_redacted_too(log_format):
    with Captured(log_format) as captured:
        try:
            raise ValueError(f"refused: client_secret={SECRET}")
        except ValueError:
            logging.getLogger("xero.client").exception("failed")
    assert SECRET not in captured.text
    assert "ValueError" in captured.text


def test_json_lines_carry_time_level_logger_message_and_context():
    with (
        Captured("json") as captured,
        logs.log_context(request="req-12345678", user=7, site="acme"),
    ):
        logging.getLogger("xero.services").info("Connection test of site %s: %s", "acme", "ok")
    (line,) = captured.lines()
    assert line["level"] == "INFO"
    assert line["logger"] == "xero.services"
    assert line["message"] == "Connection test of site acme: ok"
    assert (line["request_id"], line["user_id"], line["site"]) == ("req-12345678", 7, "acme")
    assert line["time"].endswith("Z")


def test_gunicorns_access_line_gives_the_request_id_and_duration():
    atoms = {"h": "10.0.0.1", "m": "GET", "U": "/admin/", "s": "200", "B": 512, "M": 37,
             "{x-request-id}o": "3f2a9c0d1e", "H": "HTTP/1.1"}  # fmt: skip
    with Captured("json") as captured:
        logging.getLogger("gunicorn.access").info('%(h)s "%(m)s %(U)s" %(s)s', atoms)
    (line,) = captured.lines()
    assert line["request_id"] == "3f2a9c0d1e"
    assert line["duration_ms"] == 37
    assert line["http"]["status"] == "200"
    assert line["message"] == '10.0.0.1 "GET /admin/" 200'


def test_log_format_json_writes_one_json_object_per_line_from_a_real_process():
    result = run_manage(
        "shell",
        "-c",
        "import logging; logging.getLogger('xero.client').warning("
        f"'answer client_secret={SECRET} access_token={ACCESS_TOKEN}')",
        **PRODUCTION,
        LOG_FORMAT="json",
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines[-1]["logger"] == "xero.client"
    assert lines[-1]["level"] == "WARNING"
    assert SECRET not in result.stderr and ACCESS_TOKEN not in result.stderr


def test_an_unknown_log_format_stops_startup_naming_the_setting():
    result = run_manage("check", **PRODUCTION, LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT" in result.stderr


def test_each_response_carries_a_fresh_request_id(client, db):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert REQUEST_ID.fullmatch(first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.parametrize(
    ("inbound", "kept"),
    [
        ("a1b2c3d4-e5f6-4711-8899-aabbccddeeff", True),
        ("proxy.req_12345678", True),
        ("short", False),
        ("bad id\nINFO forged line", False),
        ("x" * 65, False),
        ("<script>alert(1)</script>", False),
    ],
)
def test_an_inbound_request_id_is_kept_only_when_well_formed(client, db, inbound, kept):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=inbound)
    assert (response["X-Request-ID"] == inbound) is kept


def test_a_requests_log_lines_carry_its_id_user_and_site(client_for, site, settings):
    settings.XERO_TEST_COOLDOWN = 0
    client = client_for("support")
    with Captured("json") as captured:
        response = client.post(f"/sites/{site.code}/xero/connection-test/")
    request_id = response["X-Request-ID"]
    mine = [line for line in captured.lines() if line["request_id"] == request_id]
    assert mine, captured.text
    assert {line["user_id"] for line in mine} == {client.user.pk}
    assert {line["site"] for line in mine} == {site.code}


def test_the_request_id_travels_into_the_task_a_request_queues_and_its_log_lines(
    client_for, site, settings
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    # The chunk runs in this thread, inside the test's transaction (no fleet thread pool,
    # whose connections would outlive the test).
    settings.XERO_MAX_CONCURRENT_CALLS = 1
    response = client_for("support").post(
        "/xero/health/", {"action": "test_selected", "sites": [site.pk]}
    )
    request_id = response["X-Request-ID"]
    (result,) = default_task_backend.results
    assert result.kwargs["request_id"] == request_id

    from xero import tasks

    with Captured("json") as captured:
        tasks.check_chunk.func(**result.kwargs)
    chunk_lines = [line for line in captured.lines() if line["message"].startswith("Chunk ")]
    assert chunk_lines, captured.text
    assert {line["request_id"] for line in chunk_lines} == {request_id}
