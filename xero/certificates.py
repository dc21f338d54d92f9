"""Issue and read the X509 certificates a Site pastes into Xero, with `cryptography` only."""

import contextvars
import datetime
from contextlib import contextmanager
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

APPLICATION_NAME = "ImagatecAPI"
KEY_SIZES = (2048, 4096)
# How the forms and messages name the choice: "2048 or 4096".
KEY_SIZES_TEXT = " or ".join(str(size) for size in KEY_SIZES)
MAX_VALIDITY_DAYS = 3650
# RFC 5280 caps organisationName and commonName at 64 characters.
_NAME_LIMIT = 64


@dataclass(frozen=True)
class IssuedCertificate:
    certificate_pem: str
    private_key_pem: str


def generate_certificate(
    *,
    site_name: str,
    site_code: str,
    key_size: int = 2048,
    days: int = 1825,
    now: datetime.datetime | None = None,
) -> IssuedCertificate:
    """Make an RSA key pair and a self-signed, SHA-256 signed, non-CA certificate.

    The subject names the application (CN=ImagatecAPI) and the Site (O=name, OU=code).
    """
    if key_size not in KEY_SIZES:
        raise ValueError(f"key_size must be one of {KEY_SIZES}")
    if not 1 <= days <= MAX_VALIDITY_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_VALIDITY_DAYS}")
    now = now or datetime.datetime.now(datetime.UTC)
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, APPLICATION_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, site_name[:_NAME_LIMIT] or site_code),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, site_code[:_NAME_LIMIT]),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False
        )
        .sign(private_key, hashes.SHA256())
    )
    return IssuedCertificate(
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        private_key_pem=private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii"),
    )


def load_certificate(certificate_pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))


def fingerprint(certificate_pem: str, algorithm: str = "sha256") -> str:
    """Colon-separated upper-case hex, the way `openssl x509 -fingerprint` prints it."""
    # Xero's app page shows the SHA-1 fingerprint; it identifies, it does not protect.
    algorithms = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256()}  # noqa: S303
    digest = load_certificate(certificate_pem).fingerprint(algorithms[algorithm])
    return ":".join(f"{byte:02X}" for byte in digest)


_LOADED_KEYS_LIMIT = 200
# Keys already loaded in this block of work (see keys_loaded_once), by their PEM text.
_loaded_keys: contextvars.ContextVar[dict[str, rsa.RSAPrivateKey] | None] = contextvars.ContextVar(
    "xero_loaded_keys", default=None
)


@contextmanager
def keys_loaded_once():
    """Within this block, each private key is parsed once, however many requests it signs.

    A fleet chunk signs with each Site's key once or twice; parsing the PEM costs more
    than the signature. The keys are held only for the block, never beyond it.
    """
    token = _loaded_keys.set({})
    try:
        yield
    finally:
        _loaded_keys.reset(token)


def load_private_key(private_key_pem: str) -> rsa.RSAPrivateKey:
    """The private key to sign requests with.

    RSA's consistency checks (about 25 ms a key, most of a connection test's own time) are
    skipped: the key was made by ``generate_certificate`` and Fernet authenticates it at
    rest, so it cannot be a malformed key from outside.
    """
    loaded = _loaded_keys.get()
    if loaded is not None and private_key_pem in loaded:
        return loaded[private_key_pem]
    key = serialization.load_pem_private_key(
        private_key_pem.encode("ascii"), password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        # Xero signs with RSA only; ``generate_certificate`` makes nothing else.
        raise TypeError(f"Not an RSA private key: {type(key).__name__}.")
    if loaded is not None:
        if len(loaded) >= _LOADED_KEYS_LIMIT:
            loaded.clear()  # a long run holds a chunk's keys or so, not the fleet's
        loaded[private_key_pem] = key
    return key
