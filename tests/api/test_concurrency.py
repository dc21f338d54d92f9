"""The access-token promise with real processes: twenty concurrent calls spread over several
Warehouse server processes, against a fake Xero whose access token has just expired, make
exactly one refresh, and every caller gets the same working token."""

import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.xero.conftest import WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET
from tests.xero.connecting import connect, expire
from tests.xero.workers import ROOT, worker_environment
from xero.models import TokenSet

SERVERS = 4
CALLERS = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(environment: dict, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runserver",
            f"127.0.0.1:{port}",
            "--noreload",
            "--skip-checks",
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _serve(environment: dict) -> tuple[int, subprocess.Popen]:
    """A started server and its port; a port taken meanwhile by another process (the free
    port is only free when asked) is tried again with another."""
    for _ in range(3):
        port = _free_port()
        process = _start_server(environment, port)
        if _wait_until_serving(port, process):
            return port, process
    raise AssertionError(f"no server would start: {process.stderr.read()}")


def _wait_until_serving(port: int, process: subprocess.Popen) -> bool:
    give_up = time.monotonic() + 120
    while time.monotonic() < give_up:
        if process.poll() is not None:
            return False
        try:
            requests.get(f"http://127.0.0.1:{port}/api/v1/schema/", timeout=5)
            return True
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError("the server never answered")


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_calls_from_several_processes_make_exactly_one_refresh(
    client_for, web_site, web_app_xero, make_credential
):
    connect(client_for("staff"), web_app_xero, web_site, web_app_xero.acme)
    _, secret = make_credential("credentials")
    expire(web_app_xero)
    # The refresh takes a while at Xero, so every other caller arrives while it is out.
    web_app_xero.latency = 0.3
    environment = worker_environment(
        web_app_xero,
        XERO_APP_CLIENT_ID=WEB_APP_CLIENT_ID,
        XERO_APP_CLIENT_SECRET=WEB_APP_CLIENT_SECRET,
        XERO_REVOCATION_URL=web_app_xero.revocation_url,
        API_RATE_LIMIT_PER_MINUTE="1000",
    )
    ports, servers = [], []
    try:
        for _ in range(SERVERS):
            port, server = _serve(environment)
            ports.append(port)
            servers.append(server)
        start = threading.Barrier(CALLERS)
        answers: list = []

        def call(number: int) -> None:
            port = ports[number % SERVERS]
            start.wait()
            try:
                response = requests.post(
                    f"http://127.0.0.1:{port}/api/v1/sites/{web_site.code}/xero/access-token",
                    headers={"Authorization": f"Bearer {secret}"},
                    timeout=60,
                )
                answers.append((response.status_code, response.json()))
            except Exception as error:  # reported below
                answers.append((None, repr(error)))

        callers = [threading.Thread(target=call, args=(n,)) for n in range(CALLERS)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join()
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=10)

    assert [status for status, _ in answers] == [200] * CALLERS, answers
    tokens = {body["access_token"] for _, body in answers}
    stored = TokenSet.objects.get()
    assert web_app_xero.refresh_count == 1
    assert tokens == {stored.access_token}
    organisation = requests.get(
        web_app_xero.api_url + "Organisation",
        headers={
            "Authorization": f"Bearer {stored.access_token}",
            "Xero-Tenant-Id": web_app_xero.acme.tenant_id,
            "Accept": "application/json",
        },
        timeout=5,
    )
    assert organisation.status_code == 200, organisation.text
