"""OAuth 1.0a private applications: the signature checks Xero made, with Xero's answers."""

import time
from urllib.parse import parse_qs

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC, SIGNATURE_TYPE_QUERY, Client

from .conftest import CONSUMER_KEY, JSON, oauth1_client, signed_get
from .keys import key_and_certificate


def problem(response) -> dict[str, str]:
    assert response.headers["Content-Type"].startswith("text/html")
    return {key: values[0] for key, values in parse_qs(response.text).items()}


def test_valid_rsa_sha1_signature_returns_the_organisation_as_json(fake_xero, signed):
    response = signed(fake_xero.api_url + "Organisation")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["Status"] == "OK"
    assert body["ProviderName"] == "ImagatecAPI"
    assert body["DateTimeUTC"].startswith("/Date(")
    (organisation,) = body["Organisations"]
    assert organisation["Name"] == "Demo Company (AU)"
    assert organisation["CountryCode"] == "AU"
    assert organisation["Version"] == "AU"
    assert organisation["OrganisationType"] == "COMPANY"


def test_valid_signature_without_accept_header_answers_xml_like_xero(fake_xero, signed):
    response = signed(fake_xero.api_url + "Organisation", headers={})

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    assert response.text.startswith("<Response")
    assert "<Organisations><Organisation><Name>Demo Company (AU)</Name>" in response.text


def test_signature_in_query_string_is_accepted(fake_xero, private_app, private_key):
    client = oauth1_client(private_key, signature_type=SIGNATURE_TYPE_QUERY)

    assert signed_get(fake_xero.api_url + "Organisation", client).status_code == 200


def test_query_parameters_are_part_of_the_signed_base_string(fake_xero, signed):
    response = signed(fake_xero.api_url + "Organisation?page=2&where=Name%3D%22A%20B%22")

    assert response.status_code == 200


def test_signature_from_a_different_key_is_signature_invalid(fake_xero, private_app):
    other_key = key_and_certificate("other")[0]

    response = signed_get(fake_xero.api_url + "Organisation", oauth1_client(other_key))

    assert response.status_code == 401
    assert problem(response) == {
        "oauth_problem": "signature_invalid",
        "oauth_problem_advice": "Failed to validate signature",
    }


def test_request_altered_after_signing_is_signature_invalid(fake_xero, private_app, private_key):
    uri, headers, _ = oauth1_client(private_key).sign(
        fake_xero.api_url + "Organisation", headers=JSON
    )

    response = requests.get(uri + "?page=2", headers=headers, timeout=5)

    assert problem(response)["oauth_problem"] == "signature_invalid"


def test_hmac_sha1_is_signature_method_rejected(fake_xero, private_app):
    client = Client(
        CONSUMER_KEY,
        client_secret="LLA9S8D7F6G5H4J3K2L1Q0W9E8R7QO",
        resource_owner_key=CONSUMER_KEY,
        resource_owner_secret="LLA9S8D7F6G5H4J3K2L1Q0W9E8R7QO",
        signature_method=SIGNATURE_HMAC,
    )

    response = signed_get(fake_xero.api_url + "Organisation", client)

    assert response.status_code == 400
    assert problem(response) == {
        "oauth_problem": "signature_method_rejected",
        "oauth_problem_advice": "Private applications must use the RSA-SHA1 signature method",
    }


def test_app_registered_without_certificate_is_signature_method_rejected(fake_xero, private_key):
    fake_xero.register_private_app(CONSUMER_KEY, None)

    response = signed_get(fake_xero.api_url + "Organisation", oauth1_client(private_key))

    assert response.status_code == 400
    assert problem(response) == {
        "oauth_problem": "signature_method_rejected",
        "oauth_problem_advice": "No certificates have been registered for the consumer",
    }


def test_unknown_consumer_key_is_consumer_key_unknown(fake_xero, private_app, private_key):
    client = oauth1_client(private_key, consumer_key="UNKNOWNKEY0000000000000000000X")

    response = signed_get(fake_xero.api_url + "Organisation", client)

    assert response.status_code == 401
    assert problem(response) == {
        "oauth_problem": "consumer_key_unknown",
        "oauth_problem_advice": "Consumer key was not recognised",
    }


def test_oauth_token_other_than_the_consumer_key_is_token_rejected(
    fake_xero, private_app, private_key
):
    client = oauth1_client(private_key)
    client.resource_owner_key = "SOMEOTHERTOKEN"

    response = signed_get(fake_xero.api_url + "Organisation", client)

    assert response.status_code == 401
    assert problem(response)["oauth_problem"] == "token_rejected"


def test_missing_oauth_token_is_token_rejected(fake_xero, private_app, private_key):
    client = oauth1_client(private_key)
    client.resource_owner_key = None

    response = signed_get(fake_xero.api_url + "Organisation", client)

    assert problem(response)["oauth_problem"] == "token_rejected"


def test_stale_timestamp_is_timestamp_refused_with_acceptable_range(fake_xero, signed):
    stale = str(int(time.time()) - 600)

    response = signed(fake_xero.api_url + "Organisation", timestamp=stale)

    assert response.status_code == 401
    details = problem(response)
    assert details["oauth_problem"] == "timestamp_refused"
    assert details["oauth_problem_advice"].startswith("The timestamp is too old")
    low, high = map(int, details["oauth_acceptable_timestamps"].split("-"))
    assert high - low == 600
    assert low <= time.time() <= high


def test_timestamp_in_the_future_is_timestamp_refused(fake_xero, signed):
    response = signed(fake_xero.api_url + "Organisation", timestamp=str(int(time.time()) + 900))

    details = problem(response)
    assert details["oauth_problem"] == "timestamp_refused"
    assert "too far in the future" in details["oauth_problem_advice"]


def test_clock_offset_makes_our_fresh_timestamp_stale_to_the_fake(fake_xero, signed):
    fake_xero.clock_offset = 400

    response = signed(fake_xero.api_url + "Organisation")

    details = problem(response)
    assert details["oauth_problem"] == "timestamp_refused"
    low, _ = map(int, details["oauth_acceptable_timestamps"].split("-"))
    assert low > time.time()


def test_small_clock_skew_within_five_minutes_is_accepted(fake_xero, signed):
    fake_xero.clock_offset = -240

    assert signed(fake_xero.api_url + "Organisation").status_code == 200


def test_reused_nonce_is_nonce_used(fake_xero, signed):
    first = signed(fake_xero.api_url + "Organisation", nonce="abc123nonce")
    second = signed(fake_xero.api_url + "Organisation", nonce="abc123nonce")

    assert first.status_code == 200
    assert second.status_code == 401
    assert problem(second) == {
        "oauth_problem": "nonce_used",
        "oauth_problem_advice": 'The nonce value "abc123nonce" has already been used',
    }


def test_forged_request_does_not_use_up_the_nonce(fake_xero, private_app, private_key):
    forged = oauth1_client(key_and_certificate("other")[0], nonce="samenonce")
    genuine = oauth1_client(private_key, nonce="samenonce")

    assert signed_get(fake_xero.api_url + "Organisation", forged).status_code == 401
    assert signed_get(fake_xero.api_url + "Organisation", genuine).status_code == 200


def test_missing_oauth_parameters_are_parameter_absent(fake_xero, private_app):
    header = f'OAuth oauth_consumer_key="{CONSUMER_KEY}", oauth_signature_method="RSA-SHA1"'

    response = requests.get(
        fake_xero.api_url + "Organisation", headers={"Authorization": header}, timeout=5
    )

    assert response.status_code == 400
    details = problem(response)
    assert details["oauth_problem"] == "parameter_absent"
    assert details["oauth_parameters_absent"] == "oauth_signature&oauth_timestamp&oauth_nonce"


def test_payroll_pay_items_answer_json_for_a_payroll_enabled_app(fake_xero, signed):
    response = signed(fake_xero.payroll_url + "PayItems")

    assert response.status_code == 200
    assert response.json()["PayItems"]["EarningsRates"][0]["Name"] == "Ordinary Hours"


def test_payroll_settings_answer_json_for_a_payroll_enabled_app(fake_xero, signed):
    response = signed(fake_xero.payroll_url + "Settings")

    assert response.status_code == 200
    assert "Accounts" in response.json()["Settings"]


def test_payroll_not_enabled_is_401_permission_denied(fake_xero, private_key):
    fake_xero.register_private_app(CONSUMER_KEY, key_and_certificate()[1], payroll_enabled=False)
    client = oauth1_client(private_key)

    accounting = signed_get(fake_xero.api_url + "Organisation", client)
    payroll = signed_get(fake_xero.payroll_url + "PayItems", client)

    assert accounting.status_code == 200
    assert payroll.status_code == 401
    assert problem(payroll) == {
        "oauth_problem": "permission_denied",
        "oauth_problem_advice": "The consumer was denied access to this resource.",
    }


def test_request_without_any_authorization_is_401(fake_xero, private_app):
    response = requests.get(fake_xero.api_url + "Organisation", headers=JSON, timeout=5)

    assert response.status_code == 401
    assert response.json()["Detail"] == "AuthenticationUnsuccessful"


def test_calls_record_the_consumer_key_and_status(fake_xero, signed):
    signed(fake_xero.api_url + "Organisation")
    signed(fake_xero.api_url + "Organisation", nonce="n1")
    signed(fake_xero.api_url + "Organisation", nonce="n1")

    calls = fake_xero.calls
    assert [(c.method, c.path, c.client_id, c.status) for c in calls] == [
        ("GET", "/api.xro/2.0/Organisation", CONSUMER_KEY, 200),
        ("GET", "/api.xro/2.0/Organisation", CONSUMER_KEY, 200),
        ("GET", "/api.xro/2.0/Organisation", CONSUMER_KEY, 401),
    ]
