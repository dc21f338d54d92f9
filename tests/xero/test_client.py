"""xero/client.py against the fake Xero over real HTTP: signing, tokens, errors, timeouts, slots."""

import base64
import re
import shutil
import subprocess
import threading
import time
from urllib.parse import parse_qsl, unquote

import pytest
import requests
from django.db import connection
from oauthlib.oauth1.rfc5849 import signature as oauth1_signature

from xero import exceptions
from xero.client import XeroSession, error_from_response, oauth1_auth
from xero.connection import CustomConnection, xero_session
from xero.models import CallSlot, Certificate


def organisation_url(settings):
    return settings.XERO_API_URL + "Organisation"


def test_private_app_request_is_signed_rsa_sha1_with_the_consumer_key_as_token(
    private_site, settings
):
    session = xero_session(private_site)
    response = session.get(organisation_url(settings))
    header = response.request.headers["Authorization"].decode()
    params = dict(oauth1_signature.collect_parameters(headers={"Authorization": header}))
    assert params["oauth_signature_method"] == "RSA-SHA1"
    assert params["oauth_consumer_key"] == params["oauth_token"] == private_site.api_key
    assert response.json()["Organisations"][0]["Name"] == "Demo Company (AU)"


def test_openssl_verifies_our_signature_against_the_downloaded_certificate(
    private_site, settings, client_for, tmp_path
):
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl")
    certificate = Certificate.objects.get(site=private_site)
    download = client_for("admins").get(
        f"/sites/{private_site.code}/xero/certificates/{certificate.pk}/publickey.cer"
    )
    (tmp_path / "cert.pem").write_bytes(download.content)
    request = xero_session(private_site).prepare_request(
        requests.Request("GET", organisation_url(settings) + "?page=1")
    )
    header = request.headers["Authorization"].decode()
    params = oauth1_signature.collect_parameters(
        uri_query="page=1", headers={"Authorization": header}, exclude_oauth_signature=True
    )
    base_string = oauth1_signature.signature_base_string(
        "GET",
        oauth1_signature.base_string_uri(request.url),
        oauth1_signature.normalize_parameters(params),
    )
    signature = dict(
        oauth1_signature.collect_parameters(
            headers={"Authorization": header}, exclude_oauth_signature=False
        )
    )["oauth_signature"]
    (tmp_path / "base").write_text(base_string)
    (tmp_path / "sig").write_bytes(base64.b64decode(unquote(signature)))
    pubkey = subprocess.run(
        ["openssl", "x509", "-noout", "-pubkey", "-in", str(tmp_path / "cert.pem")],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    (tmp_path / "pub.pem").write_bytes(pubkey)
    verified = subprocess.run(
        ["openssl", "dgst", "-sha1", "-verify", str(tmp_path / "pub.pem"),
         "-signature", str(tmp_path / "sig"), str(tmp_path / "base")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert verified.stdout.strip() == "Verified OK"


@pytest.mark.parametrize("tamper", ["path", "query", "host"])
def test_the_fake_xero_refuses_a_request_changed_after_signing(private_site, settings, tamper):
    session = xero_session(private_site)
    url = organisation_url(settings) + "?where=Name"
    prepared = session.prepare_request(requests.Request("GET", url))
    if tamper == "path":
        prepared.url = settings.XERO_PAYROLL_URL + "Settings?where=Name"
    elif tamper == "query":
        prepared.url = prepared.url.replace("where=Name", "where=Other")
    else:
        prepared.url = prepared.url.replace("127.0.0.1", "localhost")
    response = requests.Session().send(prepared, timeout=5)
    assert response.status_code == 401
    assert dict(parse_qsl(response.text))["oauth_problem"] == "signature_invalid"


def test_the_fake_xero_refuses_a_signature_by_another_key(
    private_site, make_site, issue_certificate, settings
):
    other = issue_certificate(make_site())
    session = xero_session(private_site)
    signer = oauth1_auth(consumer_key=private_site.api_key, certificate=other)
    with pytest.raises(exceptions.SignatureInvalid) as error:
        session.get_json(organisation_url(settings), auth=signer)
    assert error.value.http_status == 401
    assert error.value.problem == "signature_invalid: Failed to validate signature"


def test_an_expired_token_a_type_cannot_renew_is_reported_as_expired(
    custom_site, fake_xero, settings
):
    def authenticate(session, *, renew=False):
        return None if renew else CustomConnection(custom_site).authenticate(session)

    session = XeroSession(site=custom_site, authenticate=authenticate)
    fake_xero.expire_tokens()
    with pytest.raises(exceptions.TokenExpired) as error:
        session.get_json(organisation_url(settings))
    assert error.value.problem.startswith("TokenExpired: token expired at")


def test_timeouts_come_from_settings_and_bound_the_whole_session(private_site, fake_xero, settings):
    settings.XERO_CONNECT_TIMEOUT = 0.2
    settings.XERO_READ_TIMEOUT = 0.3
    fake_xero.fail_next("slow", count=3, seconds=2)
    session = xero_session(private_site)
    for _ in range(3):
        with pytest.raises(exceptions.XeroTimeout) as error:
            session.get_json(organisation_url(settings))
        # One number, the true wait: at most the session's 0.5 s (and a scheduling slip).
        (waited,) = re.findall(r"([\d.]+) seconds", error.value.message)
        assert 0.2 <= float(waited) <= 0.6
    # The session as a whole had 0.2 + 0.3 s: the first call (cut at its 0.3 s read
    # timeout) and the second (given what was left) spent them, and the third was never
    # sent. Xero holds each slow call 2 s, so every call sent was in flight at once.
    assert fake_xero.max_concurrent <= 2


def test_the_base_urls_are_read_from_settings_at_call_time(private_site, fake_xero, settings):
    xero_session(private_site).get_json(organisation_url(settings))
    assert [call.path for call in fake_xero.calls] == ["/api.xro/2.0/Organisation"]


class FakeResponse(requests.Response):
    def __init__(self, status, body="", headers=None):
        super().__init__()
        self.status_code = status
        self._content = body.encode()
        self.headers.update(headers or {})


@pytest.mark.parametrize(
    ("status", "body", "headers", "outcome"),
    [
        (401, "oauth_problem=consumer_key_unknown", {}, exceptions.ConsumerKeyUnknown),
        (400, "oauth_problem=no_certificate", {}, exceptions.SignatureMethodRejected),
        (401, "oauth_problem=token_rejected", {}, exceptions.TokenRejected),
        (401, "oauth_problem=weird_new_problem", {}, exceptions.XeroProblem),
        (503, "oauth_problem=rate%20limit%20exceeded", {}, exceptions.RateLimited),
        (429, "", {"Retry-After": "12", "X-Rate-Limit-Problem": "day"}, exceptions.RateLimited),
        (403, '{"Detail": "AuthenticationUnsuccessful"}', {}, exceptions.Forbidden),
        (502, "<html>Bad gateway</html>", {}, exceptions.XeroUnavailable),
        (404, "The resource you're looking for cannot be found", {}, exceptions.XeroProblem),
    ],
)  # fmt: skip
def test_xeros_answers_map_to_one_outcome_each(status, body, headers, outcome):
    assert type(error_from_response(FakeResponse(status, body, headers))) is outcome


@pytest.mark.parametrize(
    "retry_after", ["-5", "0", "1e5", "soon", str(10**30), "86401", "9" * 5000]
)
def test_a_retry_after_that_is_no_whole_number_of_seconds_up_to_a_day_is_unknown(retry_after):
    error = error_from_response(FakeResponse(429, "", {"Retry-After": retry_after}))

    assert type(error) is exceptions.RateLimited and error.retry_after is None
    assert error.message.endswith("Wait a minute, then test again.")


def test_a_retry_after_of_a_day_is_a_wait_of_a_day():
    error = error_from_response(FakeResponse(429, "", {"Retry-After": "86400"}))

    assert error.retry_after == 86_400 and error.message.endswith("Test again in 1 day.")


def test_an_unknown_limit_is_named_in_at_most_40_printable_characters():
    error = error_from_response(
        FakeResponse(429, "", {"X-Rate-Limit-Problem": "Weekly\x1b[31m" + "x" * 500})
    )

    named = "Weekly [31m" + "x" * 29  # the escape character made a space
    assert f"Xero's {named} call limit was reached." in error.message


def test_an_unknown_problem_still_shows_xeros_own_words():
    error = error_from_response(
        FakeResponse(401, "oauth_problem=weird_new_problem&oauth_problem_advice=ask+us")
    )
    assert "weird_new_problem: ask us" in error.message


def test_a_plain_session_sends_json_accept_and_no_secret(settings):
    session = XeroSession()
    assert session.headers["Accept"] == "application/json"
    assert session.auth is None


@pytest.mark.django_db(transaction=True)
def test_a_call_slot_lease_outlives_the_call_it_guards(private_site, fake_xero, settings):
    settings.XERO_CONNECT_TIMEOUT = 0.5
    settings.XERO_READ_TIMEOUT = 1
    fake_xero.fail_next("drip", interval=0.2)
    session = xero_session(private_site)
    leases, stop = [], threading.Event()

    def watch_the_slots():
        # Another connection, as another process would see the slots.
        try:
            while not stop.is_set():
                leases.extend(
                    CallSlot.objects.filter(key__contains=":concurrent:").values_list(
                        "expires_at", flat=True
                    )
                )
                time.sleep(0.05)
        finally:
            connection.close()

    watcher = threading.Thread(target=watch_the_slots)
    watcher.start()
    try:
        with pytest.raises(exceptions.XeroTimeout):
            session.get(organisation_url(settings))
        ended = time.time()
    finally:
        stop.set()
        watcher.join()

    # While the call lasted, no other caller could take its slot: the lease ran past its end.
    assert leases and min(leases) > ended
    # It timed out, so Xero may still be answering it: its slots stay taken as long as Xero
    # may go on (issue 29), and then lapse.
    kept = CallSlot.objects.filter(key__contains=":concurrent:", expires_at__gt=time.time())
    assert kept.count() == 2  # the Site's and the global one
    assert min(kept.values_list("expires_at", flat=True)) >= (
        ended + settings.XERO_ABANDONED_CALL_SECONDS - 1
    )
