"""xero/transport.py through XeroSession, which sends every request through it, over real
HTTP: an answer's size cap holds in memory, the deadline holds over TLS however slowly the
bytes come, and a fleet thread's sessions keep one connection."""

import json
import re
import subprocess
import sys
import time
from contextlib import suppress
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests

from tests.environment import TEST_ENVIRONMENT, manage_environment
from xero import exceptions
from xero.client import XeroSession
from xero.connection import xero_session
from xero.transport import connections_kept, connections_kept_by_thread

from .conftest import CLIENT_ID, connections_made, tls_server


def organisation_url(settings):
    return settings.XERO_API_URL + "Organisation"


# How much memory reading an answer costs, measured in a process of its own (its peak
# resident size, from the ``resource`` module): the cap holds whatever arrives.
MEMORY_PROBE = """
import json, os, resource, sys
import django
django.setup()
import requests
from xero import exceptions
from xero.client import XeroSession

fake, token, kind, options = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
url = fake + "/api.xro/2.0/Organisation"
headers = {"Authorization": "Bearer " + token}
XeroSession().get(url, headers=headers)  # warm up: every module loaded, one answer read
requests.post(fake + "/_sandbox/failures", json={"kind": kind, **options}, timeout=5)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    XeroSession().get(url, headers=headers)
    outcome = "ok"
except exceptions.XeroError as error:
    outcome = error.code
grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"outcome": outcome, "grew_mib": grew / 1024}))
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("gzip_bomb", {"size": 400 << 20}),
        ("huge", {"size": 300 << 20, "declare_length": False}),
    ],
)
def test_an_oversized_answer_costs_no_more_memory_than_the_cap(
    fake_xero_settings, settings, kind, options
):
    from .conftest import CLIENT_SECRET, database_url_for_subprocess

    fake = fake_xero_settings
    fake.register_custom_connection(CLIENT_ID, CLIENT_SECRET)
    token = requests.post(
        fake.identity_url,
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "client_credentials"},
        timeout=5,
    ).json()["access_token"]
    env = manage_environment(
        **TEST_ENVIRONMENT
        | {
            "DJANGO_SETTINGS_MODULE": "warehouse.settings",
            "DATABASE_URL": database_url_for_subprocess(),
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "XERO_CONNECT_TIMEOUT": "5",
            "XERO_READ_TIMEOUT": "25",
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, fake.url, token, kind, json.dumps(options)],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])

    assert measured["outcome"] == "unexpected_response"
    # Hundreds of MiB arrived (the issue measured 665 MB and 1.46 GB before the cap).
    assert measured["grew_mib"] < 32


@pytest.fixture
def dripping_tls_server(tmp_path):
    """An HTTPS server whose headers arrive one byte every 0.2 s (Xero is reached over TLS)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the base class names it so
            answer = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
            )
            # The client hangs up at its deadline: that is the point.
            with suppress(OSError):
                for byte in answer:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)

        def log_message(self, *args):
            pass

    with tls_server(tmp_path, Handler, site_name="Slow Xero", site_code="slow") as address:
        yield f"{address}/api.xro/2.0/Organisation"


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_the_deadline_holds_over_tls_even_while_the_headers_drip(db, settings, dripping_tls_server):
    settings.XERO_CONNECT_TIMEOUT = 0.5
    settings.XERO_READ_TIMEOUT = 1
    session = XeroSession()
    started = time.monotonic()

    # The certificate is not the point here (test_tls_failure covers it): the deadline is.
    with pytest.raises(exceptions.XeroTimeout) as timeout:
        session.get(dripping_tls_server, verify=False)

    assert time.monotonic() - started < session.budget + 1
    (waited,) = re.findall(r"([\d.]+) seconds", timeout.value.message)
    assert 1.4 <= float(waited) <= 1.7


def test_sessions_opened_one_after_another_with_connections_kept_use_one_connection(
    private_site, fake_xero, settings
):
    with connections_kept():
        sessions = [xero_session(private_site) for _ in range(3)]
        for session in sessions:
            assert session.get(organisation_url(settings)).status_code == 200
        made = connections_made(sessions[-1])

    # The three requests, one after another, went through one connection.
    assert made == [(1, 3)]
    assert len(fake_xero.calls) == 3


def test_sessions_without_connections_kept_each_open_their_own(private_site, fake_xero, settings):
    sessions = [xero_session(private_site) for _ in range(2)]
    for session in sessions:
        session.get(organisation_url(settings))

    assert [connections_made(session) for session in sessions] == [[(1, 1)], [(1, 1)]]


def test_a_thread_keeping_its_connections_sends_every_run_through_one_and_closes_it_at_its_end(
    private_site, fake_xero, settings
):
    with connections_kept_by_thread():
        for _ in range(2):
            with connections_kept():
                session = xero_session(private_site)
                assert session.get(organisation_url(settings)).status_code == 200
        made = connections_made(session)
    closed = connections_made(session)

    # Two runs, one after the other, through one connection; closed with the block.
    assert made == [(1, 2)]
    assert closed == []


def test_a_run_without_a_thread_keeping_its_connections_closes_them_at_its_end(
    private_site, fake_xero, settings
):
    with connections_kept():
        session = xero_session(private_site)
        assert session.get(organisation_url(settings)).status_code == 200
        made = connections_made(session)

    assert made == [(1, 1)]
    assert connections_made(session) == []
