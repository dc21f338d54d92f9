"""xero/connection/private_app.py against the fake Xero: which certificate signs each call."""

import pytest

from xero import exceptions
from xero.connection import PrivateApp
from xero.services import certificate_issue


def test_the_pending_certificate_signs_first_then_the_active_one(private_site, fake_xero):
    active = private_site.certificates.get()
    certificate_issue(site=private_site)
    conversation = PrivateApp(private_site)
    result = conversation.run()
    # Xero still has the active one: the pending one is refused, the active one signs the
    # Organisation and then the payroll call.
    assert result["payroll_outcome"] == "ok"
    assert conversation.certificate == active
    assert [call.path for call in fake_xero.calls] == [
        "/api.xro/2.0/Organisation", "/api.xro/2.0/Organisation", "/payroll.xro/1.0/Settings"
    ]  # fmt: skip


def test_signature_invalid_is_raised_once_naming_every_certificate_tried(
    site, issue_certificate, make_site, fake_xero_settings, monkeypatch
):
    active = issue_certificate(site)
    pending = issue_certificate(site)
    fake_xero_settings.register_private_app(
        site.api_key, issue_certificate(make_site()).certificate_pem
    )
    built = []
    init = exceptions.SignatureInvalid.__init__
    monkeypatch.setattr(
        exceptions.SignatureInvalid,
        "__init__",
        lambda self, **kwargs: built.append(kwargs) or init(self, **kwargs),
    )
    with pytest.raises(exceptions.SignatureInvalid) as error:
        PrivateApp(site).run()
    assert len(built) == 1
    assert error.value.certificates == [pending, active]
    for certificate in (pending, active):
        assert certificate.fingerprint_sha1 in error.value.message
        assert certificate.fingerprint_sha256 in error.value.message
    assert error.value.http_status == 401


def test_a_private_app_cannot_renew_its_token(private_site):
    conversation = PrivateApp(private_site)
    session = conversation.open()
    assert conversation.authenticate(session, renew=True) is None
