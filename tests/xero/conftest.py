"""Fixtures for everything that talks to Xero: a fake Xero over real HTTP."""

import ssl
import threading
import time
from contextlib import contextmanager
from http.server import ThreadingHTTPServer

import pytest
from django.db import connection, transaction

from xero import certificates
from xero.sandbox import FakeXero

from .connecting import connect


@pytest.fixture
def fake_xero():
    """A started fake Xero on a free port, stopped after the test."""
    with FakeXero(port=0) as fake:
        yield fake


@pytest.fixture
def fake_xero_settings(fake_xero, settings):
    """Point the XERO_*_URL settings at ``fake_xero``; returns the fake."""
    settings.XERO_API_URL = fake_xero.api_url
    settings.XERO_PAYROLL_URL = fake_xero.payroll_url
    settings.XERO_IDENTITY_URL = fake_xero.identity_url
    settings.XERO_CONNECTIONS_URL = fake_xero.connections_url
    return fake_xero


@contextmanager
def tls_server(tmp_path, handler, *, site_name, site_code):
    """An HTTPS server on 127.0.0.1 answering with ``handler`` under a certificate of its
    own, which nothing trusts; yields its address (``https://127.0.0.1:<port>``)."""
    issued = certificates.generate_certificate(site_name=site_name, site_code=site_code)
    (tmp_path / "cert.pem").write_text(issued.certificate_pem)
    (tmp_path / "key.pem").write_text(issued.private_key_pem)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


CLIENT_ID = "9F1E2D3C4B5A69788796A5B4C3D2E1F0"
CLIENT_SECRET = "custom-connection-secret-for-tests"


@pytest.fixture
def private_site(site, issue_certificate, fake_xero_settings):
    """The Acme Site as a private application, its certificate pasted into the fake Xero."""
    certificate = issue_certificate(site)
    fake_xero_settings.register_private_app(site.api_key, certificate.certificate_pem)
    return site


@pytest.fixture
def custom_site(make_site, fake_xero_settings):
    """A Custom Connection Site whose Client ID and Secret the fake Xero knows."""
    site = make_site(
        name="Custom Pty Ltd",
        code="custom",
        connection_type="custom_connection",
        api_key=CLIENT_ID,
        api_secret=CLIENT_SECRET,
    )
    fake_xero_settings.register_custom_connection(CLIENT_ID, CLIENT_SECRET)
    return site


def connections_made(session) -> list[tuple[int, int]]:
    """(connections opened, requests sent) of each of the session's connection pools."""
    pools = session.get_adapter("http://").poolmanager.pools
    # urllib3's container refuses iteration; keys() is its way.
    keys = pools.keys()  # noqa: SIM118
    return [(pools[key].num_connections, pools[key].num_requests) for key in keys]


def database_url_for_subprocess() -> str:
    """The DATABASE_URL of the test database, for a process started by a test."""
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    return f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


@pytest.fixture
def lock_held_elsewhere():
    """Hold a database lock from another connection (a thread) for ``seconds``."""
    threads = []

    def hold(seconds, *, statement=None):
        locked = threading.Event()

        def run():
            try:
                with transaction.atomic():
                    with connection.cursor() as cursor:
                        # SQLite's IMMEDIATE transactions hold the whole database's write
                        # lock from here; PostgreSQL locks what ``statement`` names.
                        cursor.execute(statement or "SELECT 1")
                    locked.set()
                    time.sleep(seconds)
            finally:
                connection.close()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert locked.wait(5)
        threads.append(thread)

    yield hold
    for thread in threads:
        thread.join()


def site_lock(site) -> str | None:
    """What ``lock_held_elsewhere`` runs to lock ``site``'s row (SQLite: the whole database)."""
    if connection.vendor == "postgresql":
        return f"SELECT * FROM sites_site WHERE id = {site.pk} FOR UPDATE"
    return None


# "Connect to Xero": the Warehouse's own Xero app, registered in the fake Xero.
WEB_APP_CLIENT_ID = "6A7B8C9D0E1F2A3B4C5D6E7F8A9B0C1D"
WEB_APP_CLIENT_SECRET = "warehouse-web-app-secret-for-tests"


@pytest.fixture
def web_app_xero(fake_xero_settings, settings):
    """The fake Xero with the Warehouse's web app registered (redirect URI of the test
    client's host) and a Xero user with two organisations; returns the fake."""
    fake = fake_xero_settings
    settings.XERO_APP_CLIENT_ID = WEB_APP_CLIENT_ID
    settings.XERO_APP_CLIENT_SECRET = WEB_APP_CLIENT_SECRET
    settings.XERO_AUTHORIZE_URL = fake.authorize_url
    settings.XERO_REVOCATION_URL = fake.revocation_url
    settings.XERO_JWKS_URL = fake.jwks_url
    fake.register_web_app(
        WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET, "http://testserver/xero/callback/"
    )
    fake.acme = fake.add_user_organisation("Acme Pty Ltd")
    fake.beta = fake.add_user_organisation("Beta Holdings")
    return fake


@pytest.fixture
def web_site(make_site, web_app_xero):
    """A "Connect to Xero" Site, not connected yet."""
    return make_site(name="Webby Pty Ltd", code="webby", connection_type="web_app")


@pytest.fixture
def connected_site(client_for, web_site, web_app_xero):
    """``web_site`` connected to Acme through the pages."""
    response = connect(client_for("staff"), web_app_xero, web_site, web_app_xero.acme)
    assert response.status_code == 302
    return web_site


@pytest.fixture
def fleet_check(settings):
    """``fleet_check()``: what the hourly ``xero_check_fleet`` and a worker do, in this
    thread (tasks recorded by the dummy backend, then run one by one)."""
    from django_tasks import default_task_backend

    from xero import pool
    from xero.tasks import check_chunk, fleet_checks_enqueue

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    settings.XERO_MAX_CONCURRENT_CALLS = 1
    settings.XERO_TEST_COOLDOWN = 0

    def fleet_check():
        default_task_backend.clear()
        fleet_checks_enqueue()
        for result in list(default_task_backend.results):
            check_chunk.call(chunk=result.kwargs["chunk"])

    yield fleet_check
    pool.shared.stop()


@pytest.fixture
def make_private_site(make_site, issue_certificate, fake_xero_settings):
    """Private-application Sites the fake Xero knows, one organisation each."""
    numbers = iter(range(10**6))

    def make_private_site(**fields):
        key = f"FLEETKEY{next(numbers):022d}"
        site = make_site(api_key=key, api_secret="s" * 30, payroll_enabled=False, **fields)
        fake_xero_settings.register_private_app(key, issue_certificate(site).certificate_pem)
        return site

    return make_private_site
