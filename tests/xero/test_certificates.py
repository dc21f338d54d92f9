"""The certificates are checked with the `openssl` command-line tool, not only with our code."""

import base64
import datetime
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from xero import certificates

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)


def openssl(*args, input: bytes | None = None) -> str:
    result = subprocess.run(["openssl", *args], input=input, capture_output=True, check=True)
    return result.stdout.decode()


@pytest.fixture(scope="module")
def issued():
    return certificates.generate_certificate(
        site_name="Acme Pty Ltd", site_code="acme", key_size=2048, days=1825, now=NOW
    )


def test_openssl_parses_the_certificate_with_the_asked_properties(issued):
    text = openssl("x509", "-noout", "-text", input=issued.certificate_pem.encode())
    assert "Public-Key: (2048 bit)" in text
    assert "Signature Algorithm: sha256WithRSAEncryption" in text
    assert "CA:FALSE" in text
    assert "X509v3 Basic Constraints: critical" in text
    assert "CN = ImagatecAPI" in text and "O = Acme Pty Ltd" in text and "OU = acme" in text


def test_openssl_reads_five_years_of_validity_from_now(issued):
    dates = openssl("x509", "-noout", "-dates", input=issued.certificate_pem.encode())
    assert "notBefore=Nov 25 12:00:00 2026 GMT" in dates
    assert "notAfter=Nov 24 12:00:00 2031 GMT" in dates  # 1825 days, a leap day between


def test_fingerprints_match_what_openssl_prints(issued):
    for algorithm in ("sha1", "sha256"):
        printed = openssl(
            "x509", "-noout", "-fingerprint", f"-{algorithm}", input=issued.certificate_pem.encode()
        )
        assert printed.strip().split("=", 1)[1] == certificates.fingerprint(
            issued.certificate_pem, algorithm
        )


def test_openssl_verifies_a_signature_made_with_the_private_key(issued, tmp_path):
    message = b"GET&https%3A%2F%2Fapi.xero.com%2Fapi.xro%2F2.0%2FOrganisation&oauth_nonce%3D1"
    key = serialization.load_pem_private_key(issued.private_key_pem.encode(), password=None)
    (tmp_path / "message").write_bytes(message)
    # RSA-SHA1 is what OAuth 1.0a private applications sign with.
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    (tmp_path / "signature").write_bytes(signature)
    (tmp_path / "public.pem").write_text(
        openssl("x509", "-noout", "-pubkey", input=issued.certificate_pem.encode())
    )
    verified = openssl(
        "dgst", "-sha1", "-verify", str(tmp_path / "public.pem"),
        "-signature", str(tmp_path / "signature"), str(tmp_path / "message"),
    )  # fmt: skip
    assert verified.strip() == "Verified OK"


def test_serials_are_random_and_positive():
    serials = {
        certificates.load_certificate(
            certificates.generate_certificate(site_name="A", site_code="a").certificate_pem
        ).serial_number
        for _ in range(3)
    }
    assert len(serials) == 3
    assert all(serial > 0 for serial in serials)


def test_a_4096_bit_key_can_be_asked_for():
    issued = certificates.generate_certificate(site_name="A", site_code="a", key_size=4096)
    assert "Public-Key: (4096 bit)" in openssl(
        "x509", "-noout", "-text", input=issued.certificate_pem.encode()
    )


def test_a_long_site_name_is_cut_to_the_x509_limit():
    issued = certificates.generate_certificate(site_name="N" * 200, site_code="long")
    text = openssl("x509", "-noout", "-subject", input=issued.certificate_pem.encode())
    assert "O = " + "N" * 64 + "," in text


@pytest.mark.parametrize(("key_size", "days"), [(1024, 365), (2048, 0), (2048, 3651)])
def test_bad_sizes_and_validity_are_refused(key_size, days):
    with pytest.raises(ValueError):
        certificates.generate_certificate(
            site_name="A", site_code="a", key_size=key_size, days=days
        )


def test_the_pem_is_the_base64_block_xero_asks_for(issued):
    lines = issued.certificate_pem.strip().splitlines()
    assert lines[0] == "-----BEGIN CERTIFICATE-----"
    assert lines[-1] == "-----END CERTIFICATE-----"
    base64.b64decode("".join(lines[1:-1]), validate=True)
