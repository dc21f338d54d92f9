"""xero/connection/: one conversation object per connection type, behind one interface."""

import pytest

from sites.models import Site
from xero import exceptions
from xero.connection import TYPES, Connection, connection_for, xero_session

from ..conftest import CLIENT_ID


def test_every_connection_type_has_its_conversation():
    assert set(TYPES) == set(Site.ConnectionType.values)
    for connection_type, cls in TYPES.items():
        assert issubclass(cls, Connection) and cls.type == connection_type
        assert cls.payroll_not_enabled


def test_the_site_picks_its_type(private_site, custom_site):
    assert connection_for(private_site).type == "private_app"
    assert connection_for(custom_site).type == "custom_connection"


def test_a_pass_returns_the_history_fields_and_the_calls_left(private_site):
    conversation = connection_for(private_site)
    result = conversation.run()
    assert result["organisation_name"] == "Demo Company (AU)"
    assert result["payroll_outcome"] == "ok"
    assert conversation.calls_left() == (58, 4998)


def test_nothing_asked_nothing_left_to_say(make_site):
    conversation = connection_for(make_site())
    with pytest.raises(exceptions.CredentialsMissing):
        conversation.run()
    assert conversation.calls_left() == (None, None)


def test_a_session_needs_the_key_and_secret_first(make_site):
    with pytest.raises(exceptions.CredentialsMissing) as error:
        xero_session(make_site(api_key=CLIENT_ID))
    assert "no API Secret yet" in error.value.message


def test_a_private_app_needs_a_certificate(site):
    with pytest.raises(exceptions.CertificateMissing):
        xero_session(site)
